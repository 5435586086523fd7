import Testing
import TroveCore

/// Restore's lanes take files one folder after another, so they do not queue on one folder.
struct FolderInterleaveTests {
    @Test func takesOneFileFromEachFolderInTurn() {
        let paths = ["/r/a/1", "/r/a/2", "/r/a/3", "/r/b/1", "/r/b/2", "/r/c/1"]
        #expect(folderInterleaved(paths).map { paths[$0] } == ["/r/a/1", "/r/b/1", "/r/c/1", "/r/a/2", "/r/b/2", "/r/a/3"])
    }

    @Test func oneFolderKeepsItsOrder() {
        let paths = (0..<50).map { "/r/a/f\($0)" }
        #expect(folderInterleaved(paths) == Array(0..<50))
        #expect(folderInterleaved([]).isEmpty)
        #expect(folderInterleaved(["name-without-folder", "/top"]) == [0, 1])
    }

    /// Random batches: every file exactly once, each folder's files in their order, and no two
    /// neighbours share a folder until only one folder has files left.
    @Test func isAPermutationThatSpreadsFolders() {
        var random = SplitMix64(seed: 29)
        for _ in 0..<200 {
            let count = Int(random.next() % 300)
            let paths = (0..<count).map { index in "/dest/d\(random.next() % 7)/e\(random.next() % 3)/f\(index)" }
            let order = folderInterleaved(paths)
            #expect(order.sorted() == Array(0..<count))
            let folder = { (index: Int) in String(paths[index].split(separator: "/").dropLast().joined(separator: "/")) }
            var last: [String: Int] = [:]
            for index in order {
                #expect(last[folder(index)].map { $0 < index } ?? true)
                last[folder(index)] = index
            }
            // Files left per folder after each position; neighbours may share a folder only
            // once every other folder has run out.
            var left = Dictionary(grouping: order, by: folder).mapValues(\.count)
            for (position, index) in order.enumerated() {
                left[folder(index), default: 0] -= 1
                guard position + 1 < order.count, folder(order[position + 1]) == folder(index) else { continue }
                #expect(left.filter { $0.key != folder(index) && $0.value > 0 }.isEmpty)
            }
        }
    }
}

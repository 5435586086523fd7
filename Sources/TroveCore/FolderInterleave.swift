import Foundation

/// The order in which a restore's lanes take a batch of files: one file from each folder in
/// turn, each folder's files in their own order. Lanes take consecutive files, so lanes then
/// create and rename files in different folders instead of queueing (and spinning) on one
/// folder's lock, which took a sixth of a 100,000-file restore's CPU on two cores
/// (Benchmarks/RESULTS.md, issue 14). `paths` are the files' targets; the result is a
/// permutation of their indices.
public func folderInterleaved(_ paths: [String]) -> [Int] {
    var slots: [Substring: Int] = [:]
    var queues: [[Int]] = []
    for (index, path) in paths.enumerated() {
        let folder = path.lastIndex(of: "/").map { path[..<$0] } ?? ""
        if let slot = slots[folder] {
            queues[slot].append(index)
        } else {
            slots[folder] = queues.count
            queues.append([index])
        }
    }
    var order: [Int] = []
    order.reserveCapacity(paths.count)
    var active = Array(queues.indices)
    var round = 0
    while !active.isEmpty {
        active.removeAll { queues[$0].count <= round }
        for slot in active { order.append(queues[slot][round]) }
        round += 1
    }
    return order
}

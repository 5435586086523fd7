import TroveCore
import TroveStorage

/// Encodes an object as it streams in: each full segment is split into k blocks and the shares
/// this writer was given (member, share number) get their block at once, so memory holds one
/// segment. At commit every share gets its hash list and footer and is committed on its member;
/// the object counts only when the shares sit on `happy` distinct failure domains. A member
/// that fails is dropped and the others go on.
final class GridWriter: ObjectWriter {
    struct Target {
        let member: Int
        let share: Int
        var writer: (any ObjectWriter)?
        var hashes: [UInt8] = []
        var error: Error?
    }

    let grid: GridStore
    let id: ContentID?
    let happy: Int
    private(set) var targets: [Target]
    /// One segment at most; no bigger than the object when its size is known (a batch of small
    /// objects then holds small buffers), and freed once the object is finished.
    private var buffer: [UInt8]
    private var filled = 0
    private var size: UInt64 = 0
    private var segments = 0
    /// Members whose share was committed.
    private(set) var committed: [Int] = []

    init(grid: GridStore, id: ContentID?, targets: [(member: Int, share: Int)], happy: Int, expectedSize: UInt64? = nil) throws {
        self.grid = grid
        self.id = id
        self.happy = happy
        buffer = [UInt8](repeating: 0, count: Int(min(UInt64(grid.segmentSize), max(1, expectedSize ?? UInt64(grid.segmentSize)))))
        let shareSize = expectedSize.map {
            GridShareHeader(k: grid.config.k, n: grid.config.n, share: 0, segmentSize: grid.segmentSize, objectSize: $0,
                            objectID: ContentID(bytes: [UInt8](repeating: 0, count: 32))!).shareSize
        }
        self.targets = targets.map { target in
            do {
                let store = try grid.sharesForWriting(target.member)
                return Target(member: target.member, share: target.share, writer: try store.makeWriter(for: id, expectedSize: shareSize))
            } catch {
                return Target(member: target.member, share: target.share, writer: nil, error: error)
            }
        }
        if live == 0 { throw firstError ?? StoreError(.unavailable, "No grid member could take a share.") }
    }

    var live: Int { targets.filter { $0.writer != nil }.count }
    private var firstError: Error? { targets.compactMap(\.error).first }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            if filled == buffer.count && buffer.count < grid.segmentSize {
                // More than the expected size arrived: grow to a whole segment.
                buffer += [UInt8](repeating: 0, count: grid.segmentSize - buffer.count)
            }
            let count = min(bytes.count - offset, buffer.count - filled)
            buffer.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: filled).copyMemory(from: bytes.baseAddress!.advanced(by: offset), byteCount: count) }
            filled += count
            offset += count
            size += UInt64(count)
            if filled == grid.segmentSize { try encodeSegment() }
        }
    }

    /// Encodes the buffered segment and hands each share its block.
    private func encodeSegment() throws {
        let blocks = grid.split(buffer[0..<filled])
        let wanted = targets.filter { $0.writer != nil }.map(\.share)
        let shares = try grid.codec.encode(blocks, shares: wanted)
        var next = 0
        for index in targets.indices where targets[index].writer != nil {
            let block = shares[next]
            next += 1
            let hash = block.withUnsafeBytes { GridShareHeader.blockHash(share: targets[index].share, segment: segments, $0) }
            do {
                try block.withUnsafeBytes { try targets[index].writer!.write($0) }
                targets[index].hashes += hash
            } catch { drop(index, error) }
        }
        segments += 1
        filled = 0
        if live == 0 { throw firstError ?? StoreError(.unavailable, "Every grid member failed.") }
    }

    private func drop(_ index: Int, _ error: Error) {
        targets[index].writer?.abort()
        targets[index].writer = nil
        targets[index].error = error
    }

    /// Encodes what is left and gives every live share its hash list and footer; returns the
    /// member writers ready to commit under `id`.
    func finish(as id: ContentID) throws -> [(member: Int, writer: any ObjectWriter)] {
        if let expected = self.id, expected != id {
            abort()
            throw StoreError(.permissionDenied, "A grid writer for \(expected) was committed as \(id).")
        }
        if filled > 0 { try encodeSegment() }
        buffer = []
        var ready: [(member: Int, writer: any ObjectWriter)] = []
        for index in targets.indices where targets[index].writer != nil {
            let footer = GridShareHeader(k: grid.config.k, n: grid.config.n, share: targets[index].share, segmentSize: grid.segmentSize,
                                         objectSize: size, objectID: id)
            let tail = targets[index].hashes + footer.listRoot(targets[index].hashes) + footer.encoded
            do {
                try tail.withUnsafeBytes { try targets[index].writer!.write($0) }
                ready.append((targets[index].member, targets[index].writer!))
            } catch { drop(index, error) }
        }
        if ready.isEmpty { throw firstError ?? StoreError(.unavailable, "Every grid member failed.") }
        return ready
    }

    /// Notes how committing one member's share went.
    func settle(member: Int, error: Error?) {
        guard let index = targets.firstIndex(where: { $0.member == member }) else { return }
        if let error { targets[index].error = error } else { committed.append(member) }
        targets[index].writer = nil
    }

    func commit(as id: ContentID) throws {
        for (member, writer) in try finish(as: id) {
            do {
                try writer.commit(as: id)
                settle(member: member, error: nil)
            } catch { settle(member: member, error: error) }
        }
        try checkHappiness(id)
    }

    /// Throws unless the committed shares sit on `happy` distinct failure domains.
    func checkHappiness(_ id: ContentID) throws {
        let members = grid.members
        let domains = Set(committed.map { members[$0].record.domain })
        guard domains.count >= happy else {
            let failures = targets.compactMap { target in target.error.map { "\(members[target.member].record.label): \($0)" } }
            throw StoreError(.unavailable, "The shares of \(id) reached \(domains.count) disk\(domains.count == 1 ? "" : "s") of the grid '\(grid.record.label)', but an upload counts only on \(happy)\(failures.isEmpty ? "" : " (\(failures.joined(separator: "; ")))"); it was not counted.")
        }
    }

    func abort() {
        for index in targets.indices { targets[index].writer?.abort(); targets[index].writer = nil }
    }
}

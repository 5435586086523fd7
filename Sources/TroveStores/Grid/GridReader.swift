import TroveCore
import TroveStorage

/// Reads an object (or a range of it) back from k good shares, a segment at a time, reading only
/// the blocks of the segments the range covers. A block that fails its hash or a member that
/// stops answering is dropped and another member's share taken in its place.
final class GridReader: ObjectReader {
    let grid: GridStore
    let id: ContentID
    let fromMedia: Bool
    let size: UInt64
    private let end: UInt64
    private var position: UInt64
    private var shares: [FoundShare]
    private var tried: Set<Int>
    private let reference: GridShareHeader
    /// Shares dropped while reading as bad, one line each.
    private(set) var problems: [String] = []
    /// Members that stopped answering or could not be asked.
    private var unreachable: [String] = []
    private var segment: (index: Int, bytes: [UInt8])?

    init(grid: GridStore, id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws {
        self.grid = grid
        self.id = id
        self.fromMedia = fromMedia
        let found = try grid.locate(id, fromMedia: fromMedia, wanted: grid.config.k)
        guard found.shares.count >= grid.config.k, let first = found.shares.first else {
            throw Self.tooFew(found.shares.count, grid: grid, id: id, unreachable: found.unreachable, bad: found.bad, offset: 0)
        }
        shares = found.shares
        tried = found.tried
        problems = found.bad
        unreachable = found.unreachable
        reference = first.footer
        size = first.footer.objectSize
        position = min(range?.lowerBound ?? 0, size)
        end = min(range?.upperBound ?? size, size)
    }

    /// The error for an object with fewer than k good shares: not held at all, out of reach
    /// (while a member that did not answer may hold a share, the copy is not called corrupt),
    /// or corrupt.
    static func tooFew(_ count: Int, grid: GridStore, id: ContentID, unreachable: [String], bad: [String], offset: UInt64) -> Error {
        if count == 0 && bad.isEmpty && unreachable.isEmpty {
            return StoreError(.notFound, "The grid '\(grid.record.label)' holds no share of \(id).")
        }
        if !unreachable.isEmpty {
            return StoreError(.unavailable, "Only \(count) of the \(grid.config.k) shares of \(id) needed could be read from the grid '\(grid.record.label)'; out of reach: \(unreachable.joined(separator: "; ")).")
        }
        return ObjectCorrupt(offset: offset, reason: "only \(count) good shares of the \(grid.config.k) needed are left on the grid '\(grid.record.label)' (\((bad + unreachable).joined(separator: "; ")))")
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var written = 0
        let segmentSize = UInt64(reference.segmentSize)
        while written < buffer.count && position < end {
            let s = Int(position / segmentSize)
            if segment?.index != s { segment = (s, try decode(s)) }
            let bytes = segment!.bytes
            let inSegment = Int(position - UInt64(s) * segmentSize)
            let count = min(buffer.count - written, bytes.count - inSegment, Int(end - position))
            bytes.withUnsafeBytes { source in
                buffer.baseAddress!.advanced(by: written).copyMemory(from: source.baseAddress!.advanced(by: inSegment), byteCount: count)
            }
            written += count
            position += UInt64(count)
        }
        return written
    }

    /// One segment, from k good blocks; a bad share is replaced by another member's.
    func decode(_ s: Int) throws -> [UInt8] {
        while true {
            var blocks: [(index: Int, bytes: [UInt8])] = []
            var dropped: Int?
            for (position, share) in shares.prefix(grid.config.k).enumerated() {
                let label = grid.members[share.member].record.label
                do {
                    blocks.append((share.footer.share, try grid.readBlock(share, segment: s, fromMedia: fromMedia)))
                } catch let error as StoreError where error.kind == .unavailable || error.kind == .permissionDenied {
                    unreachable.append("\(label): \(error.message)")
                    dropped = position
                    break
                } catch {
                    let reason = (error as? BadShare)?.reason ?? (error as? StoreError)?.message ?? (error as? ObjectCorrupt)?.reason ?? "\(error)"
                    problems.append("\(label): \(reason)")
                    dropped = position
                    break
                }
            }
            if let dropped {
                shares.remove(at: dropped)
                // Another member's share, of a number not held yet (a duplicate would not help).
                let more = try grid.locate(id, fromMedia: fromMedia, wanted: grid.config.k - shares.count, skipping: tried.union(shares.map(\.member)),
                                           agreeing: reference, holding: Set(shares.map(\.footer.share)))
                tried.formUnion(more.tried)
                problems += more.bad
                unreachable += more.unreachable
                shares += more.shares
                if shares.count < grid.config.k {
                    throw Self.tooFew(shares.count, grid: grid, id: id, unreachable: unreachable, bad: problems,
                                      offset: UInt64(s) * UInt64(reference.segmentSize))
                }
                continue
            }
            return try grid.assemble(blocks, length: reference.segmentLength(s))
        }
    }

    func close() { segment = nil }
}

import TroveCore
import TroveFEC
import TroveStorage

/// A member's share of an object, its footer and block hashes checked.
struct FoundShare {
    let member: Int
    let store: any Store
    let footer: GridShareHeader
    /// SHA-256 of each block, 32 bytes each.
    let hashes: [UInt8]
}

/// What looking for an object's share on one member found.
enum ShareState {
    case good(FoundShare)
    case missing
    case corrupt(String)
    case unreachable(String)
}

/// A block that does not match its hash, or a share that cannot be read whole.
struct BadShare: Error {
    let reason: String
}

extension GridStore {
    /// Looks at one member's share of an object: present, footer intact and of this grid, the
    /// size its footer implies, and a hash list that closes to its root.
    func inspect(_ index: Int, _ id: ContentID, fromMedia: Bool) -> ShareState {
        let member = members[index]
        guard member.connected else { return .unreachable(member.reason ?? "not reachable") }
        guard let store = member.shares else { return .missing }
        do {
            guard let size = try store.objectSize(id) else { return .missing }
            let footerSize = UInt64(GridShareHeader.size)
            guard size >= footerSize + 32 else { return .corrupt("it is \(size) bytes, too short to be a share") }
            guard let footer = GridShareHeader(try Self.readRange(store, id, (size - footerSize)..<size, fromMedia: fromMedia)) else {
                return .corrupt("its footer is damaged")
            }
            guard footer.objectID == id else { return .corrupt("its footer names another object") }
            guard footer.k == config.k, footer.n == config.n else {
                return .corrupt("it is a \(footer.k)-of-\(footer.n) share in a \(config.k)-of-\(config.n) grid")
            }
            guard footer.shareSize == size else { return .corrupt("it is \(size) bytes where its footer implies \(footer.shareSize)") }
            let trailer = try Self.readRange(store, id, footer.trailerOffset..<(footer.trailerOffset + UInt64(footer.trailerLength)),
                                             fromMedia: fromMedia)
            let hashes = Array(trailer.prefix(footer.segments * 32))
            guard footer.listRoot(hashes) == Array(trailer.suffix(32)) else { return .corrupt("its block hash list is damaged") }
            return .good(FoundShare(member: index, store: store, footer: footer, hashes: hashes))
        } catch let error as StoreError {
            switch error.kind {
            case .notFound: return .missing
            // Out of reach, or refused now (credentials, permissions): nothing proves the share bad.
            case .unavailable, .permissionDenied: return .unreachable(error.message)
            case .media, .noSpace: return .corrupt("unreadable: \(error.message)")
            }
        } catch let error as ObjectCorrupt {
            return .corrupt(error.reason)
        } catch let error as BadShare {
            return .corrupt(error.reason)
        } catch {
            return .corrupt("\(error)")
        }
    }

    /// Finds up to `wanted` good shares with distinct numbers that agree on the object, trying
    /// members in read order and skipping `skipping`; says which members were out of reach or
    /// held a bad share.
    func locate(_ id: ContentID, fromMedia: Bool, wanted: Int, skipping: Set<Int> = [], agreeing reference: GridShareHeader? = nil,
                holding: Set<Int> = []) throws -> (shares: [FoundShare], tried: Set<Int>, unreachable: [String], bad: [String]) {
        var shares: [FoundShare] = []
        var tried = skipping
        var unreachable: [String] = [], bad: [String] = []
        var reference = reference
        var numbers = holding
        for index in readOrder where !tried.contains(index) && shares.count < wanted {
            tried.insert(index)
            let label = members[index].record.label
            switch inspect(index, id, fromMedia: fromMedia) {
            case .good(let share):
                if let reference, reference.objectSize != share.footer.objectSize || reference.segmentSize != share.footer.segmentSize {
                    bad.append("\(label): its share disagrees with the others on the object's size")
                    continue
                }
                guard numbers.insert(share.footer.share).inserted else { continue }
                reference = reference ?? share.footer
                shares.append(share)
            case .missing: continue
            case .corrupt(let why): bad.append("\(label): \(why)")
            case .unreachable(let why): unreachable.append("\(label): \(why)")
            }
        }
        return (shares, tried, unreachable, bad)
    }

    /// Reads a byte range of a share whole.
    static func readRange(_ store: any Store, _ id: ContentID, _ range: Range<UInt64>, fromMedia: Bool) throws -> [UInt8] {
        let reader = try store.openReader(id, range: range, fromMedia: fromMedia)
        defer { reader.close() }
        var bytes = [UInt8](repeating: 0, count: range.count)
        var filled = 0
        while filled < bytes.count {
            let count = try bytes.withUnsafeMutableBytes { try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
            if count == 0 { throw BadShare(reason: "it ends early") }
            filled += count
        }
        return bytes
    }

    /// Block `s` of a share, checked against its hash.
    func readBlock(_ share: FoundShare, segment s: Int, fromMedia: Bool) throws -> [UInt8] {
        let offset = share.footer.blockOffset(s)
        let block = try Self.readRange(share.store, share.footer.objectID, offset..<(offset + UInt64(share.footer.blockLength(s))),
                                       fromMedia: fromMedia)
        let hash = block.withUnsafeBytes { GridShareHeader.blockHash(share: share.footer.share, segment: s, $0) }
        guard hash[...] == share.hashes[(s * 32)..<(s * 32 + 32)] else {
            throw BadShare(reason: "block \(s) does not match its hash")
        }
        return block
    }

    /// A segment as k equal blocks, the last padded with zeros (as zfec pads): what is encoded.
    func split(_ bytes: ArraySlice<UInt8>) -> [[UInt8]] {
        let k = config.k
        let blockLength = (bytes.count + k - 1) / k
        return (0..<k).map { i in
            let start = bytes.startIndex + min(i * blockLength, bytes.count), stop = min(start + blockLength, bytes.endIndex)
            return Array(bytes[start..<stop]) + [UInt8](repeating: 0, count: blockLength - (stop - start))
        }
    }

    /// A segment's bytes from k blocks of it (number and bytes): the data blocks side by side
    /// when they are all there (no arithmetic), else decoded.
    func assemble(_ blocks: [(index: Int, bytes: [UInt8])], length: Int) throws -> [UInt8] {
        let sorted = blocks.sorted { $0.index < $1.index }
        let data: [[UInt8]]
        if sorted.map(\.index) == Array(0..<config.k) {
            data = sorted.map(\.bytes)
        } else {
            do { data = try codec.decode(sorted) } catch { throw BadShare(reason: "the shares do not decode (\(error))") }
        }
        var segment = [UInt8]()
        segment.reserveCapacity(length)
        for block in data where segment.count < length { segment += block.prefix(length - segment.count) }
        return segment
    }
}

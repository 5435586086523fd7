import Crypto
import Foundation
import Logging
import TroveCore
import TroveFEC
import TroveStorage

/// A store made of other stores: each object is split into leaf-sized segments, each segment
/// encoded k-of-n (zfec's code), and share i of every segment goes to one member (one share per
/// member, in Tahoe's permuted order keyed by the object ID). Any k good shares give the object
/// back; a copy here counts what its shares survive. The members' shares live in a store of
/// their own beside each member's objects (`StoreRegistry.shareLocation`), so the member's own
/// objects, listing and garbage collection never see them. docs/grid.md has the details.
public final class GridStore: ShareStore, @unchecked Sendable {
    /// A member as the grid sees it now.
    public struct Member: @unchecked Sendable {
        public var record: StoreRecord
        /// Its share store: nil when the member cannot be reached, or holds none for this grid.
        public var shares: (any Store)?
        /// The member itself answered (its share store may still be gone).
        public var connected: Bool
        /// Why it cannot be used, for messages.
        public var reason: String?

        public init(record: StoreRecord, shares: (any Store)?, connected: Bool, reason: String? = nil) {
            self.record = record
            self.shares = shares
            self.connected = connected
            self.reason = reason
        }

        /// Its shares count toward durability (the member's copies would).
        var counts: Bool { record.trust == .trusted }
        /// It may receive new shares.
        var writable: Bool { connected && record.trust == .trusted && !record.noNewCopies && !record.readOnly }
    }

    public let record: StoreRecord
    public let config: GridConfig
    let codec: FECCodec
    /// Plaintext bytes per segment (the leaf size, so a ranged read of a leaf decodes one segment).
    let segmentSize: Int
    /// Makes a member's share store when it holds none yet (repair, rebalance, a first write).
    let makeShares: @Sendable (StoreRecord) throws -> any Store
    /// The library's key for signing heads (`StoreRegistry.headKey`), asked for only when a head
    /// is written: a machine without it still reads the grid.
    let signingKey: @Sendable () throws -> Curve25519.Signing.PrivateKey
    /// The public half the catalog pinned, which is all reading needs.
    let pinnedPublicKey: [UInt8]?
    private let lock = NSLock()
    private let creating = NSLock()
    private var memberList: [Member]
    let logger = Logger(label: "trove.grid")

    public init(record: StoreRecord, members: [Member], segmentSize: Int = ContentHash.leafSize,
                headKey: @escaping @Sendable () throws -> Curve25519.Signing.PrivateKey, headPublicKey: [UInt8]? = nil,
                makeShares: @escaping @Sendable (StoreRecord) throws -> any Store) throws {
        signingKey = headKey
        pinnedPublicKey = headPublicKey
        guard let config = record.config.grid else { throw StoreError(.permissionDenied, "\(record.label) is not a grid.") }
        self.record = record
        self.config = config
        self.segmentSize = segmentSize
        self.makeShares = makeShares
        memberList = members
        do { codec = try FECCodec(k: config.k, n: config.n) } catch {
            throw StoreError(.permissionDenied, "The grid '\(record.label)' has impossible parameters (\(error)).")
        }
    }

    public var members: [Member] { lock.lock(); defer { lock.unlock() }; return memberList }

    public var identity: StoreIdentity {
        StoreIdentity(id: record.id, label: record.label, created: record.created, kind: .grid, copies: record.copies,
                      filesystemUUID: nil)
    }

    public var location: String { "grid \(config.k)-of-\(config.n) over " + members.map(\.record.label).joined(separator: ", ") }

    /// What a copy is worth once every member that counts holds a share (what repair and
    /// rebalancing aim at: a copy below it is audited).
    public var fullWeight: Int {
        gridWeight(shareDomains: members.filter(\.counts).prefix(config.n).map(\.record.domain), k: config.k)
    }

    /// The public key heads must be signed with.
    public func headPublicKey() throws -> [UInt8] {
        if let pinnedPublicKey { return pinnedPublicKey }
        return Array(try signingKey().publicKey.rawRepresentation)
    }

    /// Member indices in the object's permuted order: the i-th holds share i.
    func ring(for id: ContentID) -> [Int] {
        let list = members
        return permutedMembers(list.map(\.record.id), objectID: id).compactMap { key in list.firstIndex { $0.record.id == key } }
    }

    /// Members in the order reads try them: drives attached here first, then the rest.
    var readOrder: [Int] {
        let list = members
        return list.indices.sorted { (list[$0].record.kind.isAttached ? 0 : 1, $0) < (list[$1].record.kind.isAttached ? 0 : 1, $1) }
    }

    /// The member's share store, made when the member is reachable but holds none yet.
    func sharesForWriting(_ index: Int) throws -> any Store {
        lock.lock()
        let member = memberList[index]
        lock.unlock()
        if let shares = member.shares { return shares }
        guard member.connected else {
            throw StoreError(.unavailable, "The grid member '\(member.record.label)' is not reachable\(member.reason.map { " (\($0))" } ?? "").")
        }
        // One at a time: two audits repairing at once must not both make the store.
        creating.lock()
        defer { creating.unlock() }
        lock.lock()
        let again = memberList[index].shares
        lock.unlock()
        if let again { return again }
        let made = try makeShares(member.record)
        lock.lock()
        memberList[index].shares = made
        lock.unlock()
        return made
    }

    // MARK: Store

    public func objectSize(_ id: ContentID) throws -> UInt64? {
        let found = try locate(id, fromMedia: false, wanted: config.k)
        guard found.shares.count >= config.k else {
            if let reason = found.unreachable.first { throw StoreError(.unavailable, "Too few grid members answered for \(id): \(reason).") }
            return nil
        }
        return found.shares[0].footer.objectSize
    }

    public func makeWriter(for id: ContentID?, expectedSize: UInt64?) throws -> ObjectWriter {
        let list = members
        let usable = list.indices.filter { list[$0].writable }
        let domains = Set(usable.map { list[$0].record.domain })
        guard domains.count >= config.happy else {
            let away = list.filter { !$0.writable }.map(\.record.label)
            throw StoreError(.unavailable, "The grid '\(record.label)' can reach members on \(domains.count) disk\(domains.count == 1 ? "" : "s") that take shares, but an upload must reach \(config.happy) (happiness); \(away.isEmpty ? "" : "not usable now: \(away.joined(separator: ", ")). ")Connect more members; a grid made with a lower --happy would take it now.")
        }
        // Share i goes to the i-th member in the object's permuted order over all members (a
        // member out of reach keeps its number free, so a later repair gives it the same one); a
        // random rotation when the ID is not known yet (reads never rely on where a share sits).
        let order: [Int]
        if let id {
            order = ring(for: id)
        } else {
            let start = Int.random(in: 0..<max(1, list.count))
            order = Array(start..<list.count) + Array(0..<start)
        }
        let targets = order.prefix(config.n).enumerated().filter { usable.contains($0.element) }.map { (member: $0.element, share: $0.offset) }
        return try GridWriter(grid: self, id: id, targets: targets, happy: config.happy, expectedSize: expectedSize)
    }

    public func openReader(_ id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws -> ObjectReader {
        try GridReader(grid: self, id: id, range: range, fromMedia: fromMedia)
    }

    /// Moves every share of the object aside on its member.
    public func quarantine(_ id: ContentID) throws -> String {
        var moved: [String] = []
        for member in members {
            guard let shares = member.shares, (try? shares.objectSize(id)) ?? nil != nil else { continue }
            if let place = try? shares.quarantine(id) { moved.append("\(member.record.label): \(place)") }
        }
        guard !moved.isEmpty else { throw StoreError(.notFound, "The grid '\(record.label)' holds no share of \(id).") }
        return moved.joined(separator: "; ")
    }

    /// Deletes the object's share on every reachable member. A member out of reach keeps its
    /// share until the grid is collected again; alone it cannot give the object back.
    public func remove(_ id: ContentID) throws {
        for member in members { try member.shares?.remove(id) }
    }

    /// Every object with a share on some reachable member.
    public func listObjects(_ body: (ContentID) throws -> Bool) throws {
        var seen = Set<ContentID>()
        for member in members {
            guard let shares = member.shares else { continue }
            var stop = false
            try shares.listObjects { id in
                guard seen.insert(id).inserted else { return true }
                if try !body(id) { stop = true; return false }
                return true
            }
            if stop { return }
        }
    }

    /// What the grid can take: each member stores one k-th of each object, so the smallest
    /// writable member limits it.
    public func space() throws -> StoreSpace? {
        let spaces = members.filter(\.writable).compactMap { try? $0.shares?.space() ?? nil }
        guard let smallest = spaces.min(by: { $0.free < $1.free }) else { return nil }
        let k = Int64(config.k)
        return StoreSpace(capacity: smallest.capacity.multipliedReportingOverflow(by: k).overflow ? .max : smallest.capacity * k,
                          free: smallest.free.multipliedReportingOverflow(by: k).overflow ? .max : smallest.free * k)
    }

    public func isReadOnly() -> Bool {
        let list = members
        return Set(list.filter(\.writable).map(\.record.domain)).count < config.happy
    }

    /// A grid spans disks; its members' disks are its failure domains (`StoreRecord.shareDomains`).
    public func disk() -> DiskIdentity.Disk? { nil }

    public func cleanTemporary() throws -> Int {
        members.reduce(0) { $0 + ((try? $1.shares?.cleanTemporary()) ?? 0 ?? 0) }
    }

    /// Commits many objects' shares with one batched commit per member (shared syncs), then
    /// checks each object's happiness. Throws the first object's failure, after committing all.
    public func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws {
        var writers: [(GridWriter, ContentID)] = []
        var perMember: [Int: [(writer: any ObjectWriter, id: ContentID, owner: Int)]] = [:]
        var failure: Error?
        for item in items {
            guard let writer = item.writer as? GridWriter else { throw StoreError(.media, "a writer of another store was given to \(location)") }
            do {
                for share in try writer.finish(as: item.id) {
                    perMember[share.member, default: []].append((share.writer, item.id, writers.count))
                }
                writers.append((writer, item.id))
            } catch { failure = failure ?? error }
        }
        for (member, shares) in perMember {
            guard let store = members[member].shares else { continue }
            var error: Error?
            do { try store.commitBatch(shares.map { ($0.writer, $0.id) }) } catch let thrown { error = thrown }
            for share in shares { writers[share.owner].0.settle(member: member, error: error) }
        }
        for (writer, id) in writers {
            do { try writer.checkHappiness(id) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

    /// Records on a grid are signed heads (`publishHead`): shares on the members, the newest
    /// valid one wins, and a member cannot forge one or hide a newer one alone.
    public func readRecord(_ name: RecordName) throws -> [UInt8]? {
        try readHead(name, publicKey: try headPublicKey()).head?.payload
    }

    public func writeRecord(_ name: RecordName, _ bytes: [UInt8]) throws {
        let published = try publishHead(name, payload: bytes, key: try signingKey())
        logger.info("published a head on a grid", metadata: [
            "grid": "\(record.label)", "record": "\(name)", "seq": "\(published.head.seq)",
            "round_trips": "\(published.roundTrips)", "collisions": "\(published.collisions)", "members": "\(published.members.count)",
        ])
    }

    /// Publishes the first head of that name (sequence number 1, a test-and-set on every member).
    public func createRecord(_ name: RecordName, _ bytes: [UInt8]) throws -> Bool {
        let key = try signingKey()
        let reading = try readHead(name, publicKey: Array(key.publicKey.rawRepresentation))
        guard reading.head == nil && reading.highestSeen == 0 else { return false }
        var trips = 0
        if case .placed = try place(try SignedHead.make(name: name.description, seq: 1, payload: bytes, key: key), name: name, trips: &trips) {
            return true
        }
        return false
    }

    /// Removes the head's pointer and its slots (publishing keeps the last `keptSlots`) from
    /// each reachable member.
    public func removeRecord(_ name: RecordName) throws {
        let top = try readHead(name, publicKey: try headPublicKey(), askAll: true).highestSeen
        let low = top > Self.keptSlots + Self.slack ? top - Self.keptSlots - Self.slack : 1
        for member in members {
            guard let store = member.shares else { continue }
            if top > 0 { for seq in low...top { try store.removeRecord(Self.slot(name, seq)) } }
            try store.removeRecord(name)
        }
    }
}

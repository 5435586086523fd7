import Crypto
import TroveCore
import TroveStorage

/// One member's share of a signed head:
///
///     "TROVHS01" ‖ seq (8) ‖ version (32: SHA-256 of the encoded head) ‖ k − 1 (1) ‖ n (2) ‖
///     share number (2) ‖ encoded head length (4) ‖ block
///
/// k-of-n like objects, so a head needs k members to be read and k colluding members to be
/// forged into hiding a newer one.
struct HeadShare: Equatable {
    static let magic = Array("TROVHS01".utf8)
    var seq: UInt64
    var version: [UInt8]
    var k: Int
    var n: Int
    var share: Int
    var length: Int
    var block: [UInt8]

    var encoded: [UInt8] {
        Self.magic + be(seq, 8) + version + [UInt8(k - 1)] + be(UInt64(n), 2) + be(UInt64(share), 2) + be(UInt64(length), 4) + block
    }

    init(seq: UInt64, version: [UInt8], k: Int, n: Int, share: Int, length: Int, block: [UInt8]) {
        self.seq = seq
        self.version = version
        self.k = k
        self.n = n
        self.share = share
        self.length = length
        self.block = block
    }

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 57, Array(bytes[0..<8]) == Self.magic else { return nil }
        seq = unbe(bytes[8..<16])
        version = Array(bytes[16..<48])
        k = Int(bytes[48]) + 1
        n = Int(unbe(bytes[49..<51]))
        share = Int(unbe(bytes[51..<53]))
        length = Int(unbe(bytes[53..<57]))
        block = Array(bytes[57...])
        guard k <= n, share < n, block.count == (length + k - 1) / k else { return nil }
    }
}

/// What reading a head found.
public struct HeadReading: Sendable {
    /// The newest head whose signature checks, if any.
    public var head: SignedHead?
    /// Members asked, and requests made.
    public var answered = 0
    public var roundTrips = 0
    /// Members that answered with an older head than the newest (out of date, or rolled back).
    public var behind: [String] = []
    /// Members whose share does not fit the head it claims (tampered or rotten).
    public var bad: [String] = []
    /// Sequence numbers above the newest seen on some members but not readable (a publish cut
    /// short, or two writers at once).
    public var unreadable: [UInt64] = []
    /// Sequence numbers that two different heads claim (writers that collided).
    public var collisions: [UInt64] = []
    /// The highest sequence number any member claims.
    public var highestSeen: UInt64 = 0
    /// Members that could not be asked.
    public var unreachable: [String] = []
}

/// What publishing a head did.
public struct HeadPublication: Sendable {
    public var head: SignedHead
    public var roundTrips = 0
    /// Collisions with another writer met on the way (each recovered).
    public var collisions = 0
    /// Members that hold the new head.
    public var members: [String] = []
}

extension GridStore {
    /// The record holding member's latest share of head `name`, and the slot of sequence
    /// number `seq` (created only once: the test-and-set two writers race for).
    static func slot(_ name: RecordName, _ seq: UInt64) -> RecordName {
        RecordName(name.description.prefix(40) + "-" + String(seq, radix: 16).leftPadded(16))!
    }

    /// A member's newest share of a head: its pointer record, then any slot above it (a
    /// publish that placed the slot but not the pointer).
    func latestShare(of name: RecordName, on store: any Store, trips: inout Int) throws -> HeadShare? {
        trips += 1
        var latest = try store.readRecord(name).flatMap(HeadShare.init)
        while (latest?.seq ?? 0) < Self.highestSeq {
            trips += 1
            guard let next = try store.readRecord(Self.slot(name, (latest?.seq ?? 0) + 1)).flatMap(HeadShare.init),
                  next.seq == (latest?.seq ?? 0) + 1 else { return latest }
            latest = next
        }
        return latest
    }

    /// Asks members (attached ones first) until `k + ε` have answered (ε = k), decodes each
    /// version found, and takes the newest whose signature checks under `publicKey`. Members
    /// that answer with something older are named, so a rollback shows.
    public func readHead(_ name: RecordName, publicKey: [UInt8], askAll: Bool = false) throws -> HeadReading {
        var reading = HeadReading()
        let wanted = askAll ? members.count : min(members.count, 2 * config.k)
        var answers: [(member: Int, share: HeadShare?)] = []
        for index in readOrder where answers.count < wanted {
            let member = members[index]
            guard member.connected else { reading.unreachable.append(member.record.label); continue }
            guard let store = member.shares else { answers.append((index, nil)); continue }
            do { answers.append((index, try latestShare(of: name, on: store, trips: &reading.roundTrips))) } catch let error as StoreError where error.kind == .unavailable {
                reading.unreachable.append("\(member.record.label): \(error.message)")
            } catch {
                // A record that does not authenticate, a refused read: this member's trouble only.
                reading.bad.append("\(member.record.label): its head cannot be read (\(TroveError.from(any: error).message))")
            }
        }
        reading.answered = answers.count
        guard answers.count >= config.k || answers.count == members.count else {
            throw StoreError(.unavailable, "Only \(answers.count) members of the grid '\(record.label)' answered for '\(name)'; \(config.k) are needed (out of reach: \(reading.unreachable.joined(separator: "; "))).")
        }
        let held = answers.compactMap { answer in answer.share.map { (answer.member, $0) } }.filter { $0.1.seq <= Self.highestSeq }
        // Every version, by (seq, version hash), with the members holding its shares.
        let versions = Dictionary(grouping: held) { VersionKey(seq: $0.1.seq, version: $0.1.version) }
        var valid: [(head: SignedHead, holders: [Int])] = []
        for (key, shares) in versions {
            switch decodeHead(shares, key: key, name: name, publicKey: publicKey) {
            case .valid(let head, let bad):
                valid.append((head, shares.map(\.0).filter { !bad.contains($0) }))
                reading.bad += bad.map { "\(members[$0].record.label): its share of head \(key.seq) does not match the others" }
            case .tooFew:
                continue
            case .invalid(let why):
                reading.bad += shares.map { "\(members[$0.0].record.label): head \(key.seq) \(why)" }
            }
        }
        reading.collisions = Dictionary(grouping: valid, by: \.head.seq).filter { $0.value.count > 1 }.keys.sorted()
        // A number no valid head carries is believed only a little above the newest valid one (a
        // publish cut short); a member claiming far more is lying, and must not make writers
        // skip ahead or removals walk forever.
        let newestSeq = valid.map(\.head.seq).max() ?? 0
        reading.highestSeen = held.map(\.1.seq).filter { $0 <= newestSeq + Self.slack }.max() ?? 0
        for (member, share) in held where share.seq > newestSeq + Self.slack {
            reading.bad.append("\(members[member].record.label): claims head \(share.seq), far above the newest valid one (\(newestSeq))")
        }
        guard let newest = valid.map(\.head).max(by: { SignedHead.newer($1, $0) }) else { return reading }
        reading.head = newest
        reading.unreadable = Set(held.map(\.1.seq).filter { $0 > newest.seq && $0 <= newest.seq + Self.slack }).sorted()
        reading.behind = held.filter { $0.1.seq < newest.seq }.map { "\(members[$0.0].record.label) (head \($0.1.seq), newest \(newest.seq))" }
            + answers.filter { $0.share == nil }.map { "\(members[$0.member].record.label) (no head)" }
        return reading
    }

    /// Sequence numbers above this are refused outright (no overflow one above them).
    static let highestSeq: UInt64 = 1 << 62
    /// How far above the newest valid head an unreadable one is believed.
    static let slack: UInt64 = 64

    struct VersionKey: Hashable {
        var seq: UInt64
        var version: [UInt8]
    }

    enum Decoded {
        case valid(SignedHead, bad: [Int])
        case tooFew
        case invalid(String)
    }

    /// Decodes one version from its shares: some k-subset must give bytes that hash to the
    /// version and carry a valid signature; every share is then checked against the head
    /// re-encoded, so a tampered one is named.
    func decodeHead(_ shares: [(Int, HeadShare)], key: VersionKey, name: RecordName, publicKey: [UInt8]) -> Decoded {
        var distinct: [(Int, HeadShare)] = []
        for share in shares where !distinct.contains(where: { $0.1.share == share.1.share }) { distinct.append(share) }
        guard distinct.count >= config.k else { return .tooFew }
        for subset in subsets(distinct.count, config.k, tries: 256) {
            let chosen = subset.map { distinct[$0].1 }
            guard chosen.allSatisfy({ $0.k == config.k && $0.n == config.n && $0.length == chosen[0].length }),
                  let bytes = try? assemble(chosen.map { (index: $0.share, bytes: $0.block) }, length: chosen[0].length) else { continue }
            guard Array(SHA256.hash(data: bytes)) == key.version, let head = SignedHead(decoding: bytes), head.seq == key.seq else { continue }
            guard head.isValid(name: name.description, publicKey: publicKey) else { return .invalid("is not signed by this library's key") }
            let expected = headShares(head)
            let bad = shares.filter { $0.1.share >= expected.count || expected[$0.1.share] != $0.1 }.map(\.0)
            return .valid(head, bad: bad)
        }
        return .invalid("cannot be decoded from its shares")
    }

    /// The n shares of a head.
    func headShares(_ head: SignedHead) -> [HeadShare] {
        let bytes = head.encoded
        let version = Array(SHA256.hash(data: bytes))
        let coded = (try? codec.encode(split(bytes[...]), shares: Array(0..<config.n))) ?? []
        return coded.enumerated().map {
            HeadShare(seq: head.seq, version: version, k: config.k, n: config.n, share: $0.offset, length: bytes.count, block: $0.element)
        }
    }

    /// Publishes a new head above every one any member claims: each member's share goes into
    /// the slot of the new sequence number with a test-and-set write. A slot already taken
    /// means another writer published at that number: the loser reads again, republishes the
    /// winner by (seq, root) when only it can, and publishes its own above, so no version is
    /// lost. At least k members must take the new head.
    public func publishHead(_ name: RecordName, payload: [UInt8], key: Curve25519.Signing.PrivateKey,
                            lastRead: HeadReading? = nil) throws -> HeadPublication {
        let publicKey = Array(key.publicKey.rawRepresentation)
        var trips = 0, collisions = 0
        var stale = lastRead
        for _ in 0..<8 {
            // A reading made earlier (by a caller that read before deciding) stands for the first round.
            let current = try stale ?? readHead(name, publicKey: publicKey)
            stale = nil
            trips += current.roundTrips
            let head = try SignedHead.make(name: name.description, seq: max(current.highestSeen, current.head?.seq ?? 0) + 1,
                                           payload: payload, key: key)
            switch try place(head, name: name, trips: &trips) {
            case .placed(let holders):
                prune(name, below: head.seq, trips: &trips)
                return HeadPublication(head: head, roundTrips: trips, collisions: collisions, members: holders)
            case .collided:
                collisions += 1
                try recover(name, mine: head, key: key, trips: &trips)
            }
        }
        throw StoreError(.unavailable, "Another writer kept publishing '\(name)' on the grid '\(record.label)' at the same time; retry.")
    }

    /// Slots kept below the newest head on each member (older ones are removed as heads are
    /// published), enough to read back what two colliding writers left.
    static let keptSlots: UInt64 = 8

    /// Removes the slot `keptSlots` below a new head on every writable member (best effort).
    func prune(_ name: RecordName, below seq: UInt64, trips: inout Int) {
        guard seq > Self.keptSlots else { return }
        for member in members where member.writable {
            guard let store = member.shares else { continue }
            trips += 1
            try? store.removeRecord(Self.slot(name, seq - Self.keptSlots))
        }
    }

    enum Placement {
        case placed([String])
        case collided
    }

    /// Writes a head's shares into its slot on each writable member (share i on the i-th
    /// member), then the members' pointers. `overwrite` re-places an existing version (repair).
    func place(_ head: SignedHead, name: RecordName, trips: inout Int, only targets: Set<Int>? = nil, overwrite: Bool = false) throws -> Placement {
        let shares = headShares(head)
        var holders: [String] = []
        var lastError: Error?
        for (index, member) in members.enumerated().prefix(config.n) where member.writable && (targets?.contains(index) ?? true) {
            do {
                let store = try sharesForWriting(index)
                let share = shares[index].encoded
                trips += 1
                if overwrite {
                    try store.writeRecord(Self.slot(name, head.seq), share)
                } else if try !store.createRecord(Self.slot(name, head.seq), share) {
                    return .collided
                }
                trips += 1
                try store.writeRecord(name, share)
                holders.append(member.record.label)
            } catch { lastError = error }
        }
        guard holders.count >= (targets == nil ? config.k : 1) else {
            throw (lastError as? StoreError) ?? StoreError(.unavailable, "Only \(holders.count) members of the grid '\(record.label)' took the head '\(name)'; \(config.k) must.")
        }
        return .placed(holders)
    }

    /// After a collision: every member is asked; the winner among the versions at the contested
    /// number (ours is always known whole) is republished above the highest number seen when
    /// it is another writer's (ours is republished by the caller's next round).
    func recover(_ name: RecordName, mine: SignedHead, key: Curve25519.Signing.PrivateKey, trips: inout Int) throws {
        let all = try readHead(name, publicKey: Array(key.publicKey.rawRepresentation), askAll: true)
        trips += all.roundTrips
        guard let theirs = all.head, theirs.seq >= mine.seq, SignedHead.newer(theirs, mine), theirs.payload != mine.payload else { return }
        // Theirs wins and we can read it: make sure it stays readable above the contested number.
        let again = try SignedHead.make(name: name.description, seq: max(all.highestSeen, theirs.seq) + 1, payload: theirs.payload, key: key)
        _ = try place(again, name: name, trips: &trips)
    }

    /// Puts the newest head's shares back on members that lack them or hold a bad one, under
    /// the same sequence number (never a new one: a repair that bumped it would race itself).
    public func repairHead(_ name: RecordName, publicKey: [UInt8]) throws -> (reading: HeadReading, replaced: [String]) {
        let reading = try readHead(name, publicKey: publicKey, askAll: true)
        guard let head = reading.head else { return (reading, []) }
        var holders = Set<Int>()
        var trips = 0
        for (index, member) in members.enumerated().prefix(config.n) {
            guard let store = member.shares, let share = try? latestShare(of: name, on: store, trips: &trips) else { continue }
            if share == headShares(head)[index] { holders.insert(index) }
        }
        // Members that can take a share, whose slot for this number is empty or holds a share of
        // this very version (a bad copy of it): a slot another writer's version took stays.
        let version = Array(SHA256.hash(data: head.encoded))
        let missing = Set(members.indices.prefix(config.n)).subtracting(holders).filter { index in
            guard members[index].writable else { return false }
            guard let store = members[index].shares, let slot = try? store.readRecord(Self.slot(name, head.seq)) else { return true }
            return HeadShare(slot).map { $0.version == version } ?? true
        }
        guard !missing.isEmpty else { return (reading, []) }
        var placed: [String] = []
        if case .placed(let labels) = try place(head, name: name, trips: &trips, only: Set(missing), overwrite: true) { placed = labels }
        return (reading, placed)
    }
}

/// k-element subsets of 0..<n to try decoding from: the first k, then every one that leaves out
/// a single element when that is all there are to try, else `tries` drawn at random (seeded, so
/// a reading is repeatable). A bad share among m cannot hide a version: half or more of random
/// subsets leave it out when m ≥ 2k.
func subsets(_ n: Int, _ k: Int, tries: Int) -> [[Int]] {
    guard k > 0, k <= n else { return [] }
    var result: [[Int]] = [Array(0..<k)]
    var seen: Set<[Int]> = [result[0]]
    var random = SplitMix64(seed: UInt64(n) << 32 | UInt64(k))
    var attempts = 0
    while result.count < tries && attempts < 8 * tries {
        attempts += 1
        var pool = Array(0..<n)
        var pick: [Int] = []
        for _ in 0..<k { pick.append(pool.remove(at: Int(random.next() % UInt64(pool.count)))) }
        pick.sort()
        if seen.insert(pick).inserted { result.append(pick) }
    }
    return result
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

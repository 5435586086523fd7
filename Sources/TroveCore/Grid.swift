import Crypto

/// A grid store's coding parameters and members: objects are split into segments, each
/// encoded k-of-n (zfec's Reed-Solomon code), and the n shares spread one per member store.
/// Any k shares give the object back. See docs/grid.md.
public struct GridConfig: Codable, Sendable, Equatable {
    /// Shares needed to read an object back.
    public var k: Int
    /// Shares made of each object (at most one per member).
    public var n: Int
    /// Servers of happiness: an upload counts only once its shares sit on this many distinct
    /// failure domains.
    public var happy: Int
    /// Repair an object when its good shares fall to this many (not at the first loss).
    public var repairAt: Int
    /// Member store IDs, in the order they joined.
    public var members: [String]
    /// Members were added: the next heal places shares on every member that holds none.
    public var rebalance: Bool?

    public init(k: Int, n: Int, happy: Int? = nil, repairAt: Int? = nil, members: [String]) {
        self.k = k
        self.n = n
        self.members = members
        self.happy = happy ?? min(n, members.count)
        self.repairAt = repairAt ?? GridConfig.defaultRepairAt(k: k, n: n)
    }

    /// Halfway between k and n, rounded up: 3-of-10 repairs at 7 good shares, so one lost
    /// member never starts a repair, but the grid never drifts close to k.
    public static func defaultRepairAt(k: Int, n: Int) -> Int { k + (n - k + 1) / 2 }

    /// Why these parameters cannot make a grid, or nil when they can.
    public static func problem(k: Int, n: Int, happy: Int, repairAt: Int, members: Int, domains: Int) -> String? {
        if !(1...256).contains(n) || !(1...n).contains(k) { return "k and n must satisfy 1 ≤ k ≤ n ≤ 256 (got \(k)-of-\(n))." }
        if members < k { return "A \(k)-of-\(n) grid needs at least \(k) member stores (got \(members))." }
        if members > n { return "A grid of n = \(n) places one share per member: give at most \(n) members, or a larger --n." }
        if domains < k {
            return "The members live on \(domains) disk\(domains == 1 ? "" : "s"), but a \(k)-of-\(n) grid needs members on at least \(k) different disks (stores on one disk fail together); add members on other disks, or declare each store's disk with `trove store set LABEL --disk NAME`."
        }
        if !(k...n).contains(happy) { return "--happy must lie between k (\(k)) and n (\(n))." }
        if happy > domains {
            return "--happy \(happy) needs shares on \(happy) different disks, but the members live on \(domains); add members on other disks or lower --happy."
        }
        if !(k...n).contains(repairAt) { return "--repair-at must lie between k (\(k)) and n (\(n))." }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case k, n, happy, members, rebalance
        case repairAt = "repair_at"
    }
}

/// The durability one object's shares are worth: how many failure domains must be lost before
/// fewer than `k` shares remain (losing the domains that hold the most shares first), so 3-of-10
/// shares on ten disks are worth 8 (they survive the loss of any 7). Zero below k shares. Pure.
public func gridWeight(sharesPerDomain: [Int], k: Int) -> Int {
    var remaining = sharesPerDomain.reduce(0, +)
    guard k > 0, remaining >= k else { return 0 }
    var lost = 0
    for count in sharesPerDomain.sorted(by: >) where count > 0 {
        remaining -= count
        lost += 1
        if remaining < k { break }
    }
    return lost
}

/// The weight of one object's shares spread over `domains` (one share per entry, repeated
/// domains for members that share a disk).
public func gridWeight(shareDomains domains: [String], k: Int) -> Int {
    gridWeight(sharesPerDomain: Dictionary(grouping: domains, by: { $0 }).values.map(\.count), k: k)
}

/// What a grid is guaranteed to be worth for each object it counts: the weight of `happy`
/// shares, one per domain (an upload counts only when it reaches that many domains), and
/// never more than the trusted members could hold.
public func gridStoreWeight(_ config: GridConfig, trustedMemberDomains: [String]) -> Int {
    let distinct = Set(trustedMemberDomains).count
    return min(max(0, min(config.happy, distinct) - config.k + 1), gridWeight(shareDomains: trustedMemberDomains, k: config.k))
}

/// Where each share of an object goes: Tahoe's permuted ring. Members are ordered by a hash of
/// the object ID with the member's ID, so each object spreads its shares over the members in
/// its own order (no member is always first). Share i goes to the i-th member in that order.
public func permutedMembers(_ members: [String], objectID: ContentID) -> [String] {
    members.map { ($0, Array(SHA256.hash(data: Array("trove grid ring\u{0}".utf8) + objectID.bytes + Array($0.utf8)))) }
        .sorted { $0.1.lexicographicallyPrecedes($1.1) }
        .map(\.0)
}

/// A grid copy's durability as people read it: "survives the loss of any 7 of its 10 member
/// stores". `weight` is the copy's weight (`gridWeight`).
public func gridSentence(weight: Int, members: Int) -> String {
    switch weight {
    case 0: "cannot be read back: fewer good shares than it needs"
    case 1: "survives no loss: every one of its \(members) member stores is needed"
    default: "survives the loss of any \(weight - 1) of its \(members) member stores"
    }
}

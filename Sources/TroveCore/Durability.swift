/// One copy of a file as durability counts it.
public struct CountedCopy: Sendable, Equatable {
    public var storeID: String
    /// The store's copy weight (0 while an uncounted copy awaits re-verification).
    public var weight: Int
    /// The store's failure domain (`StoreRecord.domain`): the disk it lives on.
    public var domain: String
    /// The store is trusted (its copies count at all).
    public var trusted: Bool

    public init(storeID: String, weight: Int, domain: String, trusted: Bool = true) {
        self.storeID = storeID
        self.weight = weight
        self.domain = domain
        self.trusted = trusted
    }
}

/// The durability rule: copies on trusted stores count by weight, and copies that share a
/// failure domain (stores on one disk) count once, at the larger weight. A dying disk takes
/// every copy on it, so three folders on one drive are one copy, not three. The catalog keeps
/// the same rule in SQL for its maintained totals (`SQLiteCatalog.durabilityOf`, checked
/// against this function by a property test).
public func durability(of copies: [CountedCopy]) -> Int {
    byDomain(copies).values.reduce(0, +)
}

/// The largest counted weight in each failure domain.
public func byDomain(_ copies: [CountedCopy]) -> [String: Int] {
    var best: [String: Int] = [:]
    for copy in copies where copy.trusted && copy.weight > 0 {
        best[copy.domain] = max(best[copy.domain] ?? 0, copy.weight)
    }
    return best
}

/// What one more copy on a store adds: its weight above what its domain already counts.
public func durabilityGain(weight: Int, domain: String, held: [String: Int]) -> Int {
    max(0, weight - (held[domain] ?? 0))
}

/// One copy of a file as durability counts it.
public struct CountedCopy: Sendable, Equatable {
    public var storeID: String
    /// The store's copy weight (0 while an uncounted copy awaits re-verification).
    public var weight: Int
    /// The store's failure domain (`StoreRecord.domain`): the disk it lives on.
    public var domain: String
    /// The store is trusted (its copies count at all).
    public var trusted: Bool
    /// For a grid's copy: the failure domains of its members (`StoreRecord.shareDomains`). A
    /// whole copy on one of them adds nothing: losing that disk takes the copy and a share.
    public var absorbs: Set<String>

    public init(storeID: String, weight: Int, domain: String, trusted: Bool = true, absorbs: Set<String> = []) {
        self.storeID = storeID
        self.weight = weight
        self.domain = domain
        self.trusted = trusted
        self.absorbs = absorbs
    }
}

/// The durability rule: copies on trusted stores count by weight, and copies that share a
/// failure domain (stores on one disk) count once, at the larger weight. A dying disk takes
/// every copy on it, so three folders on one drive are one copy, not three. A grid's copy
/// counts what its shares survive (`gridWeight`), and a whole copy on a disk that also holds
/// one of its shares adds nothing more (never an overstatement: exact while such copies are no
/// more than the grid's weight, an underestimate beyond). The catalog keeps the same rule in
/// SQL for its maintained totals (`SQLiteCatalog.durabilityOf`, checked against this function
/// by a property test).
public func durability(of copies: [CountedCopy]) -> Int {
    byDomain(copies).total
}

/// What a file's copies count for, by failure domain.
public struct HeldDomains: Sendable, Equatable {
    /// The largest counted weight in each failure domain.
    public var weights: [String: Int] = [:]
    /// Domains that hold a share of a counted grid copy: a whole copy there adds nothing.
    public var absorbed: Set<String> = []

    public init(weights: [String: Int] = [:], absorbed: Set<String> = []) {
        self.weights = weights
        self.absorbed = absorbed
    }

    public var total: Int { weights.values.reduce(0, +) }

    /// What one more copy on a store adds: its weight above what its domain already counts,
    /// nothing on a domain a grid copy already covers.
    public func gain(weight: Int, domain: String) -> Int {
        absorbed.contains(domain) ? 0 : max(0, weight - (weights[domain] ?? 0))
    }

    /// Counts one more copy (as placement plans it).
    public mutating func add(weight: Int, domain: String) {
        weights[domain] = max(weights[domain] ?? 0, weight)
    }
}

/// The counted weight of each failure domain, leaving out whole copies on domains a counted
/// grid copy covers.
public func byDomain(_ copies: [CountedCopy]) -> HeldDomains {
    let counted = copies.filter { $0.trusted && $0.weight > 0 }
    var held = HeldDomains()
    held.absorbed = counted.reduce(into: Set<String>()) { $0.formUnion($1.absorbs) }
    for copy in counted where copy.absorbs.isEmpty ? !held.absorbed.contains(copy.domain) : true {
        held.add(weight: copy.weight, domain: copy.domain)
    }
    return held
}

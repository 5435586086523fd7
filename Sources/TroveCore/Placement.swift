/// A store that could receive a new copy.
public struct PlacementCandidate: Sendable, Equatable {
    public var storeID: String
    /// Durability one copy there adds.
    public var weight: Int
    /// Free bytes above the reserve.
    public var available: Int64
    /// Copies being written there right now (at most one recovery per store).
    public var busy: Bool
    /// Its failure domain (the disk): a second copy on one disk adds nothing.
    public var domain: String

    public init(storeID: String, weight: Int, available: Int64, busy: Bool = false, domain: String? = nil) {
        self.storeID = storeID
        self.weight = weight
        self.available = available
        self.busy = busy
        self.domain = domain ?? "store:" + storeID
    }
}

/// Picks stores for new copies of a file until it reaches `target`: never a store that already
/// holds it, never one without room, never a disk whose copy already counts as much (see
/// `durability(of:)`), most free space first. Pure.
public func placement(size: UInt64, held: [CountedCopy], target: Int, candidates: [PlacementCandidate]) -> [String] {
    var chosen: [String] = []
    var domains = byDomain(held)
    var reached = domains.total
    let holding = Set(held.map(\.storeID))
    let eligible = candidates
        .filter { !holding.contains($0.storeID) && $0.weight > 0 && !$0.busy && $0.available >= Int64(size) }
        .sorted { ($0.available, $0.storeID) > ($1.available, $1.storeID) }
    for candidate in eligible where reached < target {
        let gain = domains.gain(weight: candidate.weight, domain: candidate.domain)
        guard gain > 0 else { continue }
        chosen.append(candidate.storeID)
        reached += gain
        domains.add(weight: candidate.weight, domain: candidate.domain)
    }
    return chosen
}

/// A store that could receive a new copy.
public struct PlacementCandidate: Sendable, Equatable {
    public var storeID: String
    /// Durability one copy there adds.
    public var weight: Int
    /// Free bytes above the reserve.
    public var available: Int64
    /// Copies being written there right now (at most one recovery per store).
    public var busy: Bool

    public init(storeID: String, weight: Int, available: Int64, busy: Bool = false) {
        self.storeID = storeID
        self.weight = weight
        self.available = available
        self.busy = busy
    }
}

/// Picks stores for new copies of a file until it reaches `target`: never a store that already
/// holds it, never one without room or weight, most free space first. Pure.
public func placement(size: UInt64, durability: Int, target: Int, holding: Set<String>,
                      candidates: [PlacementCandidate]) -> [String] {
    var chosen: [String] = []
    var reached = durability
    let eligible = candidates
        .filter { !holding.contains($0.storeID) && $0.weight > 0 && !$0.busy && $0.available >= Int64(size) }
        .sorted { ($0.available, $0.storeID) > ($1.available, $1.storeID) }
    for candidate in eligible where reached < target {
        chosen.append(candidate.storeID)
        reached += candidate.weight
    }
    return chosen
}

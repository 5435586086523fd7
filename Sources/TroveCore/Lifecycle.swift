import Foundation

/// When unseen stores stop counting and when they are forgotten (Dmedia's 2013 defaults).
public struct LifecyclePolicy: Sendable, Equatable {
    public var downgradeAfter: TimeInterval = 3 * 86_400
    public var purgeAfter: TimeInterval = 8 * 86_400
    public init(downgradeAfter: TimeInterval = 3 * 86_400, purgeAfter: TimeInterval = 8 * 86_400) {
        self.downgradeAfter = downgradeAfter
        self.purgeAfter = purgeAfter
    }
}

/// What looking for a store found, reduced to what the rules need.
public enum Presence: Sendable, Equatable {
    case connected
    case missing
    /// The drive is there but its store is gone (reformatted, wiped).
    case wiped
}

/// A change the lifecycle rules decide for one store.
public enum LifecycleDecision: Sendable, Equatable {
    /// Connected: refresh last-seen and free space.
    case seen(storeID: String)
    /// Unseen too long: copies stop counting.
    case downgrade(storeID: String, reason: String)
    /// Gone: copy records are dropped.
    case purge(storeID: String, reason: String)
    /// A store downgraded for being away is back: it counts again once its copies re-verify.
    case returned(storeID: String)
}

/// The store lifecycle as a pure function of the stores, what was observed and `now`.
public func lifecycleDecisions(stores: [StoreRecord], presence: [String: Presence], now: Date,
                               policy: LifecyclePolicy = LifecyclePolicy()) -> [LifecycleDecision] {
    var decisions: [LifecycleDecision] = []
    for store in stores where store.trust != .purged {
        switch presence[store.id] ?? .missing {
        case .connected:
            decisions.append(.seen(storeID: store.id))
            // A store downgraded for absence (not for corruption) comes back into service.
            if store.trust == .downgraded && !store.noNewCopies { decisions.append(.returned(storeID: store.id)) }
        case .wiped:
            decisions.append(.purge(storeID: store.id, reason: "its drive is connected but the store is gone (reformatted or wiped)"))
        case .missing:
            let unseen = now.timeIntervalSince(store.lastSeen ?? store.created)
            if unseen >= policy.purgeAfter {
                decisions.append(.purge(storeID: store.id, reason: "unseen for \(days(unseen)) days"))
            } else if unseen >= policy.downgradeAfter && store.trust == .trusted {
                decisions.append(.downgrade(storeID: store.id, reason: "unseen for \(days(unseen)) days"))
            }
        }
    }
    return decisions
}

func days(_ interval: TimeInterval) -> String {
    let value = interval / 86_400
    return value.rounded() == value ? String(Int(value)) : String(format: "%.1f", value)
}

import Foundation

/// How urgent an alert is; maps to the monitoring-plugin exit codes of `trove status`.
public enum Severity: String, Codable, Sendable, Comparable {
    case info, warning, critical
    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    var rank: Int { switch self { case .info: 0; case .warning: 1; case .critical: 2 } }
}

/// One "should I worry?" answer: what is wrong, how bad, and what to do.
public struct Alert: Codable, Sendable, Equatable {
    public var kind: String
    public var severity: Severity
    public var message: String
    public var action: String
    public var storeID: String?
    public var storeLabel: String?
    public var files: Int?
    public var bytes: Int64?
}

/// The facts the alert rules read; the engine gathers them from the catalog and the stores.
public struct LibraryFacts: Sendable {
    public struct StoreFacts: Sendable {
        public var record: StoreRecord
        public var connected: Bool
        /// Files whose only counted copies include this one while it is not connected.
        public var dependentFiles: Int
        /// Corrupt copies found since the user last acknowledged a failure here.
        public var unacknowledgedCorruptions: Int
        public init(record: StoreRecord, connected: Bool, dependentFiles: Int = 0, unacknowledgedCorruptions: Int = 0) {
            self.record = record
            self.connected = connected
            self.dependentFiles = dependentFiles
            self.unacknowledgedCorruptions = unacknowledgedCorruptions
        }
    }

    public var target: Int
    /// Durability → (files, bytes).
    public var durability: [Int: (files: Int, bytes: UInt64)]
    public var stores: [StoreFacts]
    /// Free space each store keeps back (new copies never eat into it).
    public var reserve: Int64

    public init(target: Int, durability: [Int: (files: Int, bytes: UInt64)], stores: [StoreFacts], reserve: Int64) {
        self.target = target
        self.durability = durability
        self.stores = stores
        self.reserve = reserve
    }

    /// Bytes still to be written for every file to reach the target.
    public var bytesBelowTarget: UInt64 {
        durability.reduce(0) { $0 + UInt64(max(0, target - $1.key)) * $1.value.bytes }
    }
}

/// The four Dmedia "when to panic" alerts as a pure function of the facts and `now`.
public func alerts(for facts: LibraryFacts, now: Date) -> [Alert] {
    var result: [Alert] = []
    for store in facts.stores where store.unacknowledgedCorruptions > 0 {
        let label = store.record.label
        result.append(Alert(kind: "drive_failure", severity: .critical,
                            message: "Store '\(label)' returned \(store.unacknowledgedCorruptions) corrupt cop\(store.unacknowledgedCorruptions == 1 ? "y" : "ies"); its drive may be failing. Trove stopped placing copies there and is healing from other copies.",
                            action: "Check or replace the drive holding '\(label)'; then run `trove store ack \(label)` to clear this alert.",
                            storeID: store.record.id, storeLabel: label, files: store.unacknowledgedCorruptions))
    }
    for store in facts.stores where !store.connected && store.dependentFiles > 0 && store.record.trust != .purged {
        let label = store.record.label
        let seen = store.record.lastSeen.map { " (last seen \(Int(now.timeIntervalSince($0) / 3600)) h ago at \(store.record.location))" } ?? ""
        result.append(Alert(kind: "disconnected_drive", severity: .critical,
                            message: "\(store.dependentFiles) file\(store.dependentFiles == 1 ? "" : "s") have no good copy on any connected store except on '\(label)', which is not connected\(seen).",
                            action: "Plug in the drive holding '\(label)' (or turn on the machine it is attached to), then run `trove heal`.",
                            storeID: store.record.id, storeLabel: label, files: store.dependentFiles))
    }
    let usable = facts.stores.filter { $0.connected && $0.record.trust == .trusted && !$0.record.noNewCopies && $0.record.copies > 0 }
    let weight = usable.reduce(0) { $0 + $1.record.copies }
    let free = usable.reduce(Int64(0)) { $0 + max(0, ($1.record.free ?? 0) - facts.reserve) }
    let needed = facts.bytesBelowTarget
    let totalFiles = facts.durability.values.reduce(0) { $0 + $1.files }
    if totalFiles > 0 && weight < facts.target {
        result.append(Alert(kind: "insufficient_storage", severity: .critical,
                            message: "Only \(usable.count) connected store\(usable.count == 1 ? "" : "s") can take copies (weight \(weight)), but every file needs \(facts.target) copies on separate stores.",
                            action: "Add \(facts.target - weight) more store\(facts.target - weight == 1 ? "" : "s") on other drives with `trove store add FOLDER`, or plug in a known one.",
                            bytes: Int64(needed)))
    } else if needed > UInt64(free) {
        let short = Int64(needed) - free
        result.append(Alert(kind: "insufficient_storage", severity: .critical,
                            message: "Reaching \(facts.target) copies of everything needs \(formatBytes(needed)) more, but the connected stores have \(formatBytes(UInt64(free))) free.",
                            action: "Free or add at least \(formatBytes(UInt64(short))) of space on stores that accept copies (`trove store add FOLDER`).",
                            bytes: short))
    }
    let fragile = facts.durability.filter { $0.key < 2 }.reduce(0) { $0 + $1.value.files }
    if fragile > 0 {
        result.append(Alert(kind: "low_durability", severity: .warning,
                            message: "\(fragile) file\(fragile == 1 ? " has" : "s have") fewer than 2 good copies; Trove is still copying.",
                            action: "Wait for `trove heal` (or `trove serve`) to finish before unplugging drives.",
                            files: fragile))
    }
    return result
}

/// Human-readable byte count (binary units).
public func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
}

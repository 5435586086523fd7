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
    /// Per failure domain (disk): bytes of below-target files that have no copy there, i.e.
    /// what stores on that disk could still usefully take. Missing: not measured.
    public var domainNeeds: [String: UInt64] = [:]
    /// Files heal left below target, grouped by why.
    public var stuck: [StuckGroup] = []
    /// Files no store holds any copy of.
    public var lost: [LostFile] = []
    /// When the library's records last reached the stores (or the library was made, or its
    /// catalog rebuilt), and whether the catalog holds changes to files, imports, copies or
    /// snapshots they lack.
    public var recordsWritten: Date?
    public var recordsPending = false
    /// The machine this runs on (stores record the machine they were last seen on).
    public var thisMachine: String?
    /// Left by a catalog rebuild that could not see everything: snapshots not indexed, stores not listed.
    public var rebuildGaps: (snapshots: Int, stores: [String]) = (0, [])

    public init(target: Int, durability: [Int: (files: Int, bytes: UInt64)], stores: [StoreFacts], reserve: Int64,
                domainNeeds: [String: UInt64] = [:], stuck: [StuckGroup] = [], lost: [LostFile] = []) {
        self.target = target
        self.durability = durability
        self.stores = stores
        self.reserve = reserve
        self.domainNeeds = domainNeeds
        self.stuck = stuck
        self.lost = lost
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
        result.append(disconnectedAlert(store, thisMachine: facts.thisMachine, now: now))
    }
    result += lostAlerts(facts.lost)
    result += recordsAlerts(facts, now: now)
    // Reasons heal recorded that still hold (a store remounted read-write since is not stuck).
    // The most free space on a usable store whose disk still lacks some of those files.
    let roomiest = facts.stores.filter {
        $0.connected && $0.record.trust == .trusted && !$0.record.noNewCopies && !$0.record.readOnly
            && (facts.domainNeeds[$0.record.domain] ?? 0) > 0
    }.map { ($0.record.free ?? 0) - facts.reserve }.max() ?? 0
    let stuck = facts.stuck.filter { group in
        // Space freed since heal ran: no longer stuck for room (heal will copy).
        if group.kind == .noRoom && roomiest >= Int64(clamping: group.largest) { return false }
        guard let label = group.storeLabel, let store = facts.stores.first(where: { $0.record.label == label }) else { return true }
        switch group.kind {
        case .readOnly: return store.record.readOnly
        case .notConnected: return !store.connected
        case .noNewCopies: return store.record.noNewCopies
        case .notTrusted: return store.record.trust != .trusted
        default: return true
        }
    }
    result += stuck.map { stuckAlert($0, target: facts.target) }
    let usable = facts.stores.filter {
        $0.connected && $0.record.trust == .trusted && !$0.record.noNewCopies && !$0.record.readOnly && $0.record.copies > 0
    }
    // Stores on one disk count once: weight and space per failure domain.
    var weights: [String: Int] = [:]
    var frees: [String: Int64] = [:]
    for store in usable {
        weights[store.record.domain] = max(weights[store.record.domain] ?? 0, store.record.copies)
        frees[store.record.domain] = max(frees[store.record.domain] ?? 0, max(0, (store.record.free ?? 0) - facts.reserve))
    }
    let weight = weights.values.reduce(0, +)
    let needed = facts.bytesBelowTarget
    // A disk can only take copies of files it does not already hold.
    let free = frees.reduce(Int64(0)) { total, item in
        total + min(item.value, Int64(clamping: facts.domainNeeds[item.key] ?? UInt64(item.value)))
    }
    let totalFiles = facts.durability.values.reduce(0) { $0 + $1.files }
    let stuckForRoom = stuck.contains { $0.kind == .noRoom || $0.kind == .sameDisk }
    if totalFiles > 0 && weight < facts.target {
        let disks = weights.count
        result.append(Alert(kind: "insufficient_storage", severity: .critical,
                            message: "Only \(usable.count) connected store\(usable.count == 1 ? "" : "s") on \(disks) disk\(disks == 1 ? "" : "s") can take copies (weight \(weight)), but every file needs \(facts.target) copies on separate disks.",
                            action: "Add \(facts.target - weight) more store\(facts.target - weight == 1 ? "" : "s") on other drives with `trove store add FOLDER`, or plug in a known one.",
                            bytes: Int64(needed)))
    } else if needed > UInt64(free) && !stuckForRoom {
        let short = Int64(needed) - free
        result.append(Alert(kind: "insufficient_storage", severity: .critical,
                            message: "Reaching \(facts.target) copies of everything needs \(formatBytes(needed)) more on disks that do not hold those files yet, but they have \(formatBytes(UInt64(free))) free.",
                            action: "Free or add at least \(formatBytes(UInt64(short))) of space on stores that accept copies (`trove store add FOLDER`).",
                            bytes: short))
    }
    let fragile = facts.durability.filter { $0.key < 2 }.reduce(0) { $0 + $1.value.files } - stuck.reduce(0) { $0 + $1.fragile }
    if fragile > 0 {
        result.append(Alert(kind: "low_durability", severity: .warning,
                            message: "\(fragile) file\(fragile == 1 ? " has" : "s have") fewer than 2 good copies; Trove has not finished copying them.",
                            action: "Run `trove heal` (or keep `trove serve` running) and wait for it to finish before unplugging drives.",
                            files: fragile))
    }
    return result
}

/// The alert for files heal cannot bring to target on its own: what blocks them and what to do.
public func stuckAlert(_ group: StuckGroup, target: Int) -> Alert {
    let files = "\(group.files) file\(group.files == 1 ? "" : "s") (\(formatBytes(group.bytes)))"
    let head = "\(files) cannot reach \(target) copies"
    let label = group.storeLabel ?? "?"
    let (message, action): (String, String)
    switch group.kind {
    case .readOnly:
        (message, action) = ("\(head): store '\(label)' is read-only.",
                             "\(label) is read-only: remount it read-write (or fix its permissions), then run `trove heal`.")
    case .noRoom:
        (message, action) = ("\(head): no store on a disk that lacks them has \(formatBytes(group.largest)) free\(group.files == 1 ? "" : " (the largest file's size)").",
                             "Free space on a store or add a store on another drive (`trove store add FOLDER`), then run `trove heal`.")
    case .sameDisk:
        (message, action) = ("\(head): every store that takes copies is on a disk that already holds them.",
                             "Add a store on another drive (`trove store add FOLDER`); folders on one disk count as one copy.")
    case .noNewCopies:
        (message, action) = ("\(head): store '\(label)' is flagged to receive no new copies.",
                             "If the drive holding '\(label)' is fine, run `trove store set \(label) --new-copies`; otherwise add a store on another drive.")
    case .notTrusted:
        (message, action) = ("\(head): store '\(label)' is downgraded and takes no copies.",
                             "Reconnect '\(label)' so its copies re-verify, or add a store on another drive.")
    case .notConnected:
        (message, action) = ("\(head): the store that could take them, '\(label)', is not connected.",
                             "Plug in the drive holding '\(label)', then run `trove heal`.")
    case .noSource:
        (message, action) = ("\(head): no connected store holds a good copy to copy from\(group.detail.map { " (\($0))" } ?? "").",
                             "Plug in a drive that holds them (`trove whereis ID` lists where), then run `trove heal`.")
    case .writeFailed:
        (message, action) = ("\(head): writing new copies failed\(group.detail.map { ": \($0)" } ?? "").",
                             "Check the drive named above (`trove events --kind write_failed`), then run `trove heal`.")
    }
    return Alert(kind: "stuck_below_target", severity: .critical, message: message, action: action,
                 storeLabel: group.storeLabel, files: group.files, bytes: Int64(clamping: group.bytes))
}

/// Alerts for files no store holds any more: lost snapshot manifests, and what lost content
/// takes away from which snapshots.
func lostAlerts(_ lost: [LostFile]) -> [Alert] {
    var result: [Alert] = []
    for file in lost {
        guard let snapshot = file.manifestOf else { continue }
        result.append(Alert(kind: "lost_snapshot_manifest", severity: .critical,
                            message: "Snapshot \(snapshot.id.prefix(12)) of \(snapshot.root) (\(snapshot.time.formatted(.iso8601))) has no good copy of its manifest left on any store: it can no longer be rebuilt from the stores. This catalog still lists what it held (`trove ls \(snapshot.id.prefix(12))`), and its files restore while they have copies.",
                            action: "Take a new snapshot of \(snapshot.root) (`trove snapshot \(snapshot.root)`) so its contents are recorded in the stores again; check the drives that held the manifest.",
                            files: 1, bytes: Int64(clamping: file.size)))
    }
    let content = lost.filter { $0.manifestOf == nil }
    guard !content.isEmpty else { return result }
    var bySnapshot: [String: (snapshot: SnapshotRecord, paths: [String])] = [:]
    for file in content {
        for (snapshot, path) in file.inSnapshots { bySnapshot[snapshot.id, default: (snapshot, [])].paths.append(path) }
    }
    let named = bySnapshot.values.sorted { $0.snapshot.seq < $1.snapshot.seq }.prefix(5).map { item in
        "snapshot \(item.snapshot.id.prefix(12)) of \(item.snapshot.root) (\(item.snapshot.time.formatted(.iso8601))) can no longer restore "
            + item.paths.prefix(3).joined(separator: ", ") + (item.paths.count > 3 ? " and \(item.paths.count - 3) more" : "")
    }
    let bytes = content.reduce(UInt64(0)) { $0 + $1.size }
    result.append(Alert(kind: "lost_files", severity: .critical,
                        message: "\(content.count) file\(content.count == 1 ? " has" : "s have") no copy left on any store (every copy was missing or corrupt)\(named.isEmpty ? "" : ": " + named.joined(separator: "; "))\(bySnapshot.count > 5 ? "; and \(bySnapshot.count - 5) more snapshots" : "").",
                        action: "Plug in any drive that may still hold them and run `trove verify`; otherwise restore them from another backup. The index keeps what each snapshot held.",
                        files: content.count, bytes: Int64(clamping: bytes)))
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

/// A day without the library's records reaching the stores while changes wait; and what a
/// catalog rebuild could not see.
func recordsAlerts(_ facts: LibraryFacts, now: Date) -> [Alert] {
    var result: [Alert] = []
    if facts.recordsPending, let written = facts.recordsWritten, now.timeIntervalSince(written) >= 86_400 {
        let days = Int(now.timeIntervalSince(written) / 86_400)
        result.append(Alert(kind: "stale_catalog_backup", severity: .warning,
                            message: "The library's records in the stores are \(days) day\(days == 1 ? "" : "s") old and the catalog has changed since: if the catalog were lost now, `trove catalog rebuild` would find the newer files only as recovered imports.",
                            action: "Run `trove catalog backup` (or keep `trove serve` running), with a store connected."))
    }
    if facts.rebuildGaps.snapshots > 0 || !facts.rebuildGaps.stores.isEmpty {
        var parts: [String] = []
        if facts.rebuildGaps.snapshots > 0 { parts.append("\(facts.rebuildGaps.snapshots) snapshot\(facts.rebuildGaps.snapshots == 1 ? " was" : "s were") not indexed (gc waits for them)") }
        if !facts.rebuildGaps.stores.isEmpty { parts.append("store\(facts.rebuildGaps.stores.count == 1 ? "" : "s") \(facts.rebuildGaps.stores.joined(separator: ", ")) could not be listed") }
        result.append(Alert(kind: "rebuild_incomplete", severity: .warning,
                            message: "The catalog was rebuilt without every store: " + parts.joined(separator: "; ") + ".",
                            action: "Connect the missing stores and run `trove catalog rebuild` again."))
    }
    return result
}

/// How long ago, for people: minutes, hours, then days.
func ago(_ seconds: TimeInterval) -> String {
    if seconds < 7200 { return "\(max(1, Int(seconds / 60))) min ago" }
    if seconds < 2 * 86_400 { return "\(Int(seconds / 3600)) h ago" }
    return "\(Int(seconds / 86_400)) days ago"
}

/// A store on another machine's drive that cannot be reached: the machine is off, its
/// `trove serve` is not running, or (removable) the drive was unplugged from it.
func disconnectedPeerAlert(_ store: LibraryFacts.StoreFacts, files: String, now: Date) -> Alert {
    let record = store.record, label = record.label
    let machine = record.machine ?? "the machine serving it"
    let what = record.removable == true ? "the removable drive on \(machine)" : "the drive inside \(machine)"
    let lastSeen = record.lastSeen.map { ", last seen \(ago(now.timeIntervalSince($0)))" } ?? ""
    let action = record.removable == true
        ? "Plug the drive holding '\(label)' into \(machine) (or any machine that serves it with `trove serve --host-store`), then run `trove heal`."
        : "Turn on \(machine) and check that `trove serve --listen` runs there (the drive holding '\(label)' is inside it), then run `trove heal`."
    return Alert(kind: "disconnected_drive", severity: .critical,
                 message: "\(files) \(store.dependentFiles == 1 ? "has" : "have") no good copy on any connected store except on '\(label)', \(what)\(lastSeen), which cannot be reached.",
                 action: action, storeID: record.id, storeLabel: label, files: store.dependentFiles)
}

/// Dmedia's "disconnected drive": the only good copies of some files are on a store that is
/// not connected. Says which drive, which machine it was last seen on and when, and the one
/// action: plug a removable drive into any machine, turn on the machine an internal one is in,
/// or reach a remote store again.
func disconnectedAlert(_ store: LibraryFacts.StoreFacts, thisMachine: String?, now: Date) -> Alert {
    let record = store.record, label = record.label
    let files = "\(store.dependentFiles) file\(store.dependentFiles == 1 ? "" : "s")"
    if record.kind == .peer { return disconnectedPeerAlert(store, files: files, now: now) }
    let what: String
    switch (record.kind.isAttached, record.removable) {
    case (false, _): what = "the \(record.kind.rawValue) store"
    case (true, true?): what = "the removable drive"
    case (true, false?): what = "the internal drive"
    case (true, nil): what = "the drive"
    }
    var seen: [String] = []
    if let machine = record.machine { seen.append("on \(machine == thisMachine ? "this machine (\(machine))" : machine)") }
    if let last = record.lastSeen { seen.append(ago(now.timeIntervalSince(last))) }
    let lastSeen = seen.isEmpty ? "" : ", last seen " + seen.joined(separator: " ") + (record.kind.isAttached ? " at \(record.location)" : "")
    let action: String
    switch (record.kind.isAttached, record.removable, record.machine) {
    case (false, _, _):
        action = "Check that \(record.location) can be reached from here (network, service, credentials), then run `trove heal`."
    case (true, true?, let machine):
        action = "Plug the drive holding '\(label)' into any machine running Trove\(machine.map { $0 == thisMachine ? "" : " (it was last on \($0))" } ?? ""), then run `trove heal`."
    case (true, false?, let machine?) where machine != thisMachine:
        action = "Turn on \(machine): the drive holding '\(label)' is inside it. Then run `trove heal` there, or move the drive to a running machine."
    case (true, false?, _):
        action = "The drive holding '\(label)' is inside this machine: check that it is mounted at \(record.location) and healthy, then run `trove heal`."
    case (true, nil, _):
        action = "Plug in the drive holding '\(label)' (or turn on the machine it is attached to), then run `trove heal`."
    }
    return Alert(kind: "disconnected_drive", severity: .critical,
                 message: "\(files) \(store.dependentFiles == 1 ? "has" : "have") no good copy on any connected store except on '\(label)', \(what)\(lastSeen), which is not connected.",
                 action: action, storeID: record.id, storeLabel: label, files: store.dependentFiles)
}

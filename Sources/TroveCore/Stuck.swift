/// Why a file stays below its target when heal cannot fix it alone (a reason and a store).
public enum StuckKind: String, Codable, Sendable, CaseIterable {
    /// Every store that could add durability is on a disk that already holds a copy.
    case sameDisk = "same_disk"
    /// Stores on other disks lack room for the file.
    case noRoom = "no_room"
    /// The store that could take it is mounted read-only (or not writable).
    case readOnly = "read_only"
    /// The store that could take it is flagged to receive no new copies.
    case noNewCopies = "no_new_copies"
    /// The store that could take it is downgraded (not trusted).
    case notTrusted = "not_trusted"
    /// The store that could take it is not connected.
    case notConnected = "not_connected"
    /// No connected store holds a good copy to read from.
    case noSource = "no_source"
    /// Writing the copy failed (the detail says how).
    case writeFailed = "write_failed"
}

/// A store as the stuck rule sees it.
public struct StoreOption: Sendable {
    public var storeID: String
    public var label: String
    public var weight: Int
    public var domain: String
    public var connected: Bool
    public var trusted: Bool
    public var noNewCopies: Bool
    public var readOnly: Bool
    /// Free bytes above the reserve.
    public var available: Int64
    /// A grid's member domains (`CountedCopy.absorbs`).
    public var absorbs: Set<String>

    public init(storeID: String, label: String, weight: Int, domain: String, connected: Bool, trusted: Bool,
                noNewCopies: Bool, readOnly: Bool, available: Int64, absorbs: Set<String> = []) {
        self.absorbs = absorbs
        self.storeID = storeID
        self.label = label
        self.weight = weight
        self.domain = domain
        self.connected = connected
        self.trusted = trusted
        self.noNewCopies = noNewCopies
        self.readOnly = readOnly
        self.available = available
    }
}

/// Why placement cannot bring a file to `target`: among the stores on disks that would add
/// durability, the blocker the user can most directly fix (read-only, then no room, then a
/// flag, a downgrade, a missing drive), naming the store where one is to blame. Nil when some
/// store could take a copy (the cause is elsewhere: no source, a failed write). Pure.
public func whyBelowTarget(size: UInt64, held: [CountedCopy], target: Int,
                           stores: [StoreOption]) -> (kind: StuckKind, store: String?)? {
    let domains = byDomain(held)
    guard domains.total < target else { return nil }
    // A store whose copy does not count yet (downgraded, or awaiting re-verification) could
    // still add durability, as could any store on a disk that holds no counted copy.
    let uncounted = Set(held.filter { !$0.trusted || $0.weight == 0 }.map(\.storeID))
    let holding = Set(held.map(\.storeID)).subtracting(uncounted)
    let useful = stores.filter {
        !holding.contains($0.storeID) && $0.weight > 0 && domains.gain(weight: $0.weight, domain: $0.domain) > 0
    }
    guard !useful.isEmpty else { return (.sameDisk, nil) }
    func blocker(_ store: StoreOption) -> StuckKind? {
        if !store.connected { return .notConnected }
        if !store.trusted { return .notTrusted }
        // Its copy counts once re-verified: heal does that itself.
        if uncounted.contains(store.storeID) { return nil }
        if store.noNewCopies { return .noNewCopies }
        if store.readOnly { return .readOnly }
        if store.available < Int64(size) { return .noRoom }
        return nil
    }
    let blocked = useful.map { ($0, blocker($0)) }
    if blocked.contains(where: { $0.1 == nil }) { return nil }
    for kind in [StuckKind.readOnly, .noRoom, .notTrusted, .noNewCopies, .notConnected] {
        if let first = blocked.first(where: { $0.1 == kind }) { return (kind, kind == .noRoom ? nil : first.0.label) }
    }
    return nil
}

/// A file heal left below target, and why (recorded for `status`).
public struct StuckFile: Sendable, Equatable {
    public var fileID: ContentID
    public var kind: StuckKind
    public var storeLabel: String?
    public var detail: String?

    public init(fileID: ContentID, kind: StuckKind, storeLabel: String?, detail: String?) {
        self.fileID = fileID
        self.kind = kind
        self.storeLabel = storeLabel
        self.detail = detail
    }
}

/// Files still below target for one reason (and store).
public struct StuckGroup: Sendable, Equatable {
    public var kind: StuckKind
    public var storeLabel: String?
    public var files: Int
    public var bytes: UInt64
    /// The largest of them (what a store must have room for).
    public var largest: UInt64
    /// One example of what went wrong, for reasons found while copying.
    public var detail: String?
    /// How many of them have fewer than 2 counted copies.
    public var fragile: Int

    public init(kind: StuckKind, storeLabel: String?, files: Int, bytes: UInt64, largest: UInt64, detail: String?, fragile: Int = 0) {
        self.kind = kind
        self.storeLabel = storeLabel
        self.files = files
        self.bytes = bytes
        self.largest = largest
        self.detail = detail
        self.fragile = fragile
    }
}

/// A file no store holds any copy of any more, and what it was part of.
public struct LostFile: Sendable {
    public var fileID: ContentID
    public var size: UInt64
    /// Snapshot whose manifest this file is (nil for ordinary content).
    public var manifestOf: SnapshotRecord?
    /// Snapshots that listed it, with one path each.
    public var inSnapshots: [(snapshot: SnapshotRecord, path: String)]

    public init(fileID: ContentID, size: UInt64, manifestOf: SnapshotRecord?, inSnapshots: [(snapshot: SnapshotRecord, path: String)]) {
        self.fileID = fileID
        self.size = size
        self.manifestOf = manifestOf
        self.inSnapshots = inSnapshots
    }
}

import Foundation

/// How far Trove trusts a store's copies (Dmedia lifecycle).
public enum TrustState: String, Codable, Sendable, CaseIterable {
    /// Copies count toward durability.
    case trusted
    /// Unseen too long or suspected failing: copies are tracked but do not count.
    case downgraded
    /// Gone: copy records were dropped.
    case purged
}

/// The kinds of store; only `local` exists so far.
public enum StoreKind: String, Codable, Sendable, CaseIterable {
    /// A folder on a drive (the FileStore).
    case local
}

/// A store as the catalog knows it.
public struct StoreRecord: Codable, Sendable, Equatable {
    public var id: String
    public var label: String
    public var kind: StoreKind
    /// Where the store was last attached (a folder for local stores).
    public var location: String
    /// How many copies one object there counts for (1 for a drive, 0 for a cache).
    public var copies: Int
    /// Filesystem UUID of the drive holding it, when one could be read.
    public var filesystemUUID: String?
    public var created: Date
    public var trust: TrustState
    /// Set on a suspected failing drive: keep its copies tracked, place none there.
    public var noNewCopies: Bool
    public var lastSeen: Date?
    public var capacity: Int64?
    public var free: Int64?
    /// The disk it lives on as last detected (`disk:<serial>`, `loop:<image>`, `net:<source>`…).
    public var disk: String?
    /// That disk's short name (`sda`, `loop3`), for people.
    public var diskName: String?
    /// A failure domain the user declared (`store set --disk NAME`), overriding detection:
    /// stores declaring the same name share a domain.
    public var declaredDisk: String?
    /// The store refused writes when last seen (mounted read-only, or no write permission).
    public var readOnly: Bool

    public init(id: String, label: String, kind: StoreKind, location: String, copies: Int = 1,
                filesystemUUID: String? = nil, created: Date, trust: TrustState = .trusted,
                noNewCopies: Bool = false, lastSeen: Date? = nil, capacity: Int64? = nil, free: Int64? = nil,
                disk: String? = nil, diskName: String? = nil, declaredDisk: String? = nil, readOnly: Bool = false) {
        self.id = id
        self.label = label
        self.kind = kind
        self.location = location
        self.copies = copies
        self.filesystemUUID = filesystemUUID
        self.created = created
        self.trust = trust
        self.noNewCopies = noNewCopies
        self.lastSeen = lastSeen
        self.capacity = capacity
        self.free = free
        self.disk = disk
        self.diskName = diskName
        self.declaredDisk = declaredDisk
        self.readOnly = readOnly
    }

    /// The failure domain its copies belong to: the declared disk, else the detected one, else
    /// the store alone. (The catalog's SQL spells the same rule: `SQLiteCatalog.domainOf`.)
    public var domain: String {
        if let declaredDisk { return "declared:" + declaredDisk }
        return disk ?? "store:" + id
    }

    /// The disk as people know it: the declared name, the device name, or nothing known.
    public var diskShown: String? { declaredDisk ?? diskName }
}

/// Groups of stores that share one disk (each group of two or more, labels sorted), for
/// `status`, `store list` and `whereis` to say so.
public func sharedDisks(_ stores: [StoreRecord]) -> [[StoreRecord]] {
    Dictionary(grouping: stores.filter { $0.trust != .purged }, by: \.domain).values
        .filter { $0.count > 1 }
        .map { $0.sorted { $0.label < $1.label } }
        .sorted { $0[0].label < $1[0].label }
}

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

    public init(id: String, label: String, kind: StoreKind, location: String, copies: Int = 1,
                filesystemUUID: String? = nil, created: Date, trust: TrustState = .trusted,
                noNewCopies: Bool = false, lastSeen: Date? = nil, capacity: Int64? = nil, free: Int64? = nil) {
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
    }
}

import Foundation

/// A snapshot as the catalog indexes it.
public struct SnapshotRecord: Codable, Sendable, Equatable {
    /// The manifest's content ID (Trove snapshots) or a derived ID (external ones).
    public var id: String
    /// Order of creation across the library; versions of a path span ranges of these.
    public var seq: Int64
    /// The folder that was snapshotted (absolute).
    public var root: String
    public var time: Date
    public var tag: String?
    /// Some files could not be read; the snapshot says which.
    public var partial: Bool
    /// Indexed from a folder Trove did not make (ZFS, btrfs, dated copies); read-only.
    public var external: Bool
    /// For external snapshots: the folder holding that snapshot's files.
    public var source: String?
    public var entries: Int
    public var bytes: UInt64
    /// The root folder's own metadata as a manifest entry line (nil for external snapshots and
    /// snapshots taken before Trove recorded it).
    public var rootEntry: String?

    enum CodingKeys: String, CodingKey {
        case id, seq, root, time, tag, partial, external, source, entries, bytes
    }

    public init(id: String, seq: Int64 = 0, root: String, time: Date, tag: String? = nil, partial: Bool = false,
                external: Bool = false, source: String? = nil, entries: Int = 0, bytes: UInt64 = 0, rootEntry: String? = nil) {
        self.rootEntry = rootEntry
        self.id = id
        self.seq = seq
        self.root = root
        self.time = time
        self.tag = tag
        self.partial = partial
        self.external = external
        self.source = source
        self.entries = entries
        self.bytes = bytes
    }
}

/// A folder Trove snapshots on a schedule.
public struct TrackedFolder: Codable, Sendable, Equatable {
    public var path: String
    /// Seconds between snapshots under `trove serve` (nil: only by hand).
    public var every: TimeInterval?
    public var policy: RetentionPolicy
    public var created: Date

    public init(path: String, every: TimeInterval?, policy: RetentionPolicy, created: Date) {
        self.path = path
        self.every = every
        self.policy = policy
        self.created = created
    }
}

/// One match of `trove find`: a path as it was in one snapshot.
public struct FindHit: Sendable, Equatable {
    public var snapshotID: String
    public var snapshotTime: Date
    public var root: String
    /// Absolute path as it was.
    public var path: String
    public var type: EntryType
    public var size: UInt64
    public var mtime: FileTime
    public var fileID: ContentID?

    public init(snapshotID: String, snapshotTime: Date, root: String, path: String, type: EntryType, size: UInt64,
                mtime: FileTime, fileID: ContentID?) {
        self.snapshotID = snapshotID
        self.snapshotTime = snapshotTime
        self.root = root
        self.path = path
        self.type = type
        self.size = size
        self.mtime = mtime
        self.fileID = fileID
    }
}

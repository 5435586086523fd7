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

/// The kinds of store.
public enum StoreKind: String, Codable, Sendable, CaseIterable {
    /// A folder on a drive (the FileStore).
    case local
    /// A bucket (and prefix) in S3-compatible object storage.
    case s3
    /// k-of-n erasure-coded shares spread over other stores (`GridConfig`).
    case grid
    /// A store another machine's `trove serve` hosts (`peer://PEER/NAME`), over mutual TLS.
    case peer

    /// Whether a corrupt or unreadable copy there suggests the medium is failing, so the whole
    /// store is downgraded: yes for a drive (bit rot and read errors come in clusters); no for
    /// object storage, where the service keeps each object apart and one bad object says
    /// nothing of the others (the copy alone is quarantined).
    /// A drive attached to this machine (imports go there first; remote stores are filled by heal).
    public var isAttached: Bool { self == .local }

    public var badCopySuggestsFailingMedium: Bool {
        switch self {
        case .local, .peer: true
        case .s3, .grid: false
        }
    }
}

/// How to reach and wrap a store, recorded per store so a registry can build it again. Holds
/// no secret: credentials come from the environment or the AWS credentials file, and an
/// encryption key from a file with mode 0600 (or a passphrase).
public struct StoreConfig: Codable, Sendable, Equatable {
    /// S3: `https://host[:port]` of the service.
    public var endpoint: String?
    /// S3: the signing region (`us-east-1` when not given).
    public var region: String?
    public var bucket: String?
    /// S3: the key prefix under which the store lives (no leading or trailing slash).
    public var prefix: String?
    /// S3: address the bucket in the path (`host/bucket/key`, MinIO and moto) instead of the host name.
    public var pathStyle: Bool?
    /// S3: the section of the AWS credentials file to use (a name, not a secret).
    public var profile: String?
    /// The file (mode 0600) holding the key that unlocks an encrypted store's master key.
    public var keyFile: String?
    /// Bandwidth limit in bytes per second, reads and writes each.
    public var limit: Int64?
    /// A grid's coding parameters and members.
    public var grid: GridConfig?
    /// A peer store: the paired machine (its label in `peers.json`) and the hosted store's name there.
    public var peer: String?
    public var hostedStore: String?

    public init(endpoint: String? = nil, region: String? = nil, bucket: String? = nil, prefix: String? = nil,
                pathStyle: Bool? = nil, profile: String? = nil, keyFile: String? = nil, limit: Int64? = nil, grid: GridConfig? = nil) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.prefix = prefix
        self.pathStyle = pathStyle
        self.profile = profile
        self.keyFile = keyFile
        self.limit = limit
        self.grid = grid
    }

    enum CodingKeys: String, CodingKey {
        case endpoint, region, bucket, prefix, profile, limit, grid, peer
        case hostedStore = "hosted_store"
        case pathStyle = "path_style"
        case keyFile = "key_file"
    }
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
    /// How to reach and wrap it (endpoint, bucket, key file, limits).
    public var config: StoreConfig
    /// Objects are encrypted before they reach the store.
    public var encrypted: Bool
    /// The machine it was last seen on (its host name).
    public var machine: String?
    /// A drive that can be unplugged and plugged into another machine; false for one inside
    /// its machine; nil when not known (object storage, a folder on an unknown device).
    public var removable: Bool?
    /// A grid's member failure domains as last worked out: a whole copy on one of them adds no
    /// durability to the grid's copy of the same file (`CountedCopy.absorbs`). Nil for other kinds.
    public var shareDomains: [String]?

    public init(id: String, label: String, kind: StoreKind, location: String, copies: Int = 1,
                filesystemUUID: String? = nil, created: Date, trust: TrustState = .trusted,
                noNewCopies: Bool = false, lastSeen: Date? = nil, capacity: Int64? = nil, free: Int64? = nil,
                disk: String? = nil, diskName: String? = nil, declaredDisk: String? = nil, readOnly: Bool = false,
                config: StoreConfig = StoreConfig(), encrypted: Bool = false, machine: String? = nil, removable: Bool? = nil,
                shareDomains: [String]? = nil) {
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
        self.config = config
        self.encrypted = encrypted
        self.machine = machine
        self.removable = removable
        self.shareDomains = shareDomains
    }

    /// A copy on this store as durability counts it, at `weight`.
    public func counted(weight: Int) -> CountedCopy {
        CountedCopy(storeID: id, weight: weight, domain: domain, trusted: trust == .trusted, absorbs: Set(shareDomains ?? []))
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

import Foundation
import TroveCore
import TroveStorage

// The JSON documents Trove prints with `--json` and serves from its HTTPS API: one set of
// types for both faces, so a script and a remote client read the same fields. docs/api.yaml
// describes them.

/// `trove status --json` and `GET /v1/status`.
public struct StatusJSON: Encodable, Sendable {
    public struct Bucket: Encodable, Sendable {
        public var durability: Int
        public var files: Int
        public var bytes: UInt64
    }
    public var state: String
    public var target: Int
    public var files: Int
    public var bytes: UInt64
    public var durability: [Bucket]
    public var stores: [StoreJSON]
    public var alerts: [Alert]
    public var records: RecordsStatus

    public init(_ r: StatusReport) {
        state = ["ok", "warning", "critical"][Int(r.exitCode)]
        target = r.target; files = r.files; bytes = r.bytes
        durability = r.durability.sorted { $0.key < $1.key }.map { Bucket(durability: $0.key, files: $0.value.files, bytes: $0.value.bytes) }
        stores = r.stores.map { StoreJSON($0, all: r.stores) }
        alerts = r.alerts
        records = r.records
    }
}

/// A store as `--json` shows it.
public struct StoreJSON: Encodable, Sendable {
    public var id, label, kind, location, trust: String
    public var copies: Int
    public var noNewCopies, connected: Bool
    public var filesystemUuid: String?
    public var created: Date
    public var lastSeen: Date?
    public var capacity, free: Int64?
    public var files: Int
    public var bytes: UInt64
    public var problem: String?
    public var disk: String?
    public var diskName: String?
    public var declaredDisk: String?
    public var readOnly: Bool
    public var sharesDiskWith: [String]
    public var encrypted: Bool
    public var endpoint: String?
    public var limit: Int64?
    public var machine: String?
    public var removable: Bool?

    public init(_ s: StoreStatus, all: [StoreStatus] = []) {
        let r = s.record
        id = r.id; label = r.label; kind = r.kind.rawValue; location = r.location; trust = r.trust.rawValue
        copies = r.copies; noNewCopies = r.noNewCopies; connected = s.connected; filesystemUuid = r.filesystemUUID
        created = r.created; lastSeen = r.lastSeen; capacity = r.capacity; free = r.free
        files = s.files; bytes = s.bytes; problem = s.problem
        disk = r.disk; diskName = r.diskName; declaredDisk = r.declaredDisk; readOnly = r.readOnly
        sharesDiskWith = all.filter { $0.record.id != r.id && $0.record.domain == r.domain }.map(\.record.label)
        encrypted = r.encrypted; endpoint = r.config.endpoint; limit = r.config.limit
        machine = r.machine; removable = r.removable
    }

    enum CodingKeys: String, CodingKey {
        case id, label, kind, location, trust, copies, noNewCopies, connected, filesystemUuid, created, lastSeen, capacity, free,
             files, bytes, problem, disk, diskName, declaredDisk, readOnly, sharesDiskWith, encrypted, endpoint, limit, machine, removable
    }

    /// Every documented field is present; unknown values are `null`, never left out.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id); try c.encode(label, forKey: .label); try c.encode(kind, forKey: .kind)
        try c.encode(location, forKey: .location); try c.encode(trust, forKey: .trust); try c.encode(copies, forKey: .copies)
        try c.encode(noNewCopies, forKey: .noNewCopies); try c.encode(connected, forKey: .connected)
        try c.encode(filesystemUuid, forKey: .filesystemUuid); try c.encode(created, forKey: .created)
        try c.encode(lastSeen, forKey: .lastSeen); try c.encode(capacity, forKey: .capacity); try c.encode(free, forKey: .free)
        try c.encode(files, forKey: .files); try c.encode(bytes, forKey: .bytes); try c.encode(problem, forKey: .problem)
        try c.encode(disk, forKey: .disk); try c.encode(diskName, forKey: .diskName); try c.encode(declaredDisk, forKey: .declaredDisk)
        try c.encode(readOnly, forKey: .readOnly); try c.encode(sharesDiskWith, forKey: .sharesDiskWith)
        try c.encode(encrypted, forKey: .encrypted); try c.encode(endpoint, forKey: .endpoint); try c.encode(limit, forKey: .limit)
        try c.encode(machine, forKey: .machine); try c.encode(removable, forKey: .removable)
    }
}

/// One line of `trove events --json` and one element of `GET /v1/events`.
public struct EventJSON: Encodable, Sendable {
    public var seq: Int64
    public var time: Date
    public var kind: String
    public var storeId: String?
    public var storeLabel: String?
    public var fileId: String?
    public var details: [String: DetailValue]

    public init(_ e: Event, labels: [String: String]) {
        seq = e.seq ?? 0; time = e.time; kind = e.kind.rawValue; storeId = e.storeID
        storeLabel = e.storeID.flatMap { labels[$0] }; fileId = e.fileID?.description; details = e.details
    }
}

/// `GET /v1/progress`: what `trove serve`'s loop is doing now, and the last run of each phase.
public struct ProgressJSON: Encodable {
    public var running: WorkBoard.Phase?
    public var finished: [WorkBoard.Phase]
    public init(_ board: WorkBoard) { (running, finished) = board.state }
}

/// `trove whereis --json` and `GET /v1/whereis`.
public struct WhereIsJSON: Encodable, Sendable {
    public struct Copy: Encodable, Sendable {
        var storeId, storeLabel, trust: String
        var disk: String?
        var connected: Bool
        var copies: Int
        var mtime: Date
        var verified: Date?
    }
    public struct Origin: Encodable, Sendable {
        var path, name: String
        var mtime, time: Date
    }
    public var id: String
    public var size: UInt64
    public var durability: Int
    public var leaves: Int
    public var firstSeen: Date
    public var copies: [Copy]
    public var origins: [Origin]

    public init(_ w: WhereIs) {
        id = w.file.id.description; size = w.file.size; durability = w.durability; leaves = w.file.leafHashes.count
        firstSeen = w.file.firstSeen
        copies = w.copies.map { Copy(storeId: $0.store.id, storeLabel: $0.store.label, trust: $0.store.trust.rawValue, disk: $0.store.diskShown,
                                     connected: $0.connected, copies: $0.record.copies, mtime: $0.record.mtime,
                                     verified: $0.record.verified) }
        origins = w.origins.map { Origin(path: $0.path, name: $0.name, mtime: $0.mtime, time: $0.time) }
    }
}

/// A hit of `trove find --json` and `GET /v1/find`.
public struct FindJSON: Encodable, Sendable {
    public var snapshot: String
    public var time: Date
    public var root, path, type: String
    public var size: UInt64
    public var mtime: Date
    public var id: String?
    public var latest: Bool
    public init(_ h: FindHit, latest: Bool) {
        snapshot = h.snapshotID; time = h.snapshotTime; root = h.root; path = h.path; size = h.size
        type = entryTypeName(h.type)
        mtime = h.mtime.date; id = h.fileID?.description
        self.latest = latest
    }
}

/// The name of an entry type in JSON documents.
public func entryTypeName(_ type: EntryType) -> String {
    switch type {
    case .file: "file"
    case .directory: "directory"
    case .symlink: "symlink"
    case .fifo: "fifo"
    case .charDevice: "char_device"
    case .blockDevice: "block_device"
    }
}

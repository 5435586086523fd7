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

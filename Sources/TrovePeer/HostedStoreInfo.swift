import Foundation
import TroveStorage

/// What `GET /v1/hosted/{name}` answers: the hosted store's identity and state, as the machine
/// that holds its drive sees them.
public struct HostedStoreInfo: Codable, Sendable {
    public var name: String
    public var identity: StoreIdentity
    public var capacity: Int64?
    public var free: Int64?
    public var readOnly: Bool
    /// The failure domain (the disk) on the hosting machine, and that machine's name.
    public var disk: String?
    public var diskName: String?
    public var removable: Bool?
    public var machine: String

    public init(name: String, identity: StoreIdentity, space: StoreSpace?, readOnly: Bool, disk: DiskIdentity.Disk?, machine: String) {
        self.name = name
        self.identity = identity
        capacity = space?.capacity
        free = space?.free
        self.readOnly = readOnly
        self.disk = disk?.id
        diskName = disk?.name
        removable = disk?.removable
        self.machine = machine
    }

    enum CodingKeys: String, CodingKey {
        case name, identity, capacity, free, disk, removable, machine
        case readOnly = "read_only"
        case diskName = "disk_name"
    }
}

/// A page of object IDs (`GET /v1/hosted/{name}/objects?after=&limit=`): sorted, and `next` is
/// the `after` of the following page (nil on the last).
public struct ObjectPage: Codable, Sendable {
    public var ids: [String]
    public var next: String?
    public init(ids: [String], next: String?) { self.ids = ids; self.next = next }
}

/// An upload in progress (`POST /v1/hosted/{name}/uploads`, `GET …/uploads/{upload}`): the
/// bytes received so far, always a whole number of parts.
public struct UploadState: Codable, Sendable {
    public var upload: String
    public var received: UInt64
    public init(upload: String, received: UInt64) { self.upload = upload; self.received = received }
}

/// `POST /v1/hosted/{name}/verify`: objects checked against their content IDs on the machine
/// that holds them, read from the medium.
public struct RemoteVerifyRequest: Codable, Sendable {
    public var ids: [String]
    public init(ids: [String]) { self.ids = ids }
}

public struct RemoteVerifyReport: Codable, Sendable {
    public var good: [String]
    public var corrupt: [String]
    public var missing: [String]
    public init(good: [String] = [], corrupt: [String] = [], missing: [String] = []) {
        self.good = good
        self.corrupt = corrupt
        self.missing = missing
    }
}

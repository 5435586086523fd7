import Foundation
import NIOCore
import NIOHTTP1
import TroveCore
import TroveStorage

/// A store hosted by another machine's `trove serve` (`peer://nas/tank`), reached over mutual
/// TLS with pinned certificates. The hosting machine checks every object against its content ID
/// before it takes it, so a copy that arrived is a verified copy; every read is checked here
/// against the leaf hashes as from any store, and a server sending more or fewer bytes than
/// asked is caught at once. See docs/peers.md.
public final class PeerStore: Store, RemoteVerifier, @unchecked Sendable {
    public let identity: StoreIdentity
    public let client: PeerClient
    /// The hosted store's name on the serving machine.
    public let name: String
    private let lock = NSLock()
    private var info: HostedStoreInfo
    /// Bytes per upload part and per ranged read: one leaf.
    static let partSize = ContentHash.leafSize

    init(client: PeerClient, name: String, info: HostedStoreInfo) {
        self.client = client
        self.name = name
        self.info = info
        identity = info.identity
    }

    /// `peer://PEER/NAME`.
    public var location: String { Self.location(peer: client.peer.label, name: name) }
    public static func location(peer: String, name: String) -> String { "peer://\(peer)/\(name)" }

    /// Parses `peer://PEER/NAME`.
    public static func parse(_ location: String) -> (peer: String, name: String)? {
        guard location.hasPrefix("peer://") else { return nil }
        let parts = location.dropFirst(7).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, HostedName.isValid(parts[1]) else { return nil }
        return (parts[0], parts[1])
    }

    var base: String { "/v1/hosted/\(name)" }

    /// True for one of this library's own stores, attached to a machine of the same library:
    /// its disk keeps the identity that machine records for it (one failure domain, whichever
    /// machine reaches it).
    public private(set) var ownStore = false

    /// Opens the hosted store `name` on the peer; nil when the peer hosts none of that name.
    /// `ownStore`: a store of this library that machine has attached (named by its store ID).
    public static func open(client: PeerClient, name: String, ownStore: Bool = false) throws -> PeerStore? {
        guard HostedName.isValid(name) else { throw StoreError(.permissionDenied, "'\(name)' is not a hosted store name.") }
        let reply = try client.send(.GET, "/v1/hosted/\(name)", accept: [404])
        if reply.status == 404 { return nil }
        do {
            let info = try JSONCoding.decoder.decode(HostedStoreInfo.self, from: Data(reply.body))
            let store = PeerStore(client: client, name: name, info: info)
            store.ownStore = ownStore
            return store
        } catch {
            throw StoreError(.media, "'\(client.peer.label)' described its store '\(name)' in a form Trove cannot read (\(error)).")
        }
    }

    func objectPath(_ id: ContentID) -> String { base + "/objects/" + id.description }

    public func objectSize(_ id: ContentID) throws -> UInt64? {
        let reply = try client.send(.HEAD, objectPath(id), accept: [404])
        if reply.status == 404 { return nil }
        guard let size = reply.headers.first(name: "x-object-size").flatMap(UInt64.init) else {
            throw StoreError(.media, "'\(client.peer.label)' answered HEAD \(objectPath(id)) without the object's size.")
        }
        return size
    }

    public func makeWriter(for id: ContentID?, expectedSize: UInt64?) throws -> ObjectWriter {
        PeerObjectWriter(store: self, expectedSize: expectedSize)
    }

    public func openReader(_ id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws -> ObjectReader {
        try PeerObjectReader(store: self, id: id, range: range, fromMedia: fromMedia)
    }

    public func quarantine(_ id: ContentID) throws -> String {
        struct Moved: Decodable { var location: String }
        let moved = try client.json(Moved.self, .POST, objectPath(id) + "/quarantine")
        return "\(client.peer.label):\(moved.location)"
    }

    public func remove(_ id: ContentID) throws { _ = try client.send(.DELETE, objectPath(id)) }

    public func listObjects(_ body: (ContentID) throws -> Bool) throws {
        var after: String?
        repeat {
            let query = "?limit=\(listPageSize)" + (after.map { "&after=\($0)" } ?? "")
            let page = try client.json(ObjectPage.self, .GET, base + "/objects" + query)
            for text in page.ids {
                guard let id = ContentID(text) else {
                    throw StoreError(.media, "'\(client.peer.label)' listed '\(text)', which is not a content ID.")
                }
                if try !body(id) { return }
            }
            guard page.next == nil || page.next! > (after ?? "") else {
                throw StoreError(.media, "'\(client.peer.label)' sent a listing that does not move forward.")
            }
            after = page.next
        } while after != nil
    }

    /// IDs per listing page.
    public var listPageSize = 1000

    /// Asks the peer again for its state (space, read-only).
    func refresh() throws -> HostedStoreInfo {
        let fresh = try client.json(HostedStoreInfo.self, .GET, base)
        lock.withLock { info = fresh }
        return fresh
    }

    public func space() throws -> StoreSpace? {
        let fresh = try refresh()
        guard let capacity = fresh.capacity, let free = fresh.free else { return nil }
        return StoreSpace(capacity: capacity, free: free)
    }

    public func isReadOnly() -> Bool { lock.withLock { info.readOnly } }

    /// The drive on the hosting machine: two stores on one NAS disk share a failure domain,
    /// whichever machine reaches them.
    public func disk() -> DiskIdentity.Disk? {
        let current = lock.withLock { info }
        if ownStore, let disk = current.disk {
            return DiskIdentity.Disk(id: disk, name: current.diskName ?? disk, removable: current.removable)
        }
        let id = current.disk.map { "peer:\(current.machine):\($0)" } ?? "peer:\(current.machine):\(name)"
        return DiskIdentity.Disk(id: id, name: "\(current.diskName ?? name) on \(current.machine)", removable: current.removable)
    }

    /// The machine the hosted store's drive is in.
    public var hostMachine: String? { lock.withLock { info.machine } }

    /// Leftovers on the hosting machine; a peer that may not write there has none to clean.
    public func cleanTemporary() throws -> Int {
        struct Cleaned: Decodable { var removed: Int }
        guard !isReadOnly() else { return 0 }
        return try client.json(Cleaned.self, .POST, base + "/clean").removed
    }

    /// The hosting machine hashes every object it receives and refuses one that does not match
    /// its ID, so an accepted write is a verified copy.
    public var checksWritesOnArrival: Bool { true }

    public var commitsEachAlone: Bool { true }
    public var remoteVerifier: RemoteVerifier? { self }

    /// Each object is its own PUT (or upload commit): many go at once.
    public func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws {
        try commitIndependently(items)
    }

    func recordPath(_ name: RecordName) -> String { base + "/records/" + name.description }

    public func readRecord(_ name: RecordName) throws -> [UInt8]? {
        let reply = try client.send(.GET, recordPath(name), accept: [404], maxBody: HostedName.maxRecordBytes)
        return reply.status == 404 ? nil : reply.body
    }

    public func writeRecord(_ name: RecordName, _ bytes: [UInt8]) throws {
        _ = try client.send(.PUT, recordPath(name), body: bytes)
    }

    /// `If-None-Match: *`; a refused create whose record holds the very bytes sent is this
    /// writer's own retried write.
    public func createRecord(_ name: RecordName, _ bytes: [UInt8]) throws -> Bool {
        let reply = try client.send(.PUT, recordPath(name), headers: [("if-none-match", "*")], body: bytes, accept: [412])
        if reply.status != 412 { return true }
        return try readRecord(name) == bytes
    }

    public func removeRecord(_ name: RecordName) throws { _ = try client.send(.DELETE, recordPath(name)) }

    /// Has the hosting machine read `ids` from its drive and check each against its content ID:
    /// the bytes never cross the network.
    public func verifyOnHost(_ objects: [(id: ContentID, size: UInt64)]) throws -> [ContentID: RemoteVerdict] {
        var verdicts: [ContentID: RemoteVerdict] = [:]
        let ids = objects.map(\.id)
        for batch in Self.verifyBatches(objects) {
            let body = try JSONCoding.encoder.encode(RemoteVerifyRequest(ids: batch.map(\.id.description)))
            // The host reads every byte before it answers: at 20 MB/s at worst (a busy disk).
            let bytes = batch.reduce(UInt64(0)) { $0 + $1.size }
            let reply = try client.send(.POST, base + "/verify", headers: [("content-type", "application/json")],
                                        body: Array(body), serverWork: Double(bytes) / 20e6)
            let report: RemoteVerifyReport
            do { report = try JSONCoding.decoder.decode(RemoteVerifyReport.self, from: Data(reply.body)) } catch {
                throw StoreError(.media, "'\(client.peer.label)' answered a verify with a document Trove cannot read (\(error)).")
            }
            for (texts, verdict) in [(report.good, RemoteVerdict.good), (report.corrupt, .corrupt), (report.missing, .missing)] {
                for text in texts { if let id = ContentID(text) { verdicts[id] = verdict } }
            }
        }
        // An ID the host did not answer for was not checked: it is not called good.
        guard Set(ids).isSubset(of: verdicts.keys) else {
            throw StoreError(.media, "'\(client.peer.label)' did not give a verdict on every object asked about.")
        }
        return verdicts
    }

    /// At most 1000 objects and 2 GiB per verify request (the host's own limit is 16 GiB), so
    /// each answer comes within minutes; a larger object goes alone.
    static func verifyBatches(_ objects: [(id: ContentID, size: UInt64)]) -> [[(id: ContentID, size: UInt64)]] {
        var batches: [[(id: ContentID, size: UInt64)]] = []
        var current: [(id: ContentID, size: UInt64)] = []
        var bytes: UInt64 = 0
        for object in objects {
            if !current.isEmpty && (current.count == 1000 || bytes + object.size > 2 << 30) {
                batches.append(current)
                current = []
                bytes = 0
            }
            current.append(object)
            bytes += object.size
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }
}

/// Names of hosted stores: 1–64 of `a-z`, `0-9`, `-` and `_`, so no name can leave its folder
/// or its URL segment.
public enum HostedName {
    public static func isValid(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d || $0 == 0x5f }
    }

    /// The largest record a server takes or a client accepts.
    public static let maxRecordBytes = 16 << 20
}

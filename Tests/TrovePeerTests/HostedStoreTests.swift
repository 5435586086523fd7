import Foundation
import Testing
import TroveCore
@testable import TrovePeer
import TroveStorage
import TroveStores
import TroveTesting

/// What the hosting machine does with objects it already holds and drives it cannot read.
@Suite(.serialized) struct HostedStoreTests {
    static let bytes = StoreConformance.bytes(70_000, seed: 3)
    static let id = StoreConformance.idOf(bytes)

    static func objectPath(_ fixture: PeerFixture) -> String {
        let text = id.description
        return fixture.tankFolder + "/.trove/objects/\(text.prefix(2))/\(text.dropFirst(2))"
    }

    @Test func sendingAnObjectAgainHealsARottenHeldCopyEvenForAnAppendOnlyPeer() throws {
        let fixture = try PeerFixture(rights: [.read, .write], appendOnly: true)
        let store = try fixture.peerStore()
        try StoreConformance.put(Self.bytes, as: Self.id, in: store)
        var rotten = Self.bytes
        rotten[500] ^= 0xFF
        let path = Self.objectPath(fixture)
        chmod(path, 0o644)
        try Data(rotten).write(to: URL(fileURLWithPath: path))
        try StoreConformance.put(Self.bytes, as: Self.id, in: store)
        #expect(FileManager.default.contents(atPath: path) == Data(Self.bytes), "the verified bytes replaced the rotten copy")
        #expect(try store.verifyOnHost([(Self.id, UInt64(Self.bytes.count))]) == [Self.id: .good])
    }

    @Test func aDriveTheHostCannotReadIsUnavailableNotEveryCopyMissing() throws {
        let fixture = try PeerFixture()
        let store = try fixture.peerStore()
        try StoreConformance.put(Self.bytes, as: Self.id, in: store)
        // The NAS's drive is unmounted under the running server.
        try FileManager.default.moveItem(atPath: fixture.tankFolder, toPath: fixture.tankFolder + ".gone")
        #expect(StoreConformance.kind { _ = try store.verifyOnHost([(Self.id, UInt64(Self.bytes.count))]) } == .unavailable)
    }

    /// Sends `parts` of an upload to tank by hand, as a peer store does; returns the upload's name.
    static func upload(_ parts: [[UInt8]], to store: PeerStore, from start: UInt64 = 0, upload: String? = nil) throws -> String {
        let name = try upload ?? store.client.json(UploadState.self, .POST, "/v1/hosted/tank/uploads").upload
        var offset = start
        for part in parts {
            _ = try store.client.send(.PUT, "/v1/hosted/tank/uploads/\(name)?offset=\(offset)", body: part, attempts: 1)
            offset += UInt64(part.count)
        }
        return name
    }

    static func commit(_ upload: String, as id: ContentID, on store: PeerStore) throws -> Int {
        try store.client.send(.POST, "/v1/hosted/tank/uploads/\(upload)/commit?id=\(id)", accept: [422], attempts: 1).status
    }

    /// Leaf-sized parts are hashed as they arrive, so a large upload commits without a second
    /// pass; but after the server restarts, what is on its drive may not be what it hashed (a
    /// crash loses unsynced pages), so the upload is read again, and bytes that changed are refused.
    @Test func aServerRestartedMidUploadHashesTheUploadAgainAtCommit() throws {
        let leaf = ContentHash.leafSize
        let bytes = StoreConformance.bytes(2 * leaf + 1000, seed: 21)
        let id = StoreConformance.idOf(bytes)
        let parts = [Array(bytes[0..<leaf]), Array(bytes[leaf..<2 * leaf]), Array(bytes[(2 * leaf)...])]
        let fixture = try PeerFixture()
        var store = try fixture.peerStore()
        // Whole, in one server's lifetime: taken from the leaves hashed on arrival.
        let whole = try Self.upload(parts, to: store)
        #expect(try Self.commit(whole, as: id, on: store) == 201)
        #expect(try store.objectSize(id) == UInt64(bytes.count))
        try store.remove(id)

        // The first part arrives; the machine loses power; the part's bytes on the drive are
        // not what arrived; the rest comes after the restart.
        let upload = try Self.upload([parts[0]], to: store)
        fixture.killServer()
        let file = fixture.tankFolder + "/.trove/uploads/" + upload
        let handle = try #require(FileHandle(forUpdatingAtPath: file))
        try handle.seek(toOffset: 4096)
        handle.write(Data(repeating: 0, count: 4096))
        try handle.close()
        try fixture.startServer()
        store = try fixture.peerStore()
        _ = try Self.upload(Array(parts[1...]), to: store, from: UInt64(leaf), upload: upload)
        #expect(try Self.commit(upload, as: id, on: store) == 422, "the changed bytes were read again and refused")
        #expect(try store.objectSize(id) == nil)
        #expect(!FileManager.default.fileExists(atPath: file + ".leaves"), "the upload's leaf record went with it")
    }

    /// A part that is not one leaf (another client's part size) is not taken as a leaf: the
    /// upload is read again at commit, and it still becomes the object.
    @Test func partsOfAnotherSizeAreCheckedByReadingTheUploadAgain() throws {
        let bytes = StoreConformance.bytes(ContentHash.leafSize + 5000, seed: 22)
        let id = StoreConformance.idOf(bytes)
        let half = ContentHash.leafSize / 2
        let fixture = try PeerFixture()
        let store = try fixture.peerStore()
        let upload = try Self.upload([Array(bytes[0..<half]), Array(bytes[half..<2 * half]), Array(bytes[(2 * half)...])], to: store)
        #expect(try Self.commit(upload, as: id, on: store) == 201)
        #expect(try StoreConformance.get(id, from: store) == bytes)
        let wrong = try Self.upload([Array(bytes[0..<half]), Array(bytes[half...].reversed())], to: store)
        #expect(try Self.commit(wrong, as: id, on: store) == 422)
    }

    /// `trove host add` and `trove host remove` take effect on a running server; a listed store
    /// whose drive is not mounted answers 503 (unavailable, so peers say "plug it in"), never a
    /// new empty store on the mount point, and is picked up once the drive is back.
    @Test func storesAreHostedAndUnhostedWhileTheServerRuns() throws {
        let fixture = try PeerFixture()
        let shelf = fixture.folder.at("shelf")
        let client = try PeerClient(peer: try fixture.pinnedServer(), identity: fixture.clientIdentity)
        #expect(try PeerStore.open(client: client, name: "shelf") == nil)
        #expect(try trove(["host", "add", "shelf", shelf], library: fixture.serverPath).status == 0)
        let store = try #require(try PeerStore.open(client: client, name: "shelf"), "hosted without a restart")
        try StoreConformance.put(Self.bytes, as: Self.id, in: store)
        let listed = try trove(["host", "list", "--json"], library: fixture.serverPath)
        let rows = try #require(try listed.json()["stores"] as? [[String: Any]])
        #expect(rows.count == 1 && rows[0]["name"] as? String == "shelf" && rows[0]["present"] as? Bool == true)

        // The server restarts while the drive is away.
        fixture.stopServer()
        try FileManager.default.moveItem(atPath: shelf, toPath: shelf + ".away")
        try fixture.startServer()
        let again = try PeerClient(peer: try fixture.pinnedServer(), identity: fixture.clientIdentity)
        #expect(StoreConformance.kind { _ = try PeerStore.open(client: again, name: "shelf") } == .unavailable)
        #expect(!FileManager.default.fileExists(atPath: shelf), "no store was made where the drive should be")
        #expect(try trove(["host", "list"], library: fixture.serverPath).status == 1)
        try FileManager.default.moveItem(atPath: shelf + ".away", toPath: shelf)
        var back: PeerStore?
        for _ in 0..<40 where back == nil {
            back = try? PeerStore.open(client: again, name: "shelf")
            if back == nil { Thread.sleep(forTimeInterval: 0.25) }
        }
        #expect(try back?.objectSize(Self.id) == UInt64(Self.bytes.count), "served again once the drive is back")

        #expect(try trove(["host", "remove", "shelf"], library: fixture.serverPath).status == 0)
        #expect(try PeerStore.open(client: again, name: "shelf") == nil, "no longer hosted, without a restart")
        #expect(FileManager.default.fileExists(atPath: shelf + "/.trove/objects"), "its folder is left as it is")
        #expect(try trove(["host", "remove", "shelf"], library: fixture.serverPath).status != 0)
    }

    /// One verify request may make the host read at most 16 GiB; the client asks in batches of
    /// at most 2 GiB or 1000 objects (a larger object alone), and gives the host time by bytes.
    @Test func verifyOnTheHostIsBoundedByBytes() throws {
        let fixture = try PeerFixture()
        let store = try fixture.peerStore()
        // Two 9 GiB objects (sparse files) on the host's drive: reading both is refused up front.
        let ids = (0..<2).map { StoreConformance.idOf(StoreConformance.bytes(100, seed: UInt64(40 + $0))) }
        for id in ids {
            let text = id.description
            let folder = fixture.tankFolder + "/.trove/objects/\(text.prefix(2))"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let path = folder + "/" + text.dropFirst(2)
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
            #expect(truncate(path, 9 << 30) == 0)
        }
        let body = Array(#"{"ids": ["\#(ids[0])", "\#(ids[1])"]}"#.utf8)
        let refused = try store.client.send(.POST, "/v1/hosted/tank/verify", headers: [("content-type", "application/json")],
                                            body: body, accept: [413], attempts: 1)
        #expect(refused.status == 413)

        let objects = [(ids[0], UInt64(3) << 30)] + (0..<1500).map { (ids[1], UInt64($0 % 7) * 1_000_000) }
        let batches = PeerStore.verifyBatches(objects)
        #expect(batches.first?.count == 1, "an object over 2 GiB goes alone")
        #expect(batches.dropFirst().allSatisfy { $0.count <= 1000 && $0.reduce(0) { $0 + $1.size } <= 2 << 30 })
        #expect(batches.reduce(0) { $0 + $1.count } == 1501)
    }

    /// A peer store behind a bandwidth limit (`store add … --limit`) is still verified on its
    /// host: the limit wraps the store, and verify asks through it.
    @Test func aLimitedPeerStoreIsStillVerifiedOnItsHost() throws {
        let fixture = try PeerFixture()
        let store = try fixture.peerStore()
        try StoreConformance.put(Self.bytes, as: Self.id, in: store)
        let limited = ThrottledStore(store, bytesPerSecond: 1_000)
        let remote = try #require(limited.remoteVerifier)
        #expect(try remote.verifyOnHost([(Self.id, UInt64(Self.bytes.count))]) == [Self.id: .good])
    }
}

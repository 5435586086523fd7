import AsyncHTTPClient
import Foundation
import NIOHTTP1
import NIOSSL
import Testing
import TroveCore
@testable import TrovePeer
import TroveStorage
import TroveTesting

/// Every way in that must be refused, each checked to write nothing on the server.
@Suite(.serialized) struct PeerSecurityTests {
    static let bytes = StoreConformance.bytes(5000, seed: 1)
    static let id = StoreConformance.idOf(bytes)

    /// Objects in the hosted store, straight from the server's drive.
    static func held(_ fixture: PeerFixture) throws -> [ContentID] {
        try #require(try LocalStore.open(at: fixture.tankFolder)).objectIDs()
    }

    @Test func aClientWithoutACertificateIsRefusedInTheHandshake() throws {
        let fixture = try PeerFixture()
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(fixture.serverIdentity.certificatePEM.utf8)))
        tls.certificateVerification = .noHostnameVerification
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        defer { try? http.syncShutdown() }
        var request = try HTTPClient.Request(url: "https://127.0.0.1:\(fixture.port)/v1/hosted/tank/objects/\(Self.id)", method: .PUT)
        request.body = .bytes(Self.bytes)
        #expect(throws: (any Error).self) { _ = try http.execute(request: request).wait() }
        #expect(try Self.held(fixture).isEmpty)
    }

    @Test func anUnpinnedCertificateIsRefused() throws {
        let fixture = try PeerFixture()
        let stranger = try PeerIdentity.loadOrCreate(library: fixture.folder.folder("stranger"), name: "stranger")
        let client = try PeerClient(peer: try fixture.pinnedServer(), identity: stranger)
        defer { client.shutdown() }
        #expect(StoreConformance.kind { _ = try client.send(.PUT, "/v1/hosted/tank/objects/\(Self.id)", body: Self.bytes, attempts: 1) }
            == .unavailable, "refused in the TLS handshake")
        #expect(try Self.held(fixture).isEmpty)
    }

    @Test func aRevokedPeerIsRefusedAtOnceEvenOnAnOpenConnection() throws {
        let fixture = try PeerFixture()
        let store = try fixture.peerStore()
        try StoreConformance.put(Self.bytes, as: Self.id, in: store)
        #expect(try store.objectSize(Self.id) == 5000)
        try PeerBookFile(library: fixture.serverPath).update { $0.peers.removeAll { $0.label == "client" } }
        let other = StoreConformance.bytes(10, seed: 2)
        let error = StoreConformance.kind { try StoreConformance.put(other, as: StoreConformance.idOf(other), in: store) }
        #expect(error == .permissionDenied || error == .unavailable)
        #expect(StoreConformance.kind { _ = try store.objectSize(Self.id) } != nil, "reads are refused too")
        #expect(try Self.held(fixture) == [Self.id])
    }

    @Test func anAppendOnlyPeerMayAddButNeverDeleteOrReplace() throws {
        let fixture = try PeerFixture(rights: [.read, .write], appendOnly: true)
        let store = try fixture.peerStore()
        try StoreConformance.put(Self.bytes, as: Self.id, in: store)
        try StoreConformance.put(Self.bytes, as: Self.id, in: store)  // the same object again is no overwrite
        #expect(StoreConformance.kind { try store.remove(Self.id) } == .permissionDenied)
        #expect(StoreConformance.kind { _ = try store.quarantine(Self.id) } == .permissionDenied)
        #expect(try store.createRecord(.libraryHead, [1, 2, 3]))
        #expect(StoreConformance.kind { try store.writeRecord(.libraryHead, [9]) } == .permissionDenied)
        #expect(StoreConformance.kind { try store.removeRecord(.libraryHead) } == .permissionDenied)
        #expect(try store.readRecord(.libraryHead) == [1, 2, 3])
        #expect(try Self.held(fixture) == [Self.id])
    }

    @Test func aReadOnlyPeerCannotWrite() throws {
        let fixture = try PeerFixture(rights: [.read])
        let store = try fixture.peerStore()
        #expect(StoreConformance.kind { try StoreConformance.put(Self.bytes, as: Self.id, in: store) } == .permissionDenied)
        #expect(try Self.held(fixture).isEmpty)
    }

    @Test func hostileNamesAndIDsNeverReachTheFileSystem() throws {
        let fixture = try PeerFixture(rights: [.admin])
        let client = try PeerClient(peer: try fixture.pinnedServer(), identity: fixture.clientIdentity)
        defer { client.shutdown() }
        let paths = [
            "/v1/hosted/tank/objects/..%2F..%2F.trove%2Fstore.json", "/v1/hosted/tank/objects/%2e%2e",
            "/v1/hosted/..%2Ftank/objects/\(Self.id)", "/v1/hosted/TANK/objects/\(Self.id)",
            "/v1/hosted/tank/records/..%2Fstore.json", "/v1/hosted/tank/uploads/..%2F..%2Fstore.json",
            "/v1/hosted/tank/objects/\(Self.id)x",
        ]
        for path in paths {
            let reply = try client.send(.PUT, path, body: Self.bytes, accept: Set(400...499), attempts: 1)
            #expect((400...499).contains(reply.status), "\(path) → \(reply.status)")
        }
        #expect(try Self.held(fixture).isEmpty)
        #expect(FileManager.default.fileExists(atPath: fixture.tankFolder + "/.trove/store.json"))
    }

    @Test func bytesThatAreNotTheirIDAreRefused() throws {
        let fixture = try PeerFixture()
        let client = try PeerClient(peer: try fixture.pinnedServer(), identity: fixture.clientIdentity)
        defer { client.shutdown() }
        var wrong = Self.bytes
        wrong[100] ^= 1
        let reply = try client.send(.PUT, "/v1/hosted/tank/objects/\(Self.id)", body: wrong, accept: [422], attempts: 1)
        #expect(reply.status == 422)
        #expect(try Self.held(fixture).isEmpty)
    }

    @Test func oversizedHeadersAndBodiesAreRefused() throws {
        let fixture = try PeerFixture()
        let client = try PeerClient(peer: try fixture.pinnedServer(), identity: fixture.clientIdentity)
        defer { client.shutdown() }
        let huge = String(repeating: "a", count: 64 << 10)
        #expect(throws: (any Error).self) {
            let reply = try client.send(.GET, "/v1/status", headers: [("x-filler", huge)], attempts: 1)
            Issue.record("a 64 KiB header was answered with \(reply.status)")
        }
        let big = [UInt8](repeating: 7, count: ContentHash.leafSize + (2 << 20))
        let bigID = StoreConformance.idOf(big)
        let reply = try client.send(.PUT, "/v1/hosted/tank/objects/\(bigID)", body: big, accept: [413], attempts: 1)
        #expect(reply.status == 413)
        let record = [UInt8](repeating: 1, count: HostedName.maxRecordBytes + 1)
        let refused = try client.send(.PUT, "/v1/hosted/tank/records/library-head", body: record, accept: [413], attempts: 1)
        #expect(refused.status == 413)
        #expect(try Self.held(fixture).isEmpty)
        #expect(try #require(try LocalStore.open(at: fixture.tankFolder)).readRecord(.libraryHead) == nil)
    }

    /// A server that failed at the work (its drive refused a write) is a fault of that store,
    /// not a machine that is away; an overloaded or restarting one is away for now.
    @Test func serverErrorsAreMediaFaultsAndOverloadIsUnavailable() throws {
        let fixture = try PeerFixture()
        let client = try PeerClient(peer: try fixture.pinnedServer(), identity: fixture.clientIdentity)
        defer { client.shutdown() }
        let body = Array(#"{"error": "Writing the upload failed: Input/output error."}"#.utf8)
        #expect(client.failure(.init(status: 500, headers: [:], body: body), method: .PUT, path: "/x").kind == .media)
        for status in [429, 502, 503, 504] {
            #expect(client.failure(.init(status: status, headers: [:], body: []), method: .PUT, path: "/x").kind == .unavailable)
        }
        #expect(client.failure(.init(status: 507, headers: [:], body: []), method: .PUT, path: "/x").kind == .noSpace)
    }

    @Test func anInvitationCannotBeAdminAndAppendOnly() throws {
        let fixture = try PeerFixture()
        let refused = try trove(["peer", "invite", "--label", "x", "--can", "read,write,admin", "--append-only"], library: fixture.serverPath)
        #expect(refused.status == 64 && refused.stderr.contains("append-only"), "\(refused.stderr)")
        #expect(try PeerBookFile(library: fixture.serverPath).load().invites.isEmpty)
    }

    /// The serving library's own drives are reached only by paired machines of that very
    /// library (a shared catalog); any other paired machine gets 404, as if they were not there.
    @Test func aLibrarysOwnStoresAreOnlyForMachinesOfThatLibrary() throws {
        let fixture = try PeerFixture()
        let drive = fixture.folder.folder("server-usb")
        #expect(try trove(["store", "add", drive, "--label", "usb"], library: fixture.serverPath).status == 0)
        let storeID = try #require(try LocalStore.open(at: drive)?.identity.id)
        let client = try PeerClient(peer: try fixture.pinnedServer(), identity: fixture.clientIdentity)
        defer { client.shutdown() }
        #expect(try client.send(.GET, "/v1/hosted/\(storeID)", accept: [404]).status == 404, "another library's machine")
        // The same machine, now known as one of the server's own library.
        let libraryID = try #require(try LocalStore.open(at: drive)?.identity.library)
        try PeerBookFile(library: fixture.serverPath).update { book in
            if let index = book.peers.firstIndex(where: { $0.label == "client" }) { book.peers[index].library = libraryID }
        }
        let store = try #require(try PeerStore.open(client: client, name: storeID, ownStore: true))
        #expect(store.identity.id == storeID)
        try StoreConformance.put(Self.bytes, as: Self.id, in: store)
        #expect(FileManager.default.fileExists(atPath: drive + "/.trove/objects/\(Self.id.description.prefix(2))"))
    }
}

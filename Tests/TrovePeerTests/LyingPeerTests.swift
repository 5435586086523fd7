import Foundation
import Testing
import TroveCore
import TroveEngine
import TrovePeer
import TroveStorage
import TroveTesting

/// A paired server that lies (its key stolen, or its software broken) is caught, reported, and
/// never makes the catalog count a copy it does not hold.
@Suite(.serialized) struct LyingPeerTests {
    /// A library whose file has a good copy on the real server, which is then replaced by a liar
    /// with the server's certificate; returns the library, the file and the liar.
    static func setUp(_ fixture: PeerFixture, mode: LyingPeer.Mode, size: Int = 3_000_000) throws -> (Library, ContentID, LyingPeer) {
        let library = fixture.clientLibrary
        _ = try library.addStore(folder: fixture.folder.folder("local"), label: "local")
        _ = try library.addStore(StoreRequest(location: "peer://server/tank", label: "nas-tank"))
        let path = fixture.folder.file("data/f", StoreConformance.bytes(size, seed: 5))
        let id = try #require(ContentID(try library.importPaths([path]).imported[0].id))
        _ = try library.heal()
        let tank = try #require(try LocalStore.open(at: fixture.tankFolder))
        #expect(try tank.objectSize(id) == UInt64(size))
        fixture.stopServer()
        let certificate = fixture.folder.file("client-cert.pem", Array(fixture.clientIdentity.certificatePEM.utf8))
        let liar = try LyingPeer(mode: mode, certificate: PeerIdentity.certificatePath(library: fixture.serverPath),
                                 key: PeerIdentity.keyPath(library: fixture.serverPath), clientCertificate: certificate,
                                 identity: tank.identity, object: id, size: size)
        try PeerBookFile(library: fixture.clientPath).update { book in
            if let index = book.peers.firstIndex(where: { $0.label == "server" }) { book.peers[index].address = "https://127.0.0.1:\(liar.port)" }
        }
        return (library, id, liar)
    }

    static func countsOnPeer(_ library: Library, _ id: ContentID) throws -> Bool {
        let peer = try #require(try library.catalog.stores().first { $0.label == "nas-tank" })
        return try library.catalog.copies(of: id).contains { $0.storeID == peer.id && $0.copies > 0 }
    }

    @Test func aHostThatCallsWrongBytesGoodIsCaughtBySpotCheckAndTheCopyStopsCounting() throws {
        let fixture = try PeerFixture()
        let (library, id, liar) = try Self.setUp(fixture, mode: .wrongBytes)
        let report = try #require(try library.verify(storeLabel: "nas-tank").first)
        #expect(!report.clean)
        #expect(report.corrupt.map(\.fileID) == [id.description], "\(report)")
        #expect(try !Self.countsOnPeer(library, id))
        #expect(try library.catalog.copies(of: id).filter { $0.copies > 0 }.count == 1, "only the local copy counts")
        withExtendedLifetime(liar) {}
    }

    @Test(arguments: [LyingPeer.Mode.short, .long])
    func aHostSendingTheWrongNumberOfBytesIsReportedAtOnce(_ mode: LyingPeer.Mode) throws {
        let fixture = try PeerFixture()
        let (library, id, liar) = try Self.setUp(fixture, mode: mode)
        let store = try fixture.peerStore()
        #expect(StoreConformance.kind { _ = try StoreConformance.get(id, from: store) } == .media)
        let report = try #require(try library.verify(storeLabel: "nas-tank").first)
        #expect(!report.clean)
        #expect(try !Self.countsOnPeer(library, id) || report.unreachable != nil)
        withExtendedLifetime(liar) {}
    }

    @Test func aSlowLorisHostTimesOutInsteadOfHanging() throws {
        let fixture = try PeerFixture()
        let (_, id, liar) = try Self.setUp(fixture, mode: .slow, size: 20_000)
        let client = try PeerClient(peer: try fixture.pinnedServer(), identity: fixture.clientIdentity, requestTimeout: 2)
        let store = try #require(try PeerStore.open(client: client, name: "tank"))
        let started = Date()
        #expect(StoreConformance.kind { _ = try StoreConformance.get(id, from: store) } == .unavailable)
        #expect(Date().timeIntervalSince(started) < 30)
        withExtendedLifetime(liar) {}
    }

    /// A slow but steady link (256 KiB/s) is slow, not down: an answer that takes longer than
    /// the request timeout to arrive, but keeps moving, is received whole.
    @Test func aSlowSteadyLinkIsNotCutOff() throws {
        let fixture = try PeerFixture()
        let (_, id, liar) = try Self.setUp(fixture, mode: .steady, size: 1_200_000)
        let client = try PeerClient(peer: try fixture.pinnedServer(), identity: fixture.clientIdentity, requestTimeout: 2)
        defer { client.shutdown() }
        let reply = try client.send(.GET, "/v1/hosted/tank/objects/\(id)", headers: [("range", "bytes=0-1199999")], maxBody: 1_200_000,
                                    attempts: 1)
        #expect(reply.body.count == 1_200_000, "about 4.6 s at 256 KiB/s, against a 2 s request timeout")
        withExtendedLifetime(liar) {}
    }
}

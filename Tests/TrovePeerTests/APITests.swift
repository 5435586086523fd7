import AsyncHTTPClient
import Foundation
import NIOFoundationCompat
import Testing
import TroveCore
import TrovePeer
import TroveStorage
import TroveTesting

/// The JSON API and /metrics of `trove serve --listen`.
@Suite(.serialized) struct APITests {
    static func client(_ fixture: PeerFixture) throws -> PeerClient {
        try PeerClient(peer: try fixture.pinnedServer(), identity: fixture.clientIdentity)
    }

    static func eventCount(_ fixture: PeerFixture) throws -> Int {
        try trove(["events", "--json"], library: fixture.serverPath).jsonLines().count
    }

    @Test func statusIsTheCLIDocumentAndReadingItWritesNothing() throws {
        let fixture = try PeerFixture(rights: [.read])
        let client = try Self.client(fixture)
        defer { client.shutdown() }
        let first = try client.send(.GET, "/v1/status")
        let api = try #require(try JSONSerialization.jsonObject(with: Data(first.body)) as? [String: Any])
        let before = try Self.eventCount(fixture)
        let catalog = fixture.serverPath + "/catalog.sqlite"
        let modified = try FileManager.default.attributesOfItem(atPath: catalog)[.modificationDate] as? Date
        for path in ["/v1/status", "/v1/stores", "/v1/events", "/metrics"] {
            for _ in 0..<10 { #expect(try client.send(.GET, path).status == 200, "\(path)") }
        }
        #expect(try Self.eventCount(fixture) == before, "the API read the catalog only")
        #expect(try FileManager.default.attributesOfItem(atPath: catalog)[.modificationDate] as? Date == modified)
        let cli = try trove(["status", "--json"], library: fixture.serverPath).json()
        #expect(Set(api.keys) == Set(cli.keys), "one document for both faces")
        #expect(api["state"] as? String == cli["state"] as? String)
        let metrics = String(decoding: try client.send(.GET, "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("trove_status_code"))
    }

    @Test func aPeerWithoutTheReadRightSeesNothing() throws {
        let fixture = try PeerFixture(rights: [])
        let client = try Self.client(fixture)
        defer { client.shutdown() }
        for path in ["/v1/status", "/metrics", "/v1/hosted/tank"] {
            #expect(try client.send(.GET, path, accept: [403]).status == 403, "\(path)")
        }
    }

    @Test func metricsAreAlsoServedOnLoopbackWithoutACertificate() throws {
        let fixture = try PeerFixture(serverArguments: ["--metrics-port", "0"])
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { try? http.syncShutdown() }
        func get(_ path: String) throws -> Data {
            let response = try http.get(url: "http://127.0.0.1:\(fixture.metricsPort)\(path)").wait()
            return Data(buffer: try #require(response.body))
        }
        #expect(String(decoding: try get("/metrics"), as: UTF8.self).contains("trove_status_code"))
        #expect((try JSONSerialization.jsonObject(with: try get("/v1/status")) as? [String: Any])?["state"] != nil)
    }

    /// whereis, snapshots, find and progress are the CLI's documents too; whereis never reads
    /// a file on the server for a remote asker; /metrics carries request latencies and the
    /// background loop's progress.
    @Test func whereisSnapshotsFindAndProgressAnswerLikeTheCLI() throws {
        let fixture = try PeerFixture(rights: [.read])
        let server = fixture.serverPath
        #expect(try trove(["store", "add", fixture.folder.folder("usb"), "--label", "usb"], library: server).status == 0)
        let photos = fixture.folder.folder("photos")
        let photo = fixture.folder.file("photos/holiday.jpg", StoreConformance.bytes(40_000, seed: 8))
        #expect(try trove(["snapshot", photos], library: server).status == 0)
        let id = try #require(try trove(["hash", photo, "--json"]).json()["id"] as? String)
        let client = try Self.client(fixture)
        defer { client.shutdown() }
        func json(_ path: String) throws -> [String: Any] {
            let reply = try client.send(.GET, path)
            return try #require(try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any])
        }

        let whereis = try json("/v1/whereis?target=\(id.prefix(12))")
        let cliWhereis = try trove(["whereis", id, "--json"], library: server).json()
        #expect(((whereis["files"] as? [[String: Any]])?.first?["id"] as? String) == id)
        #expect(Set(((whereis["files"] as? [[String: Any]])?.first ?? [:]).keys)
                == Set(((cliWhereis["files"] as? [[String: Any]])?.first ?? [:]).keys))
        // A file on the server that was never imported is not hashed for a remote asker.
        let stranger = fixture.folder.file("not-imported.txt", StoreConformance.bytes(100, seed: 9))
        #expect(try client.send(.GET, "/v1/whereis?target=\(stranger)", accept: [404]).status == 404)

        let snapshots = try json("/v1/snapshots")["snapshots"] as? [[String: Any]] ?? []
        #expect(snapshots.count == 1 && snapshots.first?["root"] as? String == photos)
        let hits = try json("/v1/find?pattern=holiday")["hits"] as? [[String: Any]] ?? []
        let cliHits = try trove(["find", "holiday", "--json"], library: server).json()["hits"] as? [[String: Any]] ?? []
        #expect(hits.count == 1 && hits.first?["id"] as? String == id && Set(hits[0].keys) == Set(cliHits.first?.keys ?? [:].keys))
        #expect(try client.send(.GET, "/v1/find", accept: [400]).status == 400)

        // The loop's first pass scrubbed: its phase is on the board.
        let progress = try json("/v1/progress")
        #expect((progress["finished"] as? [[String: Any]])?.contains { $0["name"] as? String == "scrub" } == true, "\(progress)")
        let metrics = String(decoding: try client.send(.GET, "/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"trove_http_request_duration_seconds_bucket{method="GET",route="/v1/find",status="2xx""#), "\(metrics)")
        #expect(metrics.contains(#"trove_work_done{phase="scrub""#))
    }
}

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
}

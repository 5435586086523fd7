import Foundation
import Hummingbird
import NIOCore
import NIOSSL
import TroveCore
import TroveEngine
import TroveMetrics
import TrovePeer
import TroveStorage
import X509
import SwiftASN1

/// The library's own documents (the CLI's `--json` documents), pairing, and /metrics.
extension TroveServer {
    func addLibraryRoutes(to router: Router<PeerContext>) {
        router.get("/v1/status") { _, context in
            _ = try context.require(.read)
            let json = try await self.currentStatus().json
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
        }
        router.get("/v1/stores") { _, context in
            _ = try context.require(.read)
            let report = try await self.currentStatus().report
            return try jsonResponse(["stores": report.stores.map { StoreJSON($0, all: report.stores) }])
        }
        router.get("/v1/events") { request, context in
            _ = try context.require(.read)
            let query = request.uri.queryParameters
            let after = try query.get("after").map { text -> Int64 in
                guard let value = Int64(text), value >= 0 else { throw APIError(.badRequest, "after must be a sequence number.") }
                return value
            }
            let limit = try query.get("limit").map { text -> Int in
                guard let value = Int(text), (1...10_000).contains(value) else { throw APIError(.badRequest, "limit must be 1-10000.") }
                return value
            } ?? 1000
            let kind = try query.get("kind").map { text -> EventKind in
                guard let kind = EventKind(rawValue: text) else { throw APIError(.badRequest, "Unknown event kind '\(text)'.") }
                return kind
            }
            let events = try await self.blocking { () -> [EventJSON] in
                let labels = Dictionary(uniqueKeysWithValues: try self.library.catalog.stores().map { ($0.id, $0.label) })
                return try self.library.catalog.events(after: after, kind: kind, limit: limit).map { EventJSON($0, labels: labels) }
            }
            return try jsonResponse(["events": events])
        }
        router.get("/v1/whereis") { request, context in
            _ = try context.require(.read)
            // An ID (or a prefix of one) or a path imported on this machine; never a file read here.
            guard let target = request.uri.queryParameters.get("target"), !target.isEmpty, target.utf8.count <= 4096 else {
                throw APIError(.badRequest, "whereis needs ?target=ID (or an ID prefix, or an imported path).")
            }
            let files = try await self.blocking {
                try self.library.whereIs(String(target), hashingFiles: false, observed: try self.status.stores()).map(WhereIsJSON.init)
            }
            return try jsonResponse(["files": files])
        }
        router.get("/v1/snapshots") { request, context in
            _ = try context.require(.read)
            let root: String? = request.uri.queryParameters.get("root").map { String($0) }
            let list = try await self.blocking { try self.library.snapshotIndex.snapshots(root: root) }
            return try jsonResponse(["snapshots": list])
        }
        router.get("/v1/find") { request, context in
            _ = try context.require(.read)
            let query = request.uri.queryParameters
            guard let pattern = query.get("pattern"), !pattern.isEmpty, pattern.utf8.count <= 4096 else {
                throw APIError(.badRequest, "find needs ?pattern=NAME, a path fragment or a glob.")
            }
            let limit = try query.get("limit").map { text -> Int in
                guard let value = Int(text), (1...100_000).contains(value) else { throw APIError(.badRequest, "limit must be 1-100000.") }
                return value
            } ?? 1000
            let hits = try await self.blocking { () -> [FindJSON] in
                let hits = try self.library.find(String(pattern), limit: limit)
                let latest = Dictionary(try self.library.snapshotIndex.snapshots(root: nil).map { ($0.root, $0.id) },
                                        uniquingKeysWith: { _, newer in newer })
                return hits.map { FindJSON($0, latest: latest[$0.root] == $0.snapshotID) }
            }
            return try jsonResponse(["hits": hits])
        }
        router.get("/v1/progress") { _, context in
            _ = try context.require(.read)
            return try jsonResponse(ProgressJSON(self.work))
        }
        router.get("/metrics") { _, context in
            _ = try context.require(.read)
            let text = try await self.metricsText()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.post("/v1/pair") { request, context in try await self.pair(request, context) }
    }

    /// A machine with a pairing code: its certificate (from the handshake) is pinned with the
    /// invitation's label and rights, and the invitation is spent.
    func pair(_ request: Request, _ context: PeerContext) async throws -> Response {
        guard let certificate = context.presented, let fingerprint = PeerIdentity.fingerprint(certificate) else {
            throw APIError(.unauthorized, "A client certificate is required to pair.")
        }
        let body = try await request.body.collect(upTo: 4096)
        guard let pairing = try? JSONCoding.decoder.decode(PairRequest.self, from: Data(buffer: body)),
              let secret = Base32.decode(pairing.secret.lowercased()), secret.count == PairingCode.secretBytes else {
            throw APIError(.badRequest, "A pairing request is {\"secret\": BASE32, \"name\": TEXT}.")
        }
        let pem = try Self.pem(certificate)
        let outcome = try await blocking {
            try self.gate.file.update {
                $0.pair(secret: secret, certificatePEM: pem, fingerprint: fingerprint, now: self.gate.now(), machine: pairing.name,
                        library: pairing.library)
            }
        }
        switch outcome {
        case .paired(let peer):
            logger.notice("paired", metadata: ["peer": "\(peer.label)", "rights": "\(peer.rights)", "name": "\(pairing.name)"])
            return try jsonResponse(PairReply(name: name, fingerprint: identity.fingerprint, label: peer.label, rights: peer.rights,
                                              appendOnly: peer.appendOnly, library: libraryID))
        case .refused:
            logger.warning("wrong pairing code", metadata: ["name": "\(pairing.name)"])
            throw APIError(.forbidden, "That pairing code is wrong, used or expired. Run `trove peer invite` on this machine for a new one.")
        case .locked:
            throw APIError(.tooManyRequests, "Too many wrong pairing codes lately; pairing is refused for up to \(Int(PeerBook.failureWindow / 60)) minutes.")
        }
    }

    static func pem(_ certificate: NIOSSLCertificate) throws -> String {
        let der = try certificate.toDERBytes()
        return try Certificate(derEncoded: der).serializeAsPEM().pemString
    }
}

import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import TroveCore
import TrovePeer
import TroveStorage
import TroveStores

/// The object and record endpoints of hosted stores: what a peer store on another machine calls.
/// Every name and ID is checked before it reaches the file system.
extension TroveServer {
    /// The largest single-PUT object (bigger ones come as uploads in parts) and the largest part.
    static let maxSinglePut = ContentHash.leafSize + (1 << 20)
    static let maxPart = 64 << 20

    func addHostedRoutes(to router: Router<PeerContext>) {
        router.get("/v1/hosted") { _, context in
            let peer = try context.require(.read)
            let infos = try await self.blocking { try self.hosted.names.compactMap { try self.info($0, for: peer) } }
            return try jsonResponse(["stores": infos])
        }
        router.get("/v1/hosted/:name") { _, context in
            let peer = try context.require(.read)
            let name = try self.storeName(context)
            guard let info = try await self.blocking({ try self.info(name, for: peer) }) else { throw self.missingStore(name) }
            return try jsonResponse(info)
        }
        router.get("/v1/hosted/:name/objects") { request, context in
            _ = try context.require(.read)
            let store = try self.store(context)
            let query = request.uri.queryParameters
            let after = try query.get("after").map { try Self.contentID($0) }
            let limit = try query.get("limit").map { text -> Int in
                guard let value = Int(text), (1...10_000).contains(value) else { throw APIError(.badRequest, "limit must be 1-10000.") }
                return value
            } ?? 1000
            let ids = try await self.blocking { try store.objectPage(after: after, limit: limit) }
            return try jsonResponse(ObjectPage(ids: ids.map(\.description), next: ids.count == limit ? ids.last?.description : nil))
        }
        router.on("/v1/hosted/:name/objects/:id", method: .head) { _, context in
            _ = try context.require(.read)
            let (store, id) = try self.object(context)
            guard let size = try await self.blocking({ try store.objectSize(id) }) else { return Response(status: .notFound) }
            return Response(status: .ok, headers: [Self.objectSize: "\(size)"])
        }
        router.get("/v1/hosted/:name/objects/:id") { request, context in
            _ = try context.require(.read)
            let (store, id) = try self.object(context)
            return try await self.read(store, id, request: request)
        }
        router.put("/v1/hosted/:name/objects/:id") { request, context in
            _ = try context.require(.write)
            let (store, id) = try self.object(context)
            return try await self.put(store, id, request: request)
        }
        router.delete("/v1/hosted/:name/objects/:id") { _, context in
            try context.requireDelete()
            let (store, id) = try self.object(context)
            try await self.blocking { try store.remove(id) }
            return Response(status: .noContent)
        }
        router.post("/v1/hosted/:name/objects/:id/quarantine") { _, context in
            try context.requireDelete()
            let (store, id) = try self.object(context)
            let moved = try await self.blocking { try store.quarantine(id) }
            return try jsonResponse(["location": moved])
        }
        router.post("/v1/hosted/:name/uploads") { _, context in
            _ = try context.require(.write)
            let store = try self.store(context)
            let upload = try await self.blocking { try Uploads.create(in: store) }
            return try jsonResponse(UploadState(upload: upload, received: 0), status: .created)
        }
        router.get("/v1/hosted/:name/uploads/:upload") { _, context in
            _ = try context.require(.write)
            let (store, upload) = try self.upload(context)
            guard let received = Uploads.received(store, upload) else { throw APIError(.notFound, "No upload \(upload).") }
            return try jsonResponse(UploadState(upload: upload, received: received))
        }
        router.put("/v1/hosted/:name/uploads/:upload") { request, context in
            _ = try context.require(.write)
            let (store, upload) = try self.upload(context)
            return try await self.appendPart(store, upload, request: request)
        }
        router.post("/v1/hosted/:name/uploads/:upload/commit") { request, context in
            _ = try context.require(.write)
            let (store, upload) = try self.upload(context)
            guard let idText = request.uri.queryParameters.get("id") else { throw APIError(.badRequest, "commit needs ?id=CONTENT_ID.") }
            let id = try Self.contentID(idText)
            let matched = try await self.blocking { try Uploads.commit(store, upload, as: id) }
            guard matched else {
                throw APIError(.unprocessableContent, "The uploaded bytes are not \(id); nothing was kept. Send the object again.")
            }
            return Response(status: .created)
        }
        router.delete("/v1/hosted/:name/uploads/:upload") { _, context in
            _ = try context.require(.write)
            let (store, upload) = try self.upload(context)
            unlink(Uploads.path(store, upload))
            UploadLeaves.remove(store, upload)
            return Response(status: .noContent)
        }
        router.get("/v1/hosted/:name/records/:record") { _, context in
            _ = try context.require(.read)
            let (store, name) = try self.record(context)
            guard let bytes = try await self.blocking({ try store.readRecord(name) }) else {
                throw APIError(.notFound, "No record \(name).")
            }
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.put("/v1/hosted/:name/records/:record") { request, context in
            let peer = try context.require(.write)
            let (store, name) = try self.record(context)
            let body = try await request.body.collect(upTo: HostedName.maxRecordBytes)
            let bytes = Array(buffer: body)
            if request.headers[.ifNoneMatch] == "*" {
                let created = try await self.blocking { try store.createRecord(name, bytes) }
                return Response(status: created ? .created : .preconditionFailed)
            }
            if peer.appendOnly && !peer.rights.contains(.admin) {
                // Append-only may create a record, never replace one.
                let created = try await self.blocking { try store.createRecord(name, bytes) }
                guard created else { throw APIError(.forbidden, "'\(peer.label)' is append-only: it may not replace the record \(name).") }
                return Response(status: .created)
            }
            try await self.blocking { try store.writeRecord(name, bytes) }
            return Response(status: .noContent)
        }
        router.delete("/v1/hosted/:name/records/:record") { _, context in
            try context.requireDelete()
            let (store, name) = try self.record(context)
            try await self.blocking { try store.removeRecord(name) }
            return Response(status: .noContent)
        }
        router.post("/v1/hosted/:name/clean") { _, context in
            _ = try context.require(.write)
            let store = try self.store(context)
            let removed = try await self.blocking { try store.cleanTemporary() + Uploads.cleanStale(store) }
            return try jsonResponse(["removed": removed])
        }
        router.post("/v1/hosted/:name/verify") { request, context in
            _ = try context.require(.read)
            let store = try self.store(context)
            let body = try await request.body.collect(upTo: 1 << 20)
            guard let asked = try? JSONCoding.decoder.decode(RemoteVerifyRequest.self, from: Data(buffer: body)),
                  asked.ids.count <= 10_000 else {
                throw APIError(.badRequest, "A verify request is {\"ids\": [CONTENT_ID, …]} with at most 10000 IDs.")
            }
            let ids = try asked.ids.map { try Self.contentID($0) }
            // At most two verifies read this machine's drives at once; more would only slow each.
            guard self.verifies.enter() else {
                throw APIError(.tooManyRequests, "Two verifies are already reading this machine's drives; try again in a minute.")
            }
            defer { self.verifies.leave() }
            let report = try await self.blocking { try HostedVerify.run(store, ids) }
            return try jsonResponse(report)
        }
    }

    static let objectSize = HTTPField.Name("x-object-size")!

    /// One of this library's own folder stores, attached here, for a paired machine of the same
    /// library (a shared catalog), named by its store ID: that machine reaches the drive through
    /// this one. Encrypted stores are not served this way (their keys stay with each machine).
    func ownStore(_ name: String, for peer: PinnedPeer?) -> LocalStore? {
        guard let peer, let ours = libraryID, peer.library == ours, let item = status.store(id: name), !item.record.encrypted else {
            return nil
        }
        // The drive as it is: packs and loose objects are the asking machine's to interpret
        // (it shares this catalog's pack index).
        let store = (item.store as? PackingStore)?.base ?? item.store
        return (store as? LocalStore) ?? ((store as? ThrottledStore)?.base as? LocalStore)
    }

    static func noStore(_ name: String) -> APIError { APIError(.notFound, "This machine hosts no store named '\(name)'.") }

    /// 503 for a store this machine hosts whose drive it cannot reach now, else 404.
    func missingStore(_ name: String) -> APIError {
        guard let why = hosted.unavailable(name) else { return Self.noStore(name) }
        return APIError(.serviceUnavailable, "The store '\(name)' is hosted here, but \(why)")
    }

    static func contentID(_ text: String) throws -> ContentID {
        guard let id = ContentID(text) else { throw APIError(.badRequest, "'\(text.prefix(80))' is not a content ID.") }
        return id
    }

    func storeName(_ context: PeerContext) throws -> String {
        let name = context.parameters.get("name") ?? ""
        guard HostedName.isValid(name) else { throw APIError(.badRequest, "'\(name.prefix(80))' is not a hosted store name.") }
        return name
    }

    func store(_ context: PeerContext) throws -> LocalStore {
        let name = try storeName(context)
        guard let store = hosted.store(name) ?? ownStore(name, for: context.peer) else { throw missingStore(name) }
        return store
    }

    func object(_ context: PeerContext) throws -> (LocalStore, ContentID) {
        (try store(context), try Self.contentID(context.parameters.get("id") ?? ""))
    }

    func upload(_ context: PeerContext) throws -> (LocalStore, String) {
        let upload = context.parameters.get("upload") ?? ""
        guard Uploads.isValid(upload) else { throw APIError(.badRequest, "'\(upload.prefix(80))' is not an upload.") }
        return (try store(context), upload)
    }

    func record(_ context: PeerContext) throws -> (LocalStore, RecordName) {
        let text = context.parameters.get("record") ?? ""
        guard let name = RecordName(text) else { throw APIError(.badRequest, "'\(text.prefix(80))' is not a record name.") }
        return (try store(context), name)
    }

    /// A hosted store as `peer` sees it: read-only too when the peer may not write.
    func info(_ name: String, for peer: PinnedPeer) throws -> HostedStoreInfo? {
        guard let store = hosted.store(name) ?? ownStore(name, for: peer) else { return nil }
        let writable = peer.rights.contains(.write) || peer.rights.contains(.admin)
        return HostedStoreInfo(name: name, identity: store.identity, space: try? store.space(), readOnly: store.isReadOnly() || !writable,
                               disk: store.disk(), machine: DiskIdentity.machineName())
    }
}

import Foundation
import Hummingbird
import NIOCore
import TroveCore
import TrovePeer
import TroveStorage

/// Streaming object bodies in and out of hosted stores, in bounded memory: a read sends a part
/// at a time; a write hashes as it goes and keeps nothing unless the bytes are the ID named.
extension TroveServer {
    /// `GET …/objects/{id}` with an optional `Range: bytes=a-b`; `?media=1` reads past caches.
    func read(_ store: LocalStore, _ id: ContentID, request: Request) async throws -> Response {
        let range = try request.headers[.range].map(Self.parseRange)
        let fromMedia = request.uri.queryParameters.get("media") == "1"
        let reader = try await blocking { SendableReader(try store.openReader(id, range: range, fromMedia: fromMedia)) }
        let size = reader.reader.size
        let length = range.map { $0.clamped(to: 0..<size).count } ?? Int(size)
        let headers: HTTPFields = [Self.objectSize: "\(size)", .contentType: "application/octet-stream"]
        return Response(status: range == nil ? .ok : .partialContent, headers: headers, body: .init(contentLength: length) { writer in
            defer { reader.reader.close() }
            var left = length
            while left > 0 {
                let want = min(left, 256 << 10)
                let chunk = try await self.blocking { () -> ByteBuffer in
                    var buffer = ByteBufferAllocator().buffer(capacity: want)
                    let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw in
                        try reader.reader.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<min(want, raw.count)]))
                    }
                    guard count > 0 else { throw StoreError(.media, "\(id) ended early on \(store.location).") }
                    return buffer
                }
                left -= chunk.readableBytes
                try await writer.write(chunk)
            }
            try await writer.finish(nil)
        })
    }

    /// `bytes=a-b` (inclusive) as a half-open range.
    static func parseRange(_ text: String) throws -> Range<UInt64> {
        let bounds = text.hasPrefix("bytes=") ? text.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false) : []
        guard bounds.count == 2, let lower = UInt64(bounds[0]), let upper = UInt64(bounds[1]), upper >= lower, upper < .max else {
            throw APIError(.badRequest, "Range must be bytes=FIRST-LAST.")
        }
        return lower..<upper + 1
    }

    /// `PUT …/objects/{id}`: one object of at most a part, hashed as it arrives and kept only
    /// when it is `id`. An object already held is replaced by the verified bytes (the same
    /// content, so no overwrite even for an append-only peer; a held copy that rotted is healed).
    func put(_ store: LocalStore, _ id: ContentID, request: Request) async throws -> Response {
        let expected = request.headers[.contentLength].flatMap(UInt64.init)
        let writer = try await blocking { SendableWriter(try store.makeWriter(for: id, expectedSize: expected)) }
        var hasher = ContentHasher()
        do {
            for try await buffer in request.body {
                guard hasher.size + UInt64(buffer.readableBytes) <= UInt64(Self.maxSinglePut) else {
                    throw APIError(.contentTooLarge, "An object over \(Self.maxSinglePut) bytes is sent as an upload in parts (POST …/uploads).")
                }
                try buffer.withUnsafeReadableBytes { raw in
                    hasher.update(raw)
                    try writer.writer.write(raw)
                }
            }
            guard hasher.finish() == id else {
                throw APIError(.unprocessableContent, "The bytes sent are not \(id) (they hash to something else); nothing was kept.")
            }
            if let committer = hosted.committer(for: store) {
                do { try await committer.commit(writer, as: id) } catch let error as APIError { throw error } catch {
                    throw APIError(error)
                }
            } else {
                try await blocking { try writer.writer.commit(as: id) }
            }
        } catch {
            writer.writer.abort()
            throw error
        }
        return Response(status: .created)
    }

    /// `PUT …/uploads/{upload}?offset=N`: appends one part at the byte the server holds. A part
    /// whose connection drops is cut away, so what the server holds is always whole parts.
    func appendPart(_ store: LocalStore, _ upload: String, request: Request) async throws -> Response {
        guard let offset = request.uri.queryParameters.get("offset").flatMap(UInt64.init) else {
            throw APIError(.badRequest, "A part needs ?offset=N (the bytes the server holds, from GET …/uploads/{upload}).")
        }
        let path = Uploads.path(store, upload)
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw APIError(.notFound, "No upload \(upload).") }
        defer { close(fd) }
        try Uploads.lock(fd, path)
        var info = stat()
        fstat(fd, &info)
        guard UInt64(info.st_size) == offset else {
            throw APIError(.conflict, "The upload holds \(info.st_size) bytes, not \(offset); continue from \(info.st_size).")
        }
        var written: UInt64 = 0
        var leaf = UploadLeaves.hasher(forPartAt: offset)
        do {
            for try await buffer in request.body {
                guard written + UInt64(buffer.readableBytes) <= UInt64(Self.maxPart) else {
                    throw APIError(.contentTooLarge, "A part is at most \(Self.maxPart) bytes.")
                }
                try buffer.withUnsafeReadableBytes { raw in
                    leaf?.update(raw)
                    var done = 0
                    while done < raw.count {
                        let count = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + written) + off_t(done))
                        if count < 0 {
                            if errno == EINTR { continue }
                            throw errno == ENOSPC || errno == EDQUOT
                                ? APIError(.insufficientStorage, "\(store.location) is full.")
                                : APIError(.internalServerError, "Writing the upload failed: \(String(cString: strerror(errno))).")
                        }
                        done += count
                    }
                }
                written += UInt64(buffer.readableBytes)
            }
        } catch {
            ftruncate(fd, off_t(offset))
            throw error
        }
        if let leaf { UploadLeaves.record(store, upload, offset: offset, hasher: leaf) }
        return try jsonResponse(UploadState(upload: upload, received: offset + written))
    }
}

/// A store reader or writer handed between the event loop and the thread pool (used by one task at a time).
struct SendableReader: @unchecked Sendable {
    let reader: any ObjectReader
    init(_ reader: any ObjectReader) { self.reader = reader }
}

struct SendableWriter: @unchecked Sendable {
    let writer: any ObjectWriter
    init(_ writer: any ObjectWriter) { self.writer = writer }
}

/// `POST …/verify`: the hosting machine reads each object from its drive and checks it against
/// its content ID; only the verdicts cross the network.
enum HostedVerify {
    static let maxBytes: UInt64 = 16 << 30

    /// Only bytes that do not hash to their ID (or a media error reading them) make a copy
    /// corrupt; a store that cannot be read now fails the request (503) instead.
    static func run(_ store: LocalStore, _ ids: [ContentID]) throws -> RemoteVerifyReport {
        // What one request may make this machine read: a peer asks for more in several.
        let bytes = ids.reduce(UInt64(0)) { $0 + ((try? store.objectSize($1)) ?? 0) }
        guard bytes <= maxBytes else {
            throw APIError(.contentTooLarge, "That is \(bytes) bytes to read; ask for at most \(maxBytes) bytes of objects per verify.")
        }
        var report = RemoteVerifyReport()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for id in ids {
            let reader: any ObjectReader
            do { reader = try store.openReader(id, range: nil, fromMedia: true) } catch let error as StoreError {
                switch error.kind {
                case .notFound: report.missing.append(id.description); continue
                case .media: report.corrupt.append(id.description); continue
                // The drive gone, out of descriptors, no permission: that says nothing about the copies.
                case .unavailable, .noSpace, .permissionDenied: throw error
                }
            }
            defer { reader.close() }
            var hasher = ContentHasher()
            var failed = false
            while true {
                let count: Int
                do { count = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) } } catch let error as StoreError
                    where error.kind != .media {
                    throw error
                } catch {
                    failed = true
                    break
                }
                if count == 0 { break }
                buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            }
            if !failed && hasher.finish() == id { report.good.append(id.description) } else { report.corrupt.append(id.description) }
        }
        return report
    }
}

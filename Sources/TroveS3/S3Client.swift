import AsyncHTTPClient
import Foundation
import TroveCore
import Logging
import NIOCore
import NIOHTTP1

/// A small synchronous S3 client.
///
/// Every call blocks its thread until S3 answers, so call it from worker threads, never from a
/// SwiftNIO event loop. Any number of threads may share one client: it keeps one connection pool and
/// lets at most `maxConcurrentRequests` requests be in flight at once, the rest wait their turn.
///
/// Failures come out as `S3Failure`. Those of kind `.unavailable` (5xx, 429, SlowDown, timeouts,
/// refused or reset connections, DNS) are retried per the `RetryPolicy` first. A retried conditional
/// write whose first try did land answers 412, so `put(ifNoneMatch:)` and `completeMultipart` then
/// return false: the object is there, which is what a content-addressed caller wants to know.
public final class S3Client: @unchecked Sendable {
    public let location: S3Location
    private let credentials: S3Credentials
    private let retry: RetryPolicy
    private let requestTimeout: TimeAmount
    private let http: HTTPClient
    private let slots: DispatchSemaphore
    private let logger: Logger
    private let lock = NSLock()
    private var isShutDown = false

    private let scheme: String
    /// The Host header as sent and signed: `[bucket.]host[:port]`.
    private let hostHeader: String

    public init(
        location: S3Location, credentials: S3Credentials, maxConcurrentRequests: Int = 8,
        retry: RetryPolicy = RetryPolicy(), requestTimeout: TimeInterval = 60, connectTimeout: TimeInterval = 10,
        logger: Logger = Logger(label: "trove.s3")
    ) {
        self.location = location
        self.credentials = credentials
        self.retry = retry
        self.requestTimeout = .milliseconds(Int64(max(0.001, requestTimeout) * 1000))
        self.logger = logger
        let concurrency = max(1, maxConcurrentRequests)
        self.slots = DispatchSemaphore(value: concurrency)

        let scheme = (location.endpoint.scheme ?? "https").lowercased()
        self.scheme = scheme
        var host = location.endpoint.host ?? ""
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }
        if !location.pathStyle { host = "\(location.bucket).\(host)" }
        if let port = location.endpoint.port, port != (scheme == "http" ? 80 : 443) { host += ":\(port)" }
        self.hostHeader = host

        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: .milliseconds(Int64(max(0.001, connectTimeout) * 1000)),
                read: .milliseconds(Int64(max(0.001, requestTimeout) * 1000))),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency),
            decompression: .disabled)
        configuration.httpVersion = .automatic
        // A refused or failed connection fails the request at once (AsyncHTTPClient would retry it
        // until the connect timeout): the retry policy below is the one place that retries.
        configuration.connectionPool.retryConnectionEstablishment = false
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    deinit { shutdown() }

    /// Closes the connections. Idempotent; calls made afterwards fail with `.invalid`.
    public func shutdown() {
        lock.lock()
        let already = isShutDown
        isShutDown = true
        lock.unlock()
        if !already { try? http.syncShutdown() }
    }

    // MARK: Objects

    /// The object's size, or nil when there is no such key.
    public func head(_ key: String) throws -> UInt64? {
        let reply = try perform(.HEAD, key: key, accept: [404], op: "HEAD")
        if reply.status == 404 { return nil }
        guard let length = reply.headers.first(name: "content-length").flatMap(UInt64.init) else {
            throw S3Failure(
                kind: .invalid, status: reply.status,
                message: "S3 HEAD of key '\(key)' in bucket '\(location.bucket)' answered without a Content-Length.")
        }
        return length
    }

    /// The object's bytes, or those in `range` (byte offsets, upper bound exclusive). A range reaching past
    /// the end yields what there is. No such key throws `.notFound`.
    public func get(_ key: String, range: Range<UInt64>? = nil) throws -> [UInt8] {
        var headers: [String: String] = [:]
        if let range {
            if range.isEmpty {
                guard try head(key) != nil else { throw notFound(op: "GET", key: key) }
                return []
            }
            headers["range"] = "bytes=\(range.lowerBound)-\(range.upperBound - 1)"
        }
        let reply = try perform(.GET, key: key, headers: headers, op: "GET")
        // A server that ignores Range sends the whole object with 200; cut out what was asked for.
        if let range, reply.status == 200 {
            let lower = Int(min(range.lowerBound, UInt64(reply.body.count)))
            let upper = Int(min(range.upperBound, UInt64(reply.body.count)))
            return Array(reply.body[lower..<upper])
        }
        return reply.body
    }

    /// The bytes in `range` (clipped to the object) and the object's whole size, in one request
    /// (the size from Content-Range): what a reader needs to start, without a HEAD first. No such
    /// key throws `.notFound`.
    public func getWithSize(_ key: String, range: Range<UInt64>) throws -> (bytes: [UInt8], size: UInt64) {
        guard !range.isEmpty else {
            guard let size = try head(key) else { throw notFound(op: "GET", key: key) }
            return ([], size)
        }
        let reply = try perform(.GET, key: key, headers: ["range": "bytes=\(range.lowerBound)-\(range.upperBound - 1)"], accept: [416],
                                op: "GET")
        if reply.status == 416 {
            // The range starts at or past the end (an empty object has no byte 0).
            guard let size = try head(key) else { throw notFound(op: "GET", key: key) }
            return ([], size)
        }
        if reply.status == 200 {
            // A server that ignores Range sends the whole object.
            let size = UInt64(reply.body.count)
            let lower = Int(min(range.lowerBound, size)), upper = Int(min(range.upperBound, size))
            return (Array(reply.body[lower..<upper]), size)
        }
        guard let header = reply.headers.first(name: "content-range"), let slash = header.lastIndex(of: "/"),
              let size = UInt64(header[header.index(after: slash)...].trimmingCharacters(in: .whitespaces)) else {
            throw S3Failure(kind: .invalid, status: reply.status,
                            message: "S3 GET of key '\(key)' in bucket '\(location.bucket)' answered a range without Content-Range.")
        }
        return (reply.body, size)
    }

    /// Stores `body` under `key`. With `ifNoneMatch` the write happens only if no object has that key,
    /// and the answer is false when one already did (412); the existing object is untouched.
    @discardableResult
    public func put(_ key: String, body: [UInt8], ifNoneMatch: Bool) throws -> Bool {
        let headers = ifNoneMatch ? ["if-none-match": "*"] : [:]
        let reply = try perform(.PUT, key: key, headers: headers, body: body, accept: ifNoneMatch ? [412] : [], op: "PUT")
        return reply.status != 412
    }

    /// Removes `key`; a key that is already gone is fine.
    public func delete(_ key: String) throws {
        _ = try perform(.DELETE, key: key, accept: [404], op: "DELETE")
    }

    /// One page of ListObjectsV2: keys under `prefix` in key order, and the continuation token for the
    /// next page (nil on the last).
    public func list(
        prefix: String, startAfter: String? = nil, continuation: String?, maxKeys: Int = 1000
    ) throws -> (objects: [S3Object], next: String?) {
        var query: [(name: String, value: String?)] = [
            ("list-type", "2"), ("max-keys", String(max(1, min(maxKeys, 1000)))), ("prefix", prefix),
        ]
        if let startAfter { query.append(("start-after", startAfter)) }
        if let continuation { query.append(("continuation-token", continuation)) }
        let reply = try perform(.GET, key: nil, query: query, op: "LIST")
        let root = try document(reply, expect: "ListBucketResult", op: "LIST", key: prefix)
        var objects: [S3Object] = []
        for entry in root.all("Contents") {
            guard let key = entry.value("Key"), let size = entry.value("Size").flatMap(UInt64.init) else {
                throw malformed(op: "LIST", key: prefix, "a Contents entry without Key or Size")
            }
            objects.append(S3Object(key: key, size: size))
        }
        var next: String?
        if root.value("IsTruncated") == "true" {
            guard let token = root.value("NextContinuationToken"), !token.isEmpty else {
                throw malformed(op: "LIST", key: prefix, "a truncated listing without NextContinuationToken")
            }
            next = token
        }
        return (objects, next)
    }

    /// Copies `source` to `destination` within the bucket (server side, up to 5 GB).
    public func copy(from source: String, to destination: String) throws {
        let copySource = "/" + SigV4.uriEncode(location.bucket, keepSlash: false) + "/" + SigV4.uriEncode(source, keepSlash: true)
        _ = try perform(.PUT, key: destination, headers: ["x-amz-copy-source": copySource], body: [], errorIn200: true, op: "COPY")
    }

    /// Creates the bucket; one that already exists and is ours is fine.
    public func createBucket() throws {
        var body: [UInt8] = []
        if location.region != "us-east-1" && !location.region.isEmpty {
            body = Array(
                ("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                    + "<LocationConstraint>\(XMLText.escape(location.region))</LocationConstraint></CreateBucketConfiguration>").utf8)
        }
        let reply = try perform(.PUT, key: nil, body: body, accept: [409], op: "CREATE BUCKET")
        if reply.status == 409 {
            let code = S3XMLNode.parse(reply.body)?.value("Code")
            if code == "BucketAlreadyOwnedByYou" { return }
            throw failure(status: 409, body: reply.body, op: "CREATE BUCKET", key: nil)
        }
    }

    // MARK: Multipart

    /// Starts a multipart upload; returns its upload id.
    public func createMultipart(_ key: String) throws -> String {
        let reply = try perform(.POST, key: key, query: [("uploads", nil)], body: [], op: "CREATE MULTIPART")
        let root = try document(reply, expect: "InitiateMultipartUploadResult", op: "CREATE MULTIPART", key: key)
        guard let id = root.value("UploadId"), !id.isEmpty else {
            throw malformed(op: "CREATE MULTIPART", key: key, "no UploadId")
        }
        return id
    }

    /// Uploads part `part` (1...10000) and returns its ETag, as S3 sent it (quotes included).
    public func uploadPart(_ key: String, uploadID: String, part: Int, body: [UInt8]) throws -> String {
        try uploadPart(key, uploadID: uploadID, part: part, buffer: ByteBuffer(bytes: body))
    }

    /// `uploadPart` from a ByteBuffer, sent without a copy.
    public func uploadPart(_ key: String, uploadID: String, part: Int, buffer: ByteBuffer) throws -> String {
        let reply = try perform(
            .PUT, key: key, query: [("partNumber", String(part)), ("uploadId", uploadID)], buffer: buffer, op: "UPLOAD PART \(part)")
        guard let etag = reply.headers.first(name: "etag"), !etag.isEmpty else {
            throw malformed(op: "UPLOAD PART \(part)", key: key, "no ETag")
        }
        return etag
    }

    /// Joins the parts into the object. With `ifNoneMatch` and an object already at `key`, answers false
    /// (412) and aborts the upload.
    @discardableResult
    public func completeMultipart(
        _ key: String, uploadID: String, parts: [(number: Int, etag: String)], ifNoneMatch: Bool
    ) throws -> Bool {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts.sorted(by: { $0.number < $1.number }) {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(XMLText.escape(part.etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let reply = try perform(
            .POST, key: key, query: [("uploadId", uploadID)], headers: ifNoneMatch ? ["if-none-match": "*"] : [:],
            body: Array(xml.utf8), accept: ifNoneMatch ? [412] : [], errorIn200: true, op: "COMPLETE MULTIPART")
        if reply.status == 412 {
            try abortMultipart(key, uploadID: uploadID)
            return false
        }
        return true
    }

    /// Abandons a multipart upload and frees its parts; one that is already gone is fine.
    public func abortMultipart(_ key: String, uploadID: String) throws {
        _ = try perform(.DELETE, key: key, query: [("uploadId", uploadID)], accept: [404], op: "ABORT MULTIPART")
    }

    /// Every multipart upload under `prefix` that was started and neither completed nor aborted.
    public func listMultipartUploads(prefix: String) throws -> [S3Upload] {
        var uploads: [S3Upload] = []
        var keyMarker: String?
        var idMarker: String?
        while true {
            var query: [(name: String, value: String?)] = [("uploads", nil), ("prefix", prefix)]
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let idMarker { query.append(("upload-id-marker", idMarker)) }
            let reply = try perform(.GET, key: nil, query: query, op: "LIST MULTIPART")
            let root = try document(reply, expect: "ListMultipartUploadsResult", op: "LIST MULTIPART", key: prefix)
            for entry in root.all("Upload") {
                guard let key = entry.value("Key"), let id = entry.value("UploadId") else {
                    throw malformed(op: "LIST MULTIPART", key: prefix, "an Upload without Key or UploadId")
                }
                let initiated = entry.value("Initiated").flatMap(Self.parseDate) ?? Date(timeIntervalSince1970: 0)
                uploads.append(S3Upload(key: key, uploadID: id, initiated: initiated))
            }
            guard root.value("IsTruncated") == "true" else { return uploads }
            let nextKey = root.value("NextKeyMarker")
            let nextID = root.value("NextUploadIdMarker")
            guard nextKey != nil || nextID != nil, nextKey != keyMarker || nextID != idMarker else {
                throw malformed(op: "LIST MULTIPART", key: prefix, "a truncated listing without a next marker")
            }
            keyMarker = nextKey
            idMarker = nextID
        }
    }

    // MARK: Requests

    private struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
    }

    /// Sends one request, retrying what is `.unavailable`. Answers 2xx and the statuses in `accept`;
    /// throws an `S3Failure` for the rest. With `errorIn200`, a 200 whose body is an S3 Error
    /// document (CopyObject, CompleteMultipartUpload) counts as that error.
    private func perform(
        _ method: HTTPMethod, key: String?, query: [(name: String, value: String?)] = [],
        headers: [String: String] = [:], body: [UInt8]? = nil, accept: Set<Int> = [], errorIn200: Bool = false,
        op: String
    ) throws -> Reply {
        try perform(method, key: key, query: query, headers: headers, buffer: body.map { ByteBuffer(bytes: $0) }, accept: accept,
                    errorIn200: errorIn200, op: op)
    }

    /// `perform` with a body already in a ByteBuffer (handed to the HTTP client without a copy).
    private func perform(
        _ method: HTTPMethod, key: String?, query: [(name: String, value: String?)] = [],
        headers: [String: String] = [:], buffer body: ByteBuffer?, accept: Set<Int> = [], errorIn200: Bool = false,
        op: String
    ) throws -> Reply {
        let payloadHash = body.map { buffer in buffer.withUnsafeReadableBytes { SigV4.sha256Hex($0) } } ?? SigV4.emptyPayloadHash
        var attempt = 1
        while true {
            let failure: S3Failure
            do {
                let reply = try send(method, key: key, query: query, headers: headers, body: body, payloadHash: payloadHash, op: op)
                if accept.contains(reply.status) { return reply }
                if (200..<300).contains(reply.status) {
                    if errorIn200, let root = S3XMLNode.parse(reply.body), root.name == "Error" {
                        failure = self.failure(status: reply.status, body: reply.body, op: op, key: key)
                    } else {
                        return reply
                    }
                } else {
                    failure = self.failure(status: reply.status, body: reply.body, op: op, key: key)
                }
            } catch let error as S3Failure {
                failure = error
            }
            guard failure.kind == .unavailable, attempt < retry.attempts else { throw failure }
            let wait = retry.delay(attempt: attempt, random: Double.random(in: 0..<1))
            logger.debug(
                "S3 request failed; retrying",
                metadata: [
                    "op": "\(op)", "key": "\(key ?? "")", "attempt": "\(attempt)", "of": "\(retry.attempts)",
                    "wait": "\(String(format: "%.3f", wait))", "reason": "\(failure.message)",
                ])
            if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            attempt += 1
        }
    }

    /// The URL to send to and the canonical URI to sign, for `key` (nil: the bucket itself) and `query`.
    func target(key: String?, query: [(name: String, value: String?)]) -> (url: String, canonicalURI: String) {
        let canonicalURI = SigV4.canonicalURI(bucket: location.pathStyle ? location.bucket : nil, key: key)
        let wireQuery = query.map {
            SigV4.uriEncode($0.name, keepSlash: false) + ($0.value.map { "=" + SigV4.uriEncode($0, keepSlash: false) } ?? "")
        }.joined(separator: "&")
        return ("\(scheme)://\(hostHeader)\(canonicalURI)" + (wireQuery.isEmpty ? "" : "?" + wireQuery), canonicalURI)
    }

    /// The byte count of a `bytes=a-b` range header (0 without one).
    static func rangeLength(_ header: String?) -> Int64 {
        guard let header, header.hasPrefix("bytes=") else { return 0 }
        let bounds = header.dropFirst(6).split(separator: "-").compactMap { Int64($0) }
        return bounds.count == 2 ? max(0, bounds[1] - bounds[0] + 1) : 0
    }

    /// One try: sign now, wait for a free slot, send, collect the whole answer.
    private func send(
        _ method: HTTPMethod, key: String?, query: [(name: String, value: String?)], headers: [String: String],
        body: ByteBuffer?, payloadHash: String, op: String
    ) throws -> Reply {
        let (url, canonicalURI) = target(key: key, query: query)

        slots.wait()
        defer { slots.signal() }
        let signed = SigV4.sign(
            SigV4.Request(
                method: method.rawValue, host: hostHeader, canonicalURI: canonicalURI, query: query, headers: headers,
                payloadHash: payloadHash),
            accessKey: credentials.accessKey, secretKey: credentials.secretKey, sessionToken: credentials.sessionToken,
            region: location.region, now: Date())
        do {
            let request = try HTTPClient.Request(
                url: url, method: method, headers: HTTPHeaders(signed.headers.map { ($0.name, $0.value) }),
                body: body.map { .byteBuffer($0) })
            // The deadline grows with the body (at least 32 KiB/s): a slow uplink is slow, not down.
            // …and with the bytes a ranged GET asks for, so a slow downlink is slow, not down.
            let transfer = max(Int64(body?.readableBytes ?? 0), Self.rangeLength(headers["range"]))
            let allowance = requestTimeout + .milliseconds(transfer * 1000 / 32_768)
            let response = try http.execute(request: request, deadline: .now() + allowance).wait()
            let bytes = response.body.map { Array($0.readableBytesView) } ?? []
            return Reply(status: Int(response.status.code), headers: response.headers, body: bytes)
        } catch {
            throw transportFailure(error, op: op, key: key)
        }
    }

    // MARK: Failures

    private func subject(_ op: String, _ key: String?) -> String {
        if let key { return "S3 \(op) of '\(key)' in bucket '\(location.bucket)'" }
        return "S3 \(op) on bucket '\(location.bucket)'"
    }

    private func failure(status: Int, body: [UInt8], op: String, key: String?) -> S3Failure {
        let root = S3XMLNode.parse(body)
        let code = root?.value("Code").flatMap { $0.isEmpty ? nil : $0 }
        var detail = root?.value("Message")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if detail.isEmpty { detail = HTTPResponseStatus(statusCode: status).reasonPhrase }
        if !detail.hasSuffix(".") { detail += "." }
        let kind = S3Failure.kind(status: status, code: code)
        let what = code.map { "\($0) (HTTP \(status))" } ?? "HTTP \(status)"
        return S3Failure(kind: kind, status: status, code: code, message: "\(subject(op, key)) failed with \(what): \(detail)")
    }

    private func notFound(op: String, key: String) -> S3Failure {
        S3Failure(kind: .notFound, status: 404, code: "NoSuchKey", message: "\(subject(op, key)) failed with NoSuchKey (HTTP 404): The specified key does not exist.")
    }

    private func malformed(op: String, key: String?, _ what: String) -> S3Failure {
        S3Failure(kind: .invalid, message: "\(subject(op, key)) got an answer it cannot read: \(what).")
    }

    private func document(_ reply: Reply, expect name: String, op: String, key: String?) throws -> S3XMLNode {
        guard let root = S3XMLNode.parse(reply.body) else { throw malformed(op: op, key: key, "the XML does not parse") }
        guard root.name == name else { throw malformed(op: op, key: key, "expected <\(name)>, got <\(root.name)>") }
        return root
    }

    private func transportFailure(_ error: Error, op: String, key: String?) -> S3Failure {
        if let failure = error as? S3Failure { return failure }
        let endpoint = "\(scheme)://\(hostHeader)"
        if let e = error as? HTTPClientError {
            let invalid: [HTTPClientError] = [
                .invalidURL, .emptyHost, .emptyScheme, .alreadyShutdown, .bodyLengthMismatch, .invalidRedirectConfiguration,
                .redirectLimitReached, .redirectCycleDetected,
            ]
            if invalid.contains(e) {
                let reason = e == .alreadyShutdown ? "the client was shut down" : "\(e)"
                return S3Failure(kind: .invalid, message: "\(subject(op, key)) could not be sent to \(endpoint): \(reason).")
            }
            if e.description.contains("unsupportedScheme") {
                return S3Failure(kind: .invalid, message: "\(subject(op, key)) could not be sent: \(endpoint) has a scheme other than http or https.")
            }
        }
        return S3Failure(kind: .unavailable, message: "\(subject(op, key)) could not reach \(endpoint): \(error).")
    }

    static func parseDate(_ text: String) -> Date? {
        let s = text.trimmingCharacters(in: .whitespaces)
        if let d = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(s) { return d }
        return try? Date.ISO8601FormatStyle().parse(s)
    }
}

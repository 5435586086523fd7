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
    let credentials: S3Credentials
    let retry: RetryPolicy
    let requestTimeout: TimeAmount
    let http: HTTPClient
    let slots: DispatchSemaphore
    let logger: Logger
    private let lock = NSLock()
    private var isShutDown = false

    let scheme: String
    /// The Host header as sent and signed: `[bucket.]host[:port]`.
    let hostHeader: String

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
}

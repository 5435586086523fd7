import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOConcurrencyHelpers
import TroveCore
import TroveStorage

/// A synchronous HTTPS client for one paired machine: every connection presents this library's
/// certificate and accepts only the peer's pinned one (no certificate authority, no host names).
///
/// Calls block their thread; call from store lanes, never from an event loop. Connection
/// failures, timeouts and 5xx answers are retried a few times; then the call fails with
/// `StoreError(.unavailable)` — a peer that is off never hangs a run.
public final class PeerClient: @unchecked Sendable {
    /// `https://host:port`, without a trailing slash.
    public let address: String
    public let peer: PinnedPeer
    let http: HTTPClient
    let requestTimeout: TimeAmount
    private let lock = NSLock()
    private var isShutDown = false

    /// The answer to one request.
    public struct Reply: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: [UInt8]
    }

    public init(peer: PinnedPeer, identity: PeerIdentity, address: String? = nil, connectTimeout: TimeInterval = 5,
                requestTimeout: TimeInterval = 60) throws {
        guard let address = (address ?? peer.address).map({ $0.hasSuffix("/") ? String($0.dropLast()) : $0 }) else {
            throw TroveError(.usage, "The peer '\(peer.label)' has no address: pair with it by `trove peer join URL CODE`.")
        }
        self.address = address
        self.peer = peer
        self.requestTimeout = .milliseconds(Int64(requestTimeout * 1000))
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateChain = [.certificate(try identity.nioCertificate())]
        tls.privateKey = .privateKey(try identity.nioPrivateKey())
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(peer.certificate.utf8)))
        // The pinned certificate is the only root: the host name it is reached by does not matter.
        tls.certificateVerification = .noHostnameVerification
        tls.minimumTLSVersion = .tlsv12
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            // No idle read timeout: each call's own watchdog judges whether the peer still answers.
            timeout: .init(connect: .milliseconds(Int64(connectTimeout * 1000))),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16),
            decompression: .disabled)
        configuration.httpVersion = .http1Only
        configuration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    deinit { shutdown() }

    public func shutdown() {
        let already = lock.withLock { () -> Bool in
            defer { isShutDown = true }
            return isShutDown
        }
        if !already { try? http.syncShutdown() }
    }

    /// Sends a request and collects the answer (at most `maxBody` bytes of it: a peer that sends
    /// more is lying, and the call fails). Answers with a status in `accept`, or 2xx, are returned;
    /// others throw a `StoreError` carrying the server's message.
    public func send(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: ByteBuffer? = nil,
                     accept: Set<Int> = [], maxBody: Int = 1 << 20, attempts: Int = 3, serverWork: TimeInterval = 0) throws -> Reply {
        var attempt = 1
        while true {
            do {
                let reply = try sendOnce(method, path, headers: headers, body: body, maxBody: maxBody, serverWork: serverWork)
                if accept.contains(reply.status) || (200..<300).contains(reply.status) { return reply }
                throw failure(reply, method: method, path: path)
            } catch let error as StoreError where error.kind == .unavailable && attempt < attempts {
                Thread.sleep(forTimeInterval: [0.2, 1, 3][min(attempt - 1, 2)])
                attempt += 1
            }
        }
    }

    /// Sends bytes held in an array.
    public func send(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: [UInt8],
                     accept: Set<Int> = [], maxBody: Int = 1 << 20, attempts: Int = 3, serverWork: TimeInterval = 0) throws -> Reply {
        try send(method, path, headers: headers, body: ByteBuffer(bytes: body), accept: accept, maxBody: maxBody,
                 attempts: attempts, serverWork: serverWork)
    }

    /// `serverWork`: seconds the server may need before it answers (hashing a large upload).
    func sendOnce(_ method: HTTPMethod, _ path: String, headers: [(String, String)], body: ByteBuffer?, maxBody: Int,
                  serverWork: TimeInterval) throws -> Reply {
        let already = lock.withLock { isShutDown }
        if already { throw StoreError(.unavailable, "The connection to '\(peer.label)' is closed.") }
        do {
            let request = try HTTPClient.Request(url: address + path, method: method, headers: HTTPHeaders(headers),
                                                 body: body.map { .byteBuffer($0) })
            // The head must come within the request timeout, plus the time to send the body at
            // 64 KiB/s at least (a slow uplink is slow, not down); then the body must keep moving.
            let headLimit = requestTimeout + .milliseconds(Int64(body?.readableBytes ?? 0) * 1000 / 65_536 + Int64(serverWork * 1000))
            let collector = PeerResponseCollector(maxBody: maxBody)
            // The whole exchange may also take the time to receive the largest answer allowed at
            // 64 KiB/s (a slow but steady link); a stalled one is the watchdog's to cut off.
            let bodyLimit = TimeAmount.milliseconds(Int64(maxBody) * 1000 / 65_536)
            let task = http.execute(request: request, delegate: collector, deadline: .now() + headLimit + bodyLimit)
            let started = NIODeadline.now()
            let stalled = NIOLockedValueBox<String?>(nil)
            let watchdog = task.futureResult.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                if let reason = collector.stall(now: .now(), started: started, headLimit: headLimit) {
                    stalled.withLockedValue { $0 = reason }
                    task.cancel()
                }
            }
            defer { watchdog.cancel() }
            do { return try task.futureResult.wait() } catch {
                if let reason = stalled.withLockedValue({ $0 }) {
                    throw StoreError(.unavailable, "'\(peer.label)' (\(address)) \(reason) for \(method) \(path); Trove tries again next run.")
                }
                throw error
            }
        } catch let error as StoreError {
            throw error
        } catch is PeerResponseCollector.TooBig {
            throw StoreError(.media, "'\(peer.label)' (\(address)) sent more than the \(maxBody) bytes asked for \(method) \(path); it is not behaving like a Trove server, so nothing it sent counts.")
        } catch {
            throw StoreError(.unavailable, "Cannot reach '\(peer.label)' at \(address) (\(Self.describe(error))). Check that `trove serve` runs there and the network; Trove tries again next run.")
        }
    }

    /// The store error an answer means.
    func failure(_ reply: Reply, method: HTTPMethod, path: String) -> StoreError {
        let explained = try? JSONDecoder().decode(ServerError.self, from: Data(reply.body)).error
        let text = "'\(peer.label)' refused \(method) \(path) (HTTP \(reply.status)): "
            + (explained ?? HTTPResponseStatus(statusCode: reply.status).reasonPhrase)
        switch reply.status {
        case 404: return StoreError(.notFound, text)
        // A Trove server says what to do; anything else gets the usual advice.
        case 401, 403: return StoreError(.permissionDenied, explained != nil ? text : text + ". Ask its owner for the right (`trove peer invite --can …`).")
        case 507: return StoreError(.noSpace, text)
        case 409, 412, 422: return StoreError(.media, text)
        // The server could not do it (its drive failed a write): a fault of that store, not a
        // machine that is away. Overloaded, restarting or behind a proxy that lost it: away for now.
        case 500, 501, 505...: return StoreError(.media, text)
        case 429, 502, 503, 504: return StoreError(.unavailable, text)
        default: return StoreError(.permissionDenied, text)
        }
    }

    static func describe(_ error: any Error) -> String {
        if let ssl = error as? NIOSSLError { return "TLS: \(ssl)" }
        if let client = error as? HTTPClientError { return "\(client)" }
        return "\(error)"
    }

    /// Decodes a JSON answer.
    public func json<T: Decodable>(_ type: T.Type, _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil,
                                   headers: [(String, String)] = []) throws -> T {
        let reply = try send(method, path, headers: headers + [("content-type", "application/json")], body: body.map { ByteBuffer(bytes: $0) } as ByteBuffer?)
        do { return try JSONCoding.decoder.decode(T.self, from: Data(reply.body)) } catch {
            throw StoreError(.media, "'\(peer.label)' answered \(method) \(path) with a document Trove cannot read (\(error)).")
        }
    }
}

/// The body of every error answer: `{"error": "what happened and what to do"}`.
public struct ServerError: Codable, Sendable {
    public var error: String
    public init(error: String) { self.error = error }
}

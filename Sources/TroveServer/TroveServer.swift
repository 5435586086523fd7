import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import TroveEngine
import TroveMetrics
import TrovePeer
import ServiceLifecycle
import TroveStorage
import HummingbirdCore

/// `trove serve`'s HTTPS face: the library's JSON documents, the stores this machine hosts for
/// peers, pairing, and /metrics. Every connection is mutual TLS: the client must present a
/// certificate this library pinned (or, while a pairing code is open, may only ask to pair);
/// anything else is refused in the handshake, before any handler runs. docs/api.yaml describes
/// the endpoints.
public final class TroveServer: Sendable {
    let library: Library
    let identity: PeerIdentity
    let gate: PeerGate
    public let hosted: HostedStores
    let status: StatusCache
    let logger: Logger
    /// This machine's name, as peers see it.
    let name: String
    /// What the background loop is doing (`/v1/progress`, /metrics); `trove serve` reports into it.
    public let work = WorkBoard()
    /// Request latencies for /metrics.
    let requests = RequestMetrics()
    /// Verify requests reading the drives now (at most two at once).
    let verifies = Slots(2)
    /// This library's ID: paired machines of the same library may reach its own stores.
    let libraryID: String?

    public init(library: Library, identity: PeerIdentity, hosted: HostedStores, logger: Logger) {
        self.library = library
        self.identity = identity
        self.hosted = hosted
        self.logger = logger
        gate = PeerGate(file: PeerBookFile(library: library.path), now: { [clock = library.clock] in clock.now() })
        status = StatusCache(library: library)
        name = DiskIdentity.machineName()
        libraryID = try? library.catalog.setting("library_id")
    }

    /// The background loop's latest observation of the stores (what status answers from).
    public func observed(_ observation: [ObservedStore]) { status.update(observation) }

    /// Runs blocking work (the catalog, the drives) off the event loops and the concurrency pool.
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        do { return try await FileWork.pool.runIfActive(body) } catch let error as APIError { throw error } catch {
            throw APIError(error)
        }
    }

    /// Serves until `shouldStop` says so (polled a few times a second), then closes gracefully.
    /// `onListening` gets the port (useful with port 0).
    public func run(host: String, port: Int, shouldStop: @escaping @Sendable () -> Bool,
                    onListening: @escaping @Sendable (Int) -> Void) async throws {
        try await run(host: host, port: port, localPort: nil, shouldStop: shouldStop, onListening: onListening, onLocal: { _ in })
    }

    /// With `localPort`, also serves /metrics and GET /v1/status over plain HTTP on 127.0.0.1
    /// only (for Prometheus and local monitors, which present no client certificate).
    public func run(host: String, port: Int, localPort: Int?, shouldStop: @escaping @Sendable () -> Bool,
                    onListening: @escaping @Sendable (Int) -> Void, onLocal: @escaping @Sendable (Int) -> Void) async throws {
        let router = Router(context: PeerContext.self)
        router.add(middleware: RequestMetricsMiddleware(metrics: requests))
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: PeerGateMiddleware(gate: gate))
        addLibraryRoutes(to: router)
        addHostedRoutes(to: router)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(try identity.nioCertificate())],
                                                           privateKey: .privateKey(try identity.nioPrivateKey()))
        // Requires a client certificate; which ones pass is the gate's decision (pinned fingerprints).
        tls.certificateVerification = .noHostnameVerification
        tls.minimumTLSVersion = .tlsv12
        let gate = self.gate
        let channel = TLSChannelConfiguration(tlsConfiguration: tls, customVerificationCallback: { certificates, promise in
            promise.succeed(gate.verify(certificates))
        })
        let http = HTTP1Channel.Configuration(
            idleTimeout: .seconds(120),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: 8192, maxHeaderListSize: 32_768, maxHeaderFieldCount: 100))
        let app = Application(
            router: router,
            server: try .tls(.http1(configuration: http), configuration: channel),
            configuration: .init(address: .hostname(host, port: port), serverName: "trove"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) },
            logger: logger)
        var services: [any Service] = [app]
        if let localPort { services.append(localApplication(port: localPort, onListening: onLocal)) }
        let group = ServiceGroup(services: services, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            tasks.addTask {
                while !shouldStop() { try await Task.sleep(for: .milliseconds(200)) }
                await group.triggerGracefulShutdown()
            }
            try await tasks.next()
            tasks.cancelAll()
        }
    }
}

extension TroveServer {
    /// The loopback-only plain-HTTP face: read-only documents, no hosted stores, no pairing.
    func localApplication(port: Int, onListening: @escaping @Sendable (Int) -> Void) -> some Service {
        let router = Router(context: BasicRequestContext.self)
        router.get("/v1/status") { _, _ in
            let json = try await self.currentStatus().json
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: try await self.metricsText())))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "trove"),
                           onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) }, logger: logger)
    }

    /// The status report: the one computed this second as it is, else computed off the request's thread.
    func currentStatus() async throws -> (report: StatusReport, json: Data) {
        if let fresh = status.fresh() { return fresh }
        return try await blocking { try self.status.current() }
    }

    /// The Prometheus text for the current status.
    func metricsText() async throws -> String {
        try await blocking {
            let report = try self.status.current().report
            return LibraryMetrics.render(report, lastEvents: try self.library.lastEvents(LibraryMetrics.timedEvents),
                                         work: self.work.state)
                + self.requests.text()
        }
    }
}

/// Turns any error a handler throws into the API's `{"error": …}` answer with a fitting status.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = PeerContext
    func handle(_ request: Request, context: PeerContext, next: (Request, PeerContext) async throws -> Response) async throws -> Response {
        do { return try await next(request, context) } catch let error as HTTPError {
            return APIError(error.status, error.body ?? error.status.reasonPhrase).response()
        } catch {
            return APIError(error).response()
        }
    }
}

/// A fixed number of slots, taken without waiting.
final class Slots: @unchecked Sendable {
    private let lock = NSLock()
    private var free: Int
    init(_ count: Int) { free = count }
    func enter() -> Bool { lock.withLock { free > 0 ? { free -= 1; return true }() : false } }
    func leave() { lock.withLock { free += 1 } }
}

import ArgumentParser
import Dispatch
import Foundation
import Logging
import TroveEngine
import TroveCore
import TrovePeer
import TroveServer
import TroveStorage

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run in the background: watch stores, heal, scrub and check, pass after pass; with --listen, also serve HTTPS.",
        discussion: """
            With --listen HOST:PORT, serves the library's status, stores, events and /metrics, and the stores
            it hosts (`trove host add`, followed while it runs, and --host-store for this run), to paired machines only (mutual TLS with pinned certificates; pair with
            `trove peer invite` here and `trove peer join` there). See docs/peers.md and docs/api.yaml.
            Stops cleanly on SIGINT or SIGTERM. Logs go to stderr through swift-log (use -v for each pass).
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Seconds between passes.") var interval: Double = 300
    @Option(help: "Copies re-verified per pass.") var scrubCopies = 200
    @Option(help: "Healing bandwidth limit in MB/s while nothing is imported.") var limit: Double?
    @Option(help: "Stop after this many passes (for testing and cron; with --listen, serving goes on until stopped).") var passes: Int?
    @Option(help: "Serve HTTPS on HOST:PORT (e.g. 0.0.0.0:7860; port 0 picks a free one).") var listen: String?
    @Option(name: .customLong("host-store"), help: "Also host a store for paired peers in this run: NAME=FOLDER (made if missing). Repeatable; `trove host add` keeps one.")
    var hostStores: [String] = []
    @Option(help: "Also serve /metrics and GET /v1/status over plain HTTP on 127.0.0.1:PORT (loopback only; for Prometheus).")
    var metricsPort: Int?

    func validate() throws {
        try requireRange(interval, 0...604_800, "interval")
        try requireRange(scrubCopies, 0...10_000_000, "scrub-copies")
        try requireRange(limit, 0.01...1_000_000, "limit")
        try requireRange(passes, 1...Int.max, "passes")
        if let listen { _ = try Self.parseListen(listen) }
        if !hostStores.isEmpty && listen == nil { throw ValidationError("--host-store needs --listen HOST:PORT.") }
        if metricsPort != nil && listen == nil { throw ValidationError("--metrics-port needs --listen HOST:PORT.") }
        try requireRange(metricsPort, 0...65_535, "metrics-port")
        for spec in hostStores { _ = try HostedStores.parseSpec(spec) }
    }

    static func parseListen(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ValidationError("--listen takes HOST:PORT, e.g. 0.0.0.0:7860 or 127.0.0.1:0.")
        }
        let host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            var options = ServeOptions()
            options.interval = interval
            options.scrubCopies = scrubCopies
            options.passes = passes
            options.heal = HealOptions(bandwidthLimit: limit.map { $0 * 1_000_000 })
            let stop = StopFlag()
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { stop.set() }
                source.resume()
                stop.keep(source)
            }
            guard let listen else {
                library.serve(options, shouldStop: { stop.isSet })
                return
            }
            let (host, port) = try Self.parseListen(listen)
            let identity = try PeerIdentity.loadOrCreate(library: library.path, name: DiskIdentity.machineName())
            let hosted = HostedStores()
            hosted.follow(HostedListFile(library: library.path))
            for spec in hostStores {
                let (name, folder) = try HostedStores.parseSpec(spec)
                try hosted.host(name: name, folder: LibraryLocation.absolute(folder))
            }
            let server = TroveServer(library: library, identity: identity, hosted: hosted, logger: Logger(label: "trove.server"))
            options.observed = { server.observed($0) }
            options.progress = server.work
            let finished = DispatchSemaphore(value: 0)
            let failure = FirstError()
            Task.detached {
                do {
                    try await server.run(host: host, port: port, localPort: metricsPort, shouldStop: { stop.isSet }, onListening: { port in
                        Output.line("trove serve: listening on https://\(host):\(port) (certificate SHA-256 \(identity.fingerprint))")
                    }, onLocal: { port in
                        Output.line("trove serve: metrics on http://127.0.0.1:\(port)/metrics (loopback only)")
                    })
                } catch {
                    failure.record(error)
                    stop.set()
                }
                finished.signal()
            }
            library.serve(options, shouldStop: { stop.isSet })
            finished.wait()
            if let error = failure.value {
                throw TroveError(.io, "The HTTPS server on \(listen) stopped: \(error). Is the port in use?")
            }
        }
    }
}

/// Set by a signal handler, read by the serve loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    private var sources: [any DispatchSourceSignal] = []
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
    func keep(_ source: any DispatchSourceSignal) { lock.lock(); sources.append(source); lock.unlock() }
}

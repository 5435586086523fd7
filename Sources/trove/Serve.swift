import ArgumentParser
import Dispatch
import Foundation
import TroveEngine

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run in the background: watch stores, heal, scrub and check, pass after pass.",
        discussion: "Stops cleanly on SIGINT or SIGTERM. Logs go to stderr through swift-log (use -v for each pass).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Seconds between passes.") var interval: Double = 300
    @Option(help: "Copies re-verified per pass.") var scrubCopies = 200
    @Option(help: "Healing bandwidth limit in MB/s while nothing is imported.") var limit: Double?
    @Option(help: "Stop after this many passes (for testing and cron).") var passes: Int?

    func validate() throws {
        try requireRange(interval, 0...604_800, "interval")
        try requireRange(scrubCopies, 0...10_000_000, "scrub-copies")
        try requireRange(limit, 0.01...1_000_000, "limit")
        try requireRange(passes, 1...Int.max, "passes")
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
            library.serve(options, shouldStop: { stop.isSet })
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

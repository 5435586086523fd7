import ArgumentParser
import TroveCore
import TroveEngine

struct Heal: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One pass: make verified copies until every file reaches its target, most fragile first.",
        discussion: "Exits 0 when every file reached the target, 1 when some could not (see status for why), 75 when a store stopped answering during the pass (run heal again when it is back).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Bandwidth limit in MB/s while nothing is imported (raised automatically to outpace imports).")
    var limit: Double?

    func validate() throws {
        try requireRange(limit, 0.01...1_000_000, "limit")
    }
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let report = try library.heal(options: HealOptions(bandwidthLimit: limit.map { $0 * 1_000_000 }),
                                          progress: Output.progress(json: json))
            if json {
                Output.json(report)
            } else {
                let rate = report.seconds > 0 ? " at \(formatBytes(UInt64(Double(report.bytes) / report.seconds)))/s" : ""
                Output.line("\(report.filesBelowTarget) file\(report.filesBelowTarget == 1 ? " was" : "s were") below \(report.target) copies: made \(report.copiesMade) copies (\(formatBytes(report.bytes))\(rate)), re-verified \(report.copiesReverified); \(report.stillBelowTarget) still below target.")
                for problem in report.problems.prefix(20) { Output.line("  \(problem)") }
            }
            if !report.unreachable.isEmpty {
                for store in report.unreachable {
                    Output.error("Store '\(store.label)' is unreachable (\(store.reason)); nothing was quarantined or downgraded. Run `trove heal` again when it is back.")
                }
                throw ExitCode(75)
            }
            if report.stillBelowTarget > 0 { throw ExitCode(1) }
        }
    }
}

struct Scrub: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One bounded pass re-verifying the least recently verified copies.",
        discussion: "Copies are read from the drive, not the page cache, like `trove verify`. Exits 2 when a corrupt or missing copy was found.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Copies to re-verify at most.") var copies = 1000
    @Option(help: "Bytes to read at most, in MB.") var megabytes = 4096

    func validate() throws {
        try requireRange(copies, 1...100_000_000, "copies")
        try requireRange(megabytes, 1...1_000_000_000, "megabytes")
    }
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let report = try library.scrub(maxCopies: copies, maxBytes: UInt64(megabytes) * 1_000_000,
                                           progress: Output.progress(json: json))
            if json {
                Output.json(report)
            } else {
                Output.line("Scrubbed \(report.checked) copies (\(formatBytes(report.bytes))): \(report.good) good, \(report.corrupt.count) corrupt, \(report.missing.count) missing.")
                for c in report.corrupt { Output.line("  corrupt \(c.fileID): \(c.reason) — quarantined; run `trove heal`") }
            }
            if !report.corrupt.isEmpty || !report.missing.isEmpty { throw ExitCode(2) }
        }
    }
}

struct GC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc", abstract: "Drop objects no file record needs (refused while a recovery or import runs).")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Only show what would be removed.") var dryRun = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let report = try library.gc(dryRun: dryRun, listAll: json)
            if json { Output.json(report); return }
            let verb = dryRun ? "Would remove" : "Removed"
            Output.line("\(verb) \(report.removed) unreferenced object\(report.removed == 1 ? "" : "s") (\(formatBytes(report.bytesFreed))); \(dryRun ? "would re-link" : "re-linked") \(report.relinked.count) untracked cop\(report.relinked.count == 1 ? "y" : "ies").")
            // Without --json the report lists the first 50; the rest are counted.
            for object in report.unreferenced { Output.line("  \(object.store)  \(object.id)  \(formatBytes(object.size))") }
            if report.removed > report.unreferenced.count { Output.line("  … and \(report.removed - report.unreferenced.count) more (see --json)") }
            if report.packsRewritten > 0 {
                Output.line("\(dryRun ? "Would rewrite" : "Rewrote") \(report.packsRewritten) pack\(report.packsRewritten == 1 ? "" : "s") that were mostly dead.")
            }
            if !report.storesSkipped.isEmpty { Output.line("Not connected, skipped: \(report.storesSkipped.joined(separator: ", "))") }
        }
    }
}

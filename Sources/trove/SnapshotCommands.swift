import ArgumentParser
import Foundation
import TroveCore
import TroveEngine
import TroveStorage

struct Track: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Track a folder: snapshot it now, then on a schedule under `trove serve`, keeping snapshots by a policy.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The folder to track.") var folder: String
    @Option(help: "How often `trove serve` snapshots it (e.g. 15m, 1h, 1d).") var every: String?
    @Option(help: "Hourly snapshots to keep.") var keepHourly = 24
    @Option(help: "Daily snapshots to keep.") var keepDaily = 7
    @Option(help: "Weekly snapshots to keep.") var keepWeekly = 4
    @Option(help: "Monthly snapshots to keep.") var keepMonthly = 12

    func validate() throws {
        for (value, name) in [(keepHourly, "keep-hourly"), (keepDaily, "keep-daily"), (keepWeekly, "keep-weekly"), (keepMonthly, "keep-monthly")] {
            try requireRange(value, 0...100_000, name)
        }
    }
    @Flag(help: "Do not take the first snapshot now.") var noSnapshot = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            var interval: TimeInterval?
            if let every {
                guard let parsed = parseDuration(every) else {
                    throw TroveError(.usage, "--every takes a duration such as 30m, 1h or 1d, not '\(every)'.")
                }
                interval = parsed
            }
            let tracked = try library.track(folder, every: interval, policy: RetentionPolicy(
                hourly: keepHourly, daily: keepDaily, weekly: keepWeekly, monthly: keepMonthly))
            let first = noSnapshot ? nil : try library.snapshot(tracked.path, progress: Output.progress(json: json))
            if json {
                Output.json(TrackJSON(tracked: tracked, snapshot: first))
            } else {
                Output.line("Tracking \(tracked.path)\(interval.map { " every \(Int($0)) s" } ?? " (snapshots by hand)"); keeping \(keepHourly) hourly, \(keepDaily) daily, \(keepWeekly) weekly, \(keepMonthly) monthly.")
                if let first {
                    Output.line("First snapshot \(first.id.prefix(12)): \(first.files) files, \(formatBytes(first.bytes)).")
                    SnapshotCommand.printSkipped(first)
                }
            }
            // A partial first snapshot is not success: the same exit as `trove snapshot`.
            if first?.partial == true { throw ExitCode(1) }
        }
    }
}

struct TrackJSON: Encodable {
    var tracked: TrackedFolder
    var snapshot: SnapshotReport?
}

struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot", abstract: "Snapshot a folder now (unchanged files are not re-read).",
        discussion: "Exits 0 when complete, 1 when some files could not be read (the snapshot is marked partial).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The folder to snapshot.") var folder: String
    @Option(help: "A label to remember it by (e.g. before-upgrade).") var tag: String?
    @Flag(help: "Print JSON (with the snapshot's `id`).") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let report = try library.snapshot(folder, tag: tag, progress: Output.progress(json: json))
            if json {
                Output.json(report)
            } else {
                Output.line("Snapshot \(report.id.prefix(12)) of \(report.root): \(report.entries) entries, \(report.files) files (\(formatBytes(report.bytes))); read \(report.filesRead) new or changed (\(formatBytes(report.bytesRead))), \(report.filesUnchanged) unchanged; \(String(format: "%.2f", report.seconds)) s.")
                Self.printSkipped(report)
            }
            if report.partial { throw ExitCode(1) }
        }
    }

    /// Names every entry left out of a snapshot (escaped as `ls -b` does), with the reason.
    static func printSkipped(_ report: SnapshotReport) {
        for skip in report.skipped.prefix(100) { Output.line("  not in snapshot: \(NameCodec.display(skip.path)): \(skip.reason)") }
        if report.skipped.count > 100 { Output.line("  … and \(report.skipped.count - 100) more (--json lists all)") }
        if report.partial { Output.line("The snapshot is partial: some entries above could not be read.") }
    }
}

struct Snapshots: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List snapshots (of one folder when given).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Only snapshots of this folder.") var folder: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let list = try library.snapshotIndex.snapshots(root: folder.map(LibraryLocation.absolute))
            if json { Output.json(["snapshots": list]); return }
            if list.isEmpty { Output.line("No snapshots yet; take one with `trove snapshot FOLDER`."); return }
            var rows = [["ID", "TIME", "FOLDER", "ENTRIES", "SIZE", "TAG"]]
            for s in list {
                rows.append([String(s.id.prefix(12)), Output.date(s.time), s.root, String(s.entries), formatBytes(s.bytes),
                             (s.tag ?? "") + (s.partial ? " (partial)" : "") + (s.external ? " (external)" : "")])
            }
            Output.line(Output.table(rows))
        }
    }
}

struct Ls: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Browse a snapshot as it was: `trove ls <snapshot>[:path]` (\"latest\" and unique ID prefixes work).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "<snapshot>[:path]") var target: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let (snapshot, entries) = try library.list(target)
            if json { Output.json(LsJSON(snapshot: snapshot.id, root: snapshot.root, entries: entries.map(EntryJSON.init))); return }
            for e in entries {
                let kind = ["f": "-", "d": "d", "l": "l", "p": "p", "c": "c", "b": "b"][e.type.rawValue] ?? "?"
                let size = e.type == .file ? formatBytes(e.size) : ""
                let extra = e.type == .symlink ? " -> \(NameCodec.display(e.target ?? ""))" : (e.type == .directory ? "/" : "")
                let owner = e.uid.map { "\($0):\(e.gid ?? 0)" } ?? ""
                Output.line("\(kind)\(String(format: "%04o", e.mode))  \(owner.padding(toLength: 11, withPad: " ", startingAt: 0))  \(size.padding(toLength: 10, withPad: " ", startingAt: 0))  \(Output.date(e.mtime.date))  \(NameCodec.display(e.name))\(extra)")
            }
        }
    }
}

struct EntryJSON: Encodable {
    var path, name, type: String
    var size: UInt64
    var mode: UInt32
    var mtime: Date
    /// Seconds and nanoseconds exactly (`mtime` is rounded to what a Date holds).
    var mtime_s: Int64
    var mtime_ns: Int32
    var uid, gid: UInt32?
    var id: String?
    var target: String?
    var hard_link: String?
    var device: UInt64?
    var sparse: Bool
    var xattrs: [String]
    init(_ e: SnapshotEntry) {
        path = e.path; name = e.name; size = e.size; mode = e.mode; mtime = e.mtime.date; id = e.fileID?.description; target = e.target
        mtime_s = e.mtime.seconds; mtime_ns = e.mtime.nanoseconds; uid = e.uid; gid = e.gid; hard_link = e.hardLink
        device = e.device; sparse = e.sparse; xattrs = e.xattrs.map(\.name)
        type = Self.typeName(e.type)
    }

    static func typeName(_ type: EntryType) -> String { entryTypeName(type) }
}

struct LsJSON: Encodable {
    var snapshot: String
    var root: String
    var entries: [EntryJSON]
}

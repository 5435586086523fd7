import ArgumentParser
import Foundation
import TroveCore
import TroveEngine
import TroveStorage

struct Find: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find names, path fragments or globs across every snapshot (and the latest state of tracked folders).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "A name or fragment (report.pdf, tax/2025), or a glob (*.CR3).") var pattern: String
    @Option(help: "At most this many hits.") var limit = 1000

    func validate() throws {
        try requireRange(limit, 1...100_000_000, "limit")
    }
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let hits = try library.find(pattern, limit: limit)
            let latest = Dictionary(try library.snapshotIndex.snapshots(root: nil).map { ($0.root, $0.id) }, uniquingKeysWith: { _, b in b })
            if json {
                Output.json(["hits": hits.map { FindJSON($0, latest: latest[$0.root] == $0.snapshotID) }])
                return
            }
            if hits.isEmpty { Output.line("Nothing matches '\(pattern)'."); return }
            // One line per distinct version, with the snapshots it appears in.
            var groups: [(key: [UInt8], hits: [FindHit])] = []
            for hit in hits {
                let key = Array("\(hit.path)|\(hit.fileID?.description ?? hit.type.rawValue)|\(hit.size)".utf8)
                if let index = groups.firstIndex(where: { $0.key == key }) { groups[index].hits.append(hit) } else { groups.append((key, [hit])) }
            }
            for group in groups {
                let first = group.hits[0], last = group.hits[group.hits.count - 1]
                let isLatest = latest[last.root] == last.snapshotID ? ", in the latest" : ""
                let span = group.hits.count == 1 ? "snapshot \(first.snapshotID.prefix(12)) (\(Output.date(first.snapshotTime)))"
                    : "\(group.hits.count) snapshots from \(Output.date(first.snapshotTime)) (\(first.snapshotID.prefix(12))) to \(Output.date(last.snapshotTime)) (\(last.snapshotID.prefix(12)))"
                Output.line("\(NameCodec.display(first.path))  \(first.type == .file ? formatBytes(first.size) : EntryJSON.typeName(first.type))  \(first.fileID.map { String($0.description.prefix(12)) } ?? "")  in \(span)\(isLatest)")
            }
            if Set(hits.map { PathKey($0.path) }).count == limit { Output.line("(showing the first \(limit) paths; raise --limit for more)") }
        }
    }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a file or folder from a snapshot: `<snapshot>[:path] --to DEST` (DEST becomes the restored item).",
        discussion: """
            A restored folder's contents go into DEST (created if missing; an existing folder is merged into). A restored file goes inside DEST when DEST is an existing folder, and otherwise becomes DEST (like cp).

            Content is verified leaf by leaf, holes of sparse files are re-created, and every file is durable on disk before Trove reports success. Restored with it: mode (setuid, setgid, sticky), times to the nanosecond, extended attributes and ACLs, hard links, symbolic links, FIFOs, and as root owners, groups and device nodes. Nothing is overwritten without --overwrite, a folder holding files is never replaced, and entries that would land outside DEST are refused. Exits 1 when some entry or attribute could not be restored (each is listed).
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "<snapshot>[:path]") var source: String
    @Option(help: "Where the restored file or folder goes.") var to: String
    @Flag(help: "Replace files that already exist.") var overwrite = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let report = try library.restore(source, to: to, overwrite: overwrite, progress: Output.progress(json: json))
            if json {
                Output.json(report)
            } else {
                Output.line("Restored \(report.files) files, \(report.directories) folders, \(report.symlinks) symbolic links, \(report.hardLinks) hard links, \(report.special) FIFOs and devices (\(formatBytes(report.bytes))) to \(NameCodec.display(report.destination)), verified.")
                for bad in report.badCopies { Output.line("  bad copy skipped: \(bad)") }
                if report.ownersNotRestored > 0 {
                    Output.line("Ownership was not restored for \(report.ownersNotRestored) entries: only root can give files to other users (run as root to restore owners and groups).")
                }
                for item in report.notRestored.prefix(50) { Output.line("  not restored: \(NameCodec.display(item.path)): \(item.reason)") }
                if report.notRestored.count > 50 { Output.line("  … and \(report.notRestored.count - 50) more (--json lists all)") }
            }
            if !report.notRestored.isEmpty { throw ExitCode(1) }
        }
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what changed between two snapshots, or a snapshot and the live folder (`live`).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The older snapshot.") var from: String
    @Argument(help: "The newer snapshot, or `live`.") var to: String = "live"
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let report = try library.diff(from, to)
            if json { Output.json(report); return }
            for c in report.added { Output.line("+ \(NameCodec.display(c.path))") }
            for c in report.removed { Output.line("- \(NameCodec.display(c.path))") }
            for c in report.modified { Output.line("M \(NameCodec.display(c.path))") }
            for c in report.metadata { Output.line("m \(NameCodec.display(c.path))  (metadata only: mode, owner, time or attributes)") }
            Output.line("\(report.added.count) added, \(report.removed.count) removed, \(report.modified.count) modified, \(report.metadata.count) metadata-only.")
        }
    }
}

struct Forget: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply each tracked folder's retention policy (or forget the snapshots named). Content goes only at `trove gc`.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshots to forget explicitly (IDs or prefixes); none: apply the policies.") var snapshots: [String] = []
    @Flag(help: "Only show what would go.") var dryRun = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let report = try library.forget(dryRun: dryRun, explicit: snapshots)
            if json { Output.json(report); return }
            for item in report.items {
                Output.line("\(item.keep ? "keep  " : (dryRun ? "would forget" : "forget")) \(item.id.prefix(12))  \(Output.date(item.time))  \(item.root)  \(item.reasons.joined(separator: ", "))")
            }
            Output.line("\(dryRun ? "Would forget" : "Forgot") \(report.forgotten) snapshot\(report.forgotten == 1 ? "" : "s").")
        }
    }
}

struct Dupes: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Find duplicate files: exact (same content) or, with --near, the same thing saved differently.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Group files whose content differs but whose names and sizes say they are the same.") var near = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let groups = try library.duplicates(near: near)
            if json { Output.json(["groups": groups]); return }
            if groups.isEmpty { Output.line("No duplicates found."); return }
            for group in groups {
                Output.line("\(group.reason)\(group.wasted > 0 ? "; \(formatBytes(group.wasted)) wasted" : "")")
                for path in group.paths { Output.line("  \(path)") }
            }
            let wasted = groups.reduce(0) { $0 + $1.wasted }
            if wasted > 0 { Output.line("\(groups.count) groups, \(formatBytes(wasted)) in extra copies.") }
        }
    }
}

struct Du: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Largest folders and files of a folder or snapshot, and the bytes each store holds.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "A folder, or a snapshot (ID prefix or `latest`); default: everything Trove knows.") var target: String?
    @Option(help: "How many folders and files to show.") var top = 20

    func validate() throws {
        try requireRange(top, 1...1_000_000, "top")
    }
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let report = try library.usage(target, top: top)
            if json { Output.json(report); return }
            Output.line("\(report.source): \(formatBytes(report.total))")
            Output.line("Largest folders:")
            for item in report.folders { Output.line("  \(formatBytes(item.bytes).padding(toLength: 10, withPad: " ", startingAt: 0))  \(item.path)  (\(item.files) files)") }
            Output.line("Largest files:")
            for item in report.files { Output.line("  \(formatBytes(item.bytes).padding(toLength: 10, withPad: " ", startingAt: 0))  \(item.path)") }
            Output.line("Stores:")
            for store in report.stores { Output.line("  \(store.store): \(formatBytes(store.bytes)) (\(formatBytes(store.unique)) only there, \(formatBytes(store.shared)) also elsewhere)") }
        }
    }
}

struct IndexSnapshots: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index-snapshots",
        abstract: "Index read-only snapshot folders (ZFS .zfs/snapshot, btrfs/snapper .snapshots, dated copies) for find, ls, restore and diff.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The folder holding the snapshots.") var folder: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let report = try library.indexExternalSnapshots(folder)
            if json { Output.json(report); return }
            Output.line("\(report.layout) snapshots of \(report.root):")
            for item in report.snapshots {
                Output.line("  \(item.id.prefix(12))  \(Output.date(item.time))  \(item.name)  \(item.new ? "\(item.entries) entries indexed" : "already indexed")")
            }
        }
    }
}

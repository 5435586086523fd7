import Crypto
import Foundation
import TroveCore
import TroveStorage

/// What indexing external snapshot folders found.
public struct ExternalIndexReport: Sendable, Codable {
    public struct Item: Sendable, Codable {
        public var id: String
        public var name: String
        public var source: String
        public var time: Date
        public var entries: Int
        public var new: Bool
    }
    public var root: String
    public var layout: String
    public var snapshots: [Item] = []
    public var skipped: [SkippedPath] = []
}

extension Library {
    /// Indexes snapshot folders made by ZFS (`.zfs/snapshot/NAME`), btrfs/snapper
    /// (`.snapshots/N/snapshot`) or any folder of dated copies, read-only, so `find`, `ls`,
    /// `restore` and `diff` work on them. Already indexed folders are skipped.
    public func indexExternalSnapshots(_ rawFolder: String) throws -> ExternalIndexReport {
        let folder = LibraryLocation.absolute(rawFolder)
        guard let info = try POSIX.stat(folder), POSIX.isDirectory(info),
              let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw TroveError(.pathMissing, "\(rawFolder) is not a readable folder of snapshots; check the path.")
        }
        let parent = (folder as NSString).deletingLastPathComponent
        var layout = "dated copies"
        var root = folder
        var sources: [(name: String, path: String)] = names.sorted().map { ($0, folder + "/" + $0) }
        if folder.hasSuffix("/.zfs/snapshot") {
            layout = "zfs"
            root = ((parent as NSString).deletingLastPathComponent)
        } else if (folder as NSString).lastPathComponent == ".snapshots" {
            layout = "snapper"
            root = parent
            sources = sources.map { ($0.name, $0.path + "/snapshot") }
        }
        var report = ExternalIndexReport(root: root, layout: layout)
        let known = Set(try snapshotIndex.snapshots(root: root).map(\.id))
        var found: [(name: String, path: String, time: Date)] = []
        for source in sources {
            guard let stat = try POSIX.stat(source.path), POSIX.isDirectory(stat) else { continue }
            found.append((source.name, source.path, Self.dateInName(source.name) ?? POSIX.mtime(stat)))
        }
        // Oldest first, so unchanged entries share index rows across snapshots.
        for source in found.sorted(by: { $0.time < $1.time }) {
            let id = "ext" + Base32.encode(Array(SHA256.hash(data: Array(source.path.utf8))).prefix(20))
            if known.contains(id) {
                report.snapshots.append(.init(id: id, name: source.name, source: source.path, time: source.time, entries: 0, new: false))
                continue
            }
            var scanner = TreeScanner(root: source.path, excluded: [])
            scanner.scan()
            report.skipped += scanner.skipped
            let files = scanner.entries.filter { $0.type == .file }
            let record = SnapshotRecord(id: id, root: root, time: source.time, tag: source.name,
                                        partial: scanner.skipped.contains(where: \.error), external: true, source: source.path,
                                        entries: scanner.entries.count, bytes: files.reduce(0) { $0 + $1.size })
            _ = try snapshotIndex.addSnapshot(record, entries: scanner.entries, events: [
                Event(time: clock.now(), kind: .snapshotsIndexed, details: [
                    "snapshot": .text(id), "source": .text(source.path), "entries": DetailValue(scanner.entries.count),
                ]),
            ])
            report.snapshots.append(.init(id: id, name: source.name, source: source.path, time: source.time,
                                          entries: scanner.entries.count, new: true))
        }
        return report
    }

    /// A date and time written in a snapshot's name ("autosnap_2026-11-21_14:00:00_hourly",
    /// "2026-11-21T1400", "20261121-140000", "2026-11-21"), read as UTC.
    static func dateInName(_ name: String) -> Date? {
        let patterns = [
            #"(\d{4})-?(\d{2})-?(\d{2})[T_ -]?(\d{2})[:\-.]?(\d{2})(?:[:\-.]?(\d{2}))?"#,
            #"(\d{4})-(\d{2})-(\d{2})"#,
        ]
        for pattern in patterns {
            guard let regex = try? NSRegularExpression(pattern: pattern),
                  let match = regex.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) else { continue }
            func part(_ index: Int) -> Int? {
                guard index < match.numberOfRanges, let range = Range(match.range(at: index), in: name) else { return nil }
                return Int(name[range])
            }
            var components = DateComponents()
            components.timeZone = TimeZone(identifier: "UTC")
            components.year = part(1)
            components.month = part(2)
            components.day = part(3)
            components.hour = part(4) ?? 0
            components.minute = part(5) ?? 0
            components.second = part(6) ?? 0
            guard let month = components.month, (1...12).contains(month), let day = components.day, (1...31).contains(day) else { continue }
            if let date = Calendar(identifier: .gregorian).date(from: components) { return date }
        }
        return nil
    }
}

import Foundation
import TroveCore
import TroveStorage

/// A group of files that are the same thing.
public struct DuplicateGroup: Sendable, Codable {
    public var reason: String
    public var paths: [String]
    public var ids: [String]
    public var size: UInt64
    /// Bytes the extra copies take (for exact duplicates).
    public var wasted: UInt64
}

/// Disk usage of a tree, and what each store holds.
public struct UsageReport: Sendable, Codable {
    public struct Item: Sendable, Codable {
        public var path: String
        public var bytes: UInt64
        public var files: Int
    }
    public struct StoreUsage: Sendable, Codable {
        public var store: String
        public var bytes: UInt64
        /// Bytes of files whose only copy is here.
        public var unique: UInt64
        /// Bytes of files that also have copies elsewhere.
        public var shared: UInt64
    }
    public var source: String
    public var total: UInt64
    public var folders: [Item]
    public var files: [Item]
    public var stores: [StoreUsage]
}

extension Library {
    /// Where each known path is now: the latest snapshot of every folder, plus imported files
    /// that are still where they were imported (a file renamed since is not its own duplicate).
    /// Second names of a hard-linked file are left out: they take no extra space.
    func knownFiles() throws -> [(path: String, id: ContentID, size: UInt64, mtimeSeconds: Int64)] {
        var result: [PathKey: (ContentID, UInt64, Int64)] = [:]
        var roots = Set<String>()
        for snapshot in try snapshotIndex.snapshots(root: nil).reversed() where !snapshot.external && !roots.contains(snapshot.root) {
            roots.insert(snapshot.root)
            for entry in try snapshotIndex.entries(of: snapshot, under: nil) where entry.type == .file && entry.hardLink == nil {
                if let id = entry.fileID {
                    result[PathKey(Self.joinPath(snapshot.root, entry.path))] = (id, entry.size, Int64(clamping: entry.mtime.seconds))
                }
            }
        }
        var inodes = Set<[UInt64]>()
        for origin in try catalog.imports(underPath: "/") where result[PathKey(origin.path)] == nil {
            guard let file = try catalog.file(origin.fileID), let now = try? POSIX.stat(origin.path, follow: false),
                  POSIX.isRegular(now), UInt64(now.st_size) == file.size,
                  inodes.insert([UInt64(now.st_dev), UInt64(now.st_ino)]).inserted else { continue }
            result[PathKey(origin.path)] = (origin.fileID, file.size, Int64(origin.mtime.timeIntervalSince1970))
        }
        return result.map { ($0.key.path, $0.value.0, $0.value.1, $0.value.2) }.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }

    static func joinPath(_ root: String, _ relative: String) -> String { root == "/" ? "/" + relative : root + "/" + relative }

    /// Exact duplicates (same content ID), or with `near` files that differ in content but whose
    /// names and sizes say they are the same thing (a re-saved photo, a transcoded video).
    public func duplicates(near: Bool) throws -> [DuplicateGroup] {
        let files = try knownFiles()
        if !near {
            let groups = Dictionary(grouping: files.filter { $0.size > 0 }, by: \.id).filter { $0.value.count > 1 }
            return groups.map { id, members in
                DuplicateGroup(reason: "same content \(id.description.prefix(12))", paths: members.map(\.path),
                               ids: [id.description], size: members[0].size, wasted: members[0].size * UInt64(members.count - 1))
            }.sorted { ($0.wasted, $0.paths[0]) > ($1.wasted, $1.paths[0]) }
        }
        var groups: [DuplicateGroup] = []
        var grouped = Set<String>()
        // Near, for media: the same duration and resolution (or picture size and capture time)
        // read with ffprobe or exiftool, whatever the encoding.
        let probe = MediaProbe()
        if probe.tool != nil {
            var byFacts: [MediaProbe.Info: [(path: String, id: ContentID, size: UInt64, mtimeSeconds: Int64)]] = [:]
            for file in files where MediaProbe.isMedia(file.path) {
                if let info = probe.probe(file.path) { byFacts[info, default: []].append(file) }
            }
            for (info, members) in byFacts where Set(members.map(\.id)).count > 1 {
                groups.append(DuplicateGroup(reason: "same media: \(info.description) (read with \(probe.tool?.name ?? ""))",
                                             paths: members.map(\.path), ids: Array(Set(members.map(\.id.description))).sorted(),
                                             size: members.map(\.size).max() ?? 0, wasted: 0))
                grouped.formUnion(members.map(\.path))
            }
        }
        // Otherwise: same normalised name stem, different content, sizes within 25 %.
        let byStem = Dictionary(grouping: files.filter { $0.size > 0 && !grouped.contains($0.path) },
                                by: { Self.nameStem(($0.path as NSString).lastPathComponent) })
        for (stem, members) in byStem where !stem.isEmpty {
            let distinct = Dictionary(grouping: members, by: \.id)
            guard distinct.count > 1 else { continue }
            let sizes = members.map(\.size)
            guard let small = sizes.min(), let large = sizes.max(), Double(small) >= 0.75 * Double(large) else { continue }
            let spread = large == 0 ? 0 : Int((1 - Double(small) / Double(large)) * 100)
            let note = probe.tool == nil ? " (install ffprobe or exiftool to compare media by duration and resolution)" : ""
            groups.append(DuplicateGroup(reason: "same name '\(stem)' with different content; sizes within \(spread)%\(note)",
                                         paths: members.map(\.path), ids: Array(Set(members.map(\.id.description))).sorted(),
                                         size: large, wasted: 0))
        }
        return groups.sorted { $0.paths[0] < $1.paths[0] }
    }

    /// A file name without extension, case, copy markers ("copy", "(1)", "-edited") or spacing.
    static func nameStem(_ name: String) -> String {
        var stem = (name as NSString).deletingPathExtension.lowercased()
        for marker in [" copy", "_copy", "-copy", "-edited", "_edited", " edited", "-final", "_final"] {
            stem = stem.replacingOccurrences(of: marker, with: "")
        }
        if let range = stem.range(of: #"\s*[\(\[]\d+[\)\]]$"#, options: .regularExpression) { stem.removeSubrange(range) }
        if let range = stem.range(of: #"[-_ ]\d{1,2}$"#, options: .regularExpression), stem.count > 4 { stem.removeSubrange(range) }
        return stem.trimmingCharacters(in: .whitespaces)
    }

    /// Largest folders and files of a snapshot (or the latest snapshot of a folder, or the live
    /// folder when it was never snapshotted), and the bytes each store holds.
    public func usage(_ target: String?, top: Int = 20) throws -> UsageReport {
        var entries: [SnapshotEntry] = []
        var source = "all known files"
        var root = ""
        if let target {
            let absolute = LibraryLocation.absolute(target)
            if let info = try POSIX.stat(absolute), POSIX.isDirectory(info) {
                if let latest = try snapshotIndex.snapshots(root: absolute).last {
                    entries = try snapshotIndex.entries(of: latest, under: nil)
                    source = "snapshot \(latest.id.prefix(12)) of \(absolute)"
                } else {
                    var scanner = TreeScanner(root: absolute, excluded: [path])
                    scanner.scan()
                    entries = scanner.entries
                    source = "live \(absolute)"
                }
                root = absolute
            } else {
                let snapshot = try resolveSnapshot(target)
                entries = try snapshotIndex.entries(of: snapshot, under: nil)
                source = "snapshot \(snapshot.id.prefix(12)) of \(snapshot.root)"
                root = snapshot.root
            }
        } else {
            entries = try knownFiles().map { SnapshotEntry(path: String($0.path.dropFirst()), type: .file, size: $0.size) }
            root = ""
        }
        var folders: [String: (UInt64, Int)] = [:]
        var total: UInt64 = 0
        for entry in entries where entry.type == .file {
            total += entry.size
            var parts = entry.path.split(separator: "/").dropLast()
            while !parts.isEmpty {
                folders[parts.joined(separator: "/"), default: (0, 0)].0 += entry.size
                folders[parts.joined(separator: "/"), default: (0, 0)].1 += 1
                parts = parts.dropLast()
            }
        }
        let show: (String) -> String = { root.isEmpty ? "/" + $0 : Self.joinPath(root, $0) }
        let topFolders = folders.sorted { ($0.value.0, $0.key) > ($1.value.0, $1.key) }.prefix(top)
            .map { UsageReport.Item(path: show($0.key), bytes: $0.value.0, files: $0.value.1) }
        let topFiles = entries.filter { $0.type == .file }.sorted { ($0.size, $0.path) > ($1.size, $1.path) }.prefix(top)
            .map { UsageReport.Item(path: show($0.path), bytes: $0.size, files: 1) }
        let stores = try catalog.storeUsage().map { UsageReport.StoreUsage(store: $0.label, bytes: $0.bytes, unique: $0.unique, shared: $0.bytes - $0.unique) }
        return UsageReport(source: source, total: total, folders: Array(topFolders), files: Array(topFiles), stores: stores)
    }
}

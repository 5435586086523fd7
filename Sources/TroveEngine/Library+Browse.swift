import Foundation
import TroveCore
import TroveStorage

/// How two trees differ.
public struct DiffReport: Sendable, Codable {
    public struct Change: Sendable, Codable {
        public var path: String
        public var type: String
        public var size: UInt64
        public var oldSize: UInt64?
    }
    public var from: String
    public var to: String
    public var added: [Change] = []
    public var removed: [Change] = []
    /// Content changed (or the type did).
    public var modified: [Change] = []
    /// Same content; mode or mtime changed.
    public var metadata: [Change] = []
}

extension Library {
    /// Lists one folder of a snapshot (its direct children).
    public func list(_ spec: String) throws -> (snapshot: SnapshotRecord, entries: [SnapshotEntry]) {
        let (snapshot, inner) = try resolveSnapshotPath(spec)
        let all = try snapshotIndex.entries(of: snapshot, under: inner.isEmpty ? nil : inner)
        if !inner.isEmpty, let only = all.first(where: { $0.path == inner }), only.type != .directory {
            return (snapshot, [only])
        }
        if !inner.isEmpty && all.isEmpty {
            throw TroveError(.pathMissing, "\(inner) is not in snapshot \(snapshot.id.prefix(12)).")
        }
        let depth = inner.isEmpty ? 0 : inner.split(separator: "/").count
        return (snapshot, all.filter { $0.path != inner && $0.path.split(separator: "/").count == depth + 1 })
    }

    /// Compares two snapshots, or a snapshot with the live folder (`to == "live"`): live files whose
    /// size, mtime and inode are unchanged are not read; others are hashed to be sure.
    public func diff(_ from: String, _ to: String) throws -> DiffReport {
        let a = try resolveSnapshot(from)
        let old = try snapshotIndex.entries(of: a, under: nil)
        var new: [SnapshotEntry]
        var label = to
        if to == "live" {
            var scanner = TreeScanner(root: a.root, excluded: Set([path] + (try storeFolders()).map(\.folder)))
            scanner.scan()
            new = scanner.entries
            let previous = Dictionary(old.map { (PathKey($0.path), $0) }, uniquingKeysWith: { x, _ in x })
            for index in new.indices where new[index].type == .file {
                if let before = previous[PathKey(new[index].path)], before.type == .file, before.size == new[index].size,
                   before.mtime == new[index].mtime, before.inode == new[index].inode {
                    new[index].fileID = before.fileID
                } else if let hashed = try? Self.hash(path: a.root + "/" + new[index].path, pipeline: pipeline) {
                    new[index].fileID = hashed.id
                }
            }
        } else {
            let b = try resolveSnapshot(to)
            new = try snapshotIndex.entries(of: b, under: nil)
            label = b.id
        }
        return Self.compare(old, new, from: a.id, to: label)
    }

    static func compare(_ old: [SnapshotEntry], _ new: [SnapshotEntry], from: String, to: String) -> DiffReport {
        var report = DiffReport(from: from, to: to)
        // Keyed by bytes: NFC and NFD spellings of a name are two different files.
        let before = Dictionary(old.map { (PathKey($0.path), $0) }, uniquingKeysWith: { x, _ in x })
        let after = Dictionary(new.map { (PathKey($0.path), $0) }, uniquingKeysWith: { x, _ in x })
        for entry in new {
            guard let was = before[PathKey(entry.path)] else {
                report.added.append(.init(path: entry.path, type: entry.type.rawValue, size: entry.size))
                continue
            }
            let change = DiffReport.Change(path: entry.path, type: entry.type.rawValue, size: entry.size, oldSize: was.size)
            if was.type != entry.type || was.fileID != entry.fileID || was.target != entry.target
                || (entry.type == .file && was.size != entry.size) {
                report.modified.append(change)
            } else if !was.sameMetadata(entry) {
                // Folders too: a changed mode, owner or time of a folder is a change to restore.
                report.metadata.append(change)
            }
        }
        for entry in old where after[PathKey(entry.path)] == nil {
            report.removed.append(.init(path: entry.path, type: entry.type.rawValue, size: entry.size))
        }
        return report
    }

    /// Searches names and path fragments (or globs) across every snapshot.
    public func find(_ pattern: String, limit: Int = 1000) throws -> [FindHit] {
        guard !pattern.isEmpty else { throw TroveError(.usage, "Give a name, a path fragment or a glob to look for.") }
        return try snapshotIndex.find(pattern, limit: limit)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TroveCore
import TroveStorage

/// What taking a snapshot did.
public struct SnapshotReport: Sendable, Codable {
    public var id: String
    public var root: String
    public var time: Date
    public var tag: String?
    public var entries: Int
    public var files: Int
    public var bytes: UInt64
    /// Files whose content was read (new or changed since the parent snapshot).
    public var filesRead: Int
    public var bytesRead: UInt64
    /// Files recognised as unchanged by size, mtime and inode, and not read.
    public var filesUnchanged: Int
    public var partial: Bool
    public var skipped: [SkippedPath]
    public var seconds: Double
}

extension Library {
    /// Snapshots a folder: walks it, imports only files that are new or changed since the last
    /// snapshot of that folder, stores the manifest as an object, and indexes every entry.
    public func snapshot(_ rawRoot: String, tag: String? = nil, progress: any ProgressReporter = SilentProgress()) throws -> SnapshotReport {
        try snapshot(rawRoot, tag: tag, progress: progress, window: SnapshotStream.window)
    }

    /// A snapshot settling `window` entries at a time (small in tests, to cross many windows).
    func snapshot(_ rawRoot: String, tag: String?, progress: any ProgressReporter, window: Int) throws -> SnapshotReport {
        let started = Date()
        let root = LibraryLocation.absolute(rawRoot)
        guard let info = try POSIX.stat(root), POSIX.isDirectory(info) else {
            throw TroveError(.pathMissing, "\(rawRoot) is not an existing folder; check the path.")
        }
        guard POSIX.canAccess(root, R_OK | X_OK) else {
            throw TroveError(.pathUnreadable, "\(rawRoot) cannot be read (permission denied); fix its permissions.")
        }
        let activityLock = try lock(.activity, exclusive: false, wait: true)
        defer { withExtendedLifetime(activityLock) {} }
        // The parent snapshot (an external one indexed since is not a parent) is read a page
        // at a time beside the walk, to spot unchanged files; entries go to spool files as they
        // are settled, so memory does not grow with the tree.
        let parent = try snapshotIndex.snapshots(root: root).last { !$0.external }
        var scanner = TreeScanner(root: root, excluded: Set([path] + (try storeFolders()).map(\.folder)))
        var stream = try SnapshotStream(library: self, root: root, parent: parent, window: window, progress: progress)
        try scanner.scan { entry, leader in try stream.add(entry, linkLeader: leader) }
        try stream.settle()
        stream.finishProgress()
        let skipped = scanner.skipped + stream.skipped
        let now = clock.now()
        let partial = skipped.contains(where: \.error)
        // The folder's own mode, times, owner and attributes: a private folder comes back private.
        var rootEntry = TreeScanner.entry(relative: "", info: info, target: nil)
        rootEntry?.xattrs = (try? POSIX.extendedAttributes(root)) ?? []
        let rootLine = rootEntry.map { String(decoding: Manifest.entryLine($0), as: UTF8.self) }
        let header = Manifest.Header(root: root, time: now, tag: tag, parent: parent?.id, partial: partial,
                                     skipped: skipped.filter(\.error).map(\.path), rootEntry: rootLine)
        var manifest = try stream.manifest(header: header)
        let manifestID = try storeObject(size: manifest.size) { try manifest.read(into: $0) }
        let counts = stream.counts
        let record = SnapshotRecord(id: manifestID.description, root: root, time: now, tag: tag, partial: partial,
                                    entries: counts.entries, bytes: counts.bytes, rootEntry: rootLine)
        let saved = try snapshotIndex.addSnapshot(record, entries: try stream.entries(), basis: try stream.basis(), events: [
            Event(time: now, kind: .snapshotCreated, details: [
                "snapshot": .text(record.id), "root": .text(root), "entries": DetailValue(counts.entries),
                "files_read": DetailValue(counts.read), "partial": .text(partial ? "yes" : "no"),
            ]),
        ])
        return SnapshotReport(id: saved.id, root: root, time: now, tag: tag, entries: counts.entries, files: counts.files,
                              bytes: counts.bytes, filesRead: counts.read, bytesRead: counts.bytesRead,
                              filesUnchanged: counts.unchanged, partial: partial, skipped: skipped,
                              seconds: Date().timeIntervalSince(started))
    }

    /// Files a snapshot reads per `importFiles` call: big enough that batches stay full.
    static let snapshotReadPart = 4 * ImportBatch.maxFiles

    /// Imports the content of changed files and fills in their IDs. A file that changes while it
    /// is read is retried twice, then reported; it is never recorded with a wrong ID.
    func readPart(root: String, entries: inout [SnapshotEntry], indices: [Int], skipped: inout [SkippedPath],
                  progress: any ProgressReporter) throws -> UInt64 {
        var pending = indices
        var bytes: UInt64 = 0
        for attempt in 0..<3 where !pending.isEmpty {
            let found = pending.map { index in
                FoundFile(path: root + "/" + entries[index].path, size: entries[index].size, mtime: entries[index].mtime.date)
            }
            let report = try importFiles(found, options: ImportOptions(), recordOrigins: false, progress: progress)
            // Keyed by bytes: Swift's String equality would merge NFC and NFD spellings of a name.
            let byPath = Dictionary(report.imported.map { (Array($0.path.utf8), $0) }, uniquingKeysWith: { a, _ in a })
            var retry: [Int] = []
            for index in pending {
                let full = root + "/" + entries[index].path
                guard let imported = byPath[Array(full.utf8)], let id = ContentID(imported.id) else {
                    if let skip = report.skipped.first(where: { $0.path.utf8.elementsEqual(full.utf8) }) {
                        if skip.reason.contains("changed") && attempt < 2 { retry.append(index) } else { skipped.append(skip) }
                    }
                    continue
                }
                // The content read must match the metadata recorded; otherwise take a fresh look.
                // The file must still be what was scanned before it was read (size, mtime, inode):
                // a same-size rewrite after the read would otherwise pair new metadata with old
                // content, and every later snapshot would call it unchanged.
                guard let now = try? POSIX.stat(full, follow: false), POSIX.isRegular(now), UInt64(now.st_size) == imported.size,
                      UInt64(now.st_size) == entries[index].size, POSIX.fileTime(now) == entries[index].mtime,
                      UInt64(now.st_ino) == entries[index].inode else {
                    if attempt < 2 { retry.append(index) } else {
                        skipped.append(.init(path: full, reason: "kept changing while it was read; snapshot it again later"))
                    }
                    continue
                }
                entries[index].refresh(from: now)
                entries[index].fileID = id
                bytes += imported.size
            }
            pending = retry
            for index in retry {
                let full = root + "/" + entries[index].path
                if let now = try? POSIX.stat(full, follow: false), POSIX.isRegular(now) { entries[index].refresh(from: now) }
            }
        }
        return bytes
    }

    /// Stores the `size` bytes `source` produces (a manifest) as an object and records it: on
    /// as many of the best stores as the durability target asks for, at once (a snapshot that
    /// cannot be restored because one drive died is worth nothing).
    func storeObject(size: UInt64, source: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) throws -> ContentID {
        let candidates = try importTargets(ImportOptions())
        // The placement rule picks them: one store per disk, most free space first.
        let picked = placement(size: size, held: [], target: try targetCopies(), candidates: candidates.map {
            PlacementCandidate(storeID: $0.record.id, weight: $0.record.copies, available: freeBytes($0.store),
                               domain: $0.record.domain)
        })
        var chosen = candidates.filter { picked.contains($0.record.id) }
        if chosen.isEmpty, let first = candidates.first { chosen = [first] }
        guard !chosen.isEmpty else {
            throw TroveError(.storeNotConnected, "No store can take new copies; add one with `trove store add FOLDER`.")
        }
        let (id, placed, failures) = try writeObject(size: size, source: source, to: chosen)
        if placed.isEmpty, let failure = failures.first { throw failure.1 }
        return id
    }

    /// Writes bytes held in memory as one object to each of `stores` and records the copies;
    /// returns its ID, the stores that took it and those that failed.
    func writeBytes(_ bytes: [UInt8], to stores: [ObservedStore]) throws
        -> (id: ContentID, placed: [ObservedStore], failures: [(ObservedStore, TroveError)]) {
        var offset = 0
        return try writeObject(size: UInt64(bytes.count), source: { buffer in
            let count = min(buffer.count, bytes.count - offset)
            guard count > 0 else { return 0 }
            bytes.withUnsafeBytes { all in
                if let base = buffer.baseAddress, let source = all.baseAddress { base.copyMemory(from: source + offset, byteCount: count) }
            }
            offset += count
            return count
        }, to: stores)
    }

    /// Writes `size` bytes that `source` produces as one object to each of `stores` and
    /// records the copies; returns its ID, the stores that took it and those that failed.
    func writeObject(size: UInt64, source: @escaping (UnsafeMutableRawBufferPointer) throws -> Int, to stores: [ObservedStore]) throws
        -> (id: ContentID, placed: [ObservedStore], failures: [(ObservedStore, TroveError)]) {
        let mirror = MirrorWriter(stores: stores, expectedSize: size)
        let result = try pipeline.run(source: source, sink: { _, chunk in try mirror.write(chunk) })
        let placed = mirror.commit(as: result.id)
        let now = clock.now()
        if !placed.isEmpty {
            try catalog.apply([.insertFile(FileRecord(id: result.id, size: result.size, leafHashes: result.leaves, firstSeen: now))]
                + placed.map { .saveCopy(CopyRecord(fileID: result.id, storeID: $0.record.id, copies: $0.record.copies, mtime: now, verified: now)) })
        }
        return (result.id, placed, mirror.failures)
    }

    /// Finds a snapshot by "latest", "latest" of a folder, or a unique ID prefix.
    public func resolveSnapshot(_ selector: String, root: String? = nil) throws -> SnapshotRecord {
        let all = try snapshotIndex.snapshots(root: root)
        guard !all.isEmpty else {
            throw TroveError(.unknownFile, "There are no snapshots yet; take one with `trove snapshot FOLDER`.")
        }
        if selector == "latest", let last = all.last { return last }
        let matches = all.filter { $0.id.hasPrefix(selector.lowercased()) }
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty {
            throw TroveError(.unknownFile, "No snapshot has an ID starting with '\(selector)'; `trove snapshots` lists them.")
        }
        throw TroveError(.usage, "'\(selector)' matches \(matches.count) snapshots; give more characters of the ID.")
    }

    /// Splits `<snapshot>[:path]` and returns the snapshot and the relative path inside it.
    public func resolveSnapshotPath(_ spec: String) throws -> (SnapshotRecord, String) {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let snapshot = try resolveSnapshot(String(parts[0]))
        var inner = parts.count > 1 ? String(parts[1]) : ""
        if inner.hasPrefix(snapshot.root + "/") { inner = String(inner.dropFirst(snapshot.root.count + 1)) } else if inner == snapshot.root {
            inner = ""
        }
        while inner.hasPrefix("/") { inner.removeFirst() }
        while inner.hasSuffix("/") { inner.removeLast() }
        return (snapshot, inner)
    }
}

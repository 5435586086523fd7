import Foundation
import TroveCore
import TroveStorage

/// A snapshot's entries on their way from the walk to the manifest and the index, a window at a
/// time: each window is compared with the parent snapshot (read a page at a time beside it), its
/// new and changed files are read, its hard links are settled, and it goes to two spool files
/// (manifest lines, and entries for the index). Memory holds one window, one page of the parent
/// and the first names of hard-linked files, however big the tree (and up to two windows on their
/// way to the spools, `SnapshotSpools`).
struct SnapshotStream {
    /// Entries settled per window: a full `readPart` when every file in it is new.
    static let window = Library.snapshotReadPart

    struct Counts {
        var entries = 0
        /// Files, hard-linked names included.
        var files = 0
        /// Bytes of the files (hard-linked names counted once).
        var bytes: UInt64 = 0
        /// Files recognised as unchanged by size, mtime and inode, and not read.
        var unchanged = 0
        /// Files whose content was read (new or changed); later names of hard-linked files are neither.
        var read = 0
        var bytesRead: UInt64 = 0
    }

    private let library: Library
    private let root: String
    private let window: Int
    private var parent: VersionCursor?
    private let parentRecord: SnapshotRecord?
    /// Snapshots ever taken when the parent was first read (see `SnapshotBasis`).
    private let generation: Int64
    /// Open versions of the parent no entry matched.
    private var gone: [Int64] = []
    /// Each pending entry's version in the parent.
    private var inParent: [SnapshotVersion?] = []
    private let progress: any ProgressReporter
    private var progressStarted = false
    private var progressDone: UInt64 = 0
    private var pending: [SnapshotEntry] = []
    /// Places in `pending` of first names of multiply-linked files.
    private var leaders: [Int] = []
    /// The content of each first name of a multiply-linked file, for its later names.
    private var linked: [PathKey: (id: ContentID, size: UInt64)] = [:]
    private let spools: SnapshotSpools
    private(set) var counts = Counts()
    /// Files that could not be read (left out, and reported).
    private(set) var skipped: [SkippedPath] = []

    init(library: Library, root: String, parent: SnapshotRecord?, window: Int = Self.window, progress: any ProgressReporter) throws {
        self.library = library
        self.root = root
        self.window = window
        self.progress = progress
        let index = library.snapshotIndex
        parentRecord = parent
        generation = try index.snapshotGeneration()
        self.parent = parent.map { parent in
            let pages = PagePrefetcher { after, limit in try index.versions(of: parent, after: after, limit: limit) }
            return VersionCursor { after, limit in try pages.page(after: after, limit: limit) }
        }
        spools = try SnapshotSpools(in: library.path)
        pending.reserveCapacity(window)
    }

    /// Takes the next entry of the walk (in path order).
    mutating func add(_ entry: SnapshotEntry, linkLeader: Bool) throws {
        if linkLeader { leaders.append(pending.count) }
        pending.append(entry)
        if pending.count >= window { try settle() }
    }

    /// Settles the entries taken so far: IDs found or read, links resolved, spooled.
    mutating func settle() throws {
        guard !pending.isEmpty else { return }
        // Unchanged files (same size, mtime and inode as in the parent) keep their ID unread.
        var toRead: [Int] = []
        inParent.removeAll(keepingCapacity: true)
        for entry in pending {
            inParent.append(try parent?.seek(entry.path) { if $0.open { gone.append($0.id) } })
        }
        for index in pending.indices where pending[index].type == .file && pending[index].hardLink == nil {
            let entry = pending[index]
            if let old = inParent[index]?.entry, old.type == .file, let id = old.fileID,
               old.size == entry.size, old.mtime == entry.mtime, old.inode == entry.inode {
                pending[index].fileID = id
                counts.unchanged += 1
            } else {
                toRead.append(index)
            }
        }
        if !toRead.isEmpty {
            if !progressStarted {
                progress.begin("import", total: nil, unit: .bytes)
                progressStarted = true
            }
            counts.bytesRead += try library.readPart(root: root, entries: &pending, indices: toRead, skipped: &skipped,
                                                     progress: PartProgress(whole: progress, before: progressDone))
            progressDone += toRead.reduce(UInt64(0)) { $0 + pending[$1].size }
            counts.read += toRead.count { pending[$0].fileID != nil }
        }
        for index in leaders {
            if let id = pending[index].fileID { linked[PathKey(pending[index].path)] = (id, pending[index].size) }
        }
        var settled: [SnapshotEntry] = []
        var parents: [SnapshotVersion?] = []
        settled.reserveCapacity(pending.count)
        parents.reserveCapacity(pending.count)
        for (index, var entry) in pending.enumerated() {
            let previous = inParent[index]
            // Second names of a hard-linked file take the first name's content, read once.
            if let leaderPath = entry.hardLink {
                if let leader = linked[PathKey(leaderPath)], leader.size == entry.size {
                    entry.fileID = leader.id
                } else {
                    // The first name could not be read: this name is not saved either (and is reported).
                    entry.fileID = nil
                    skipped.append(.init(path: root + "/" + entry.path, reason: "hard link to \(leaderPath), which could not be read"))
                }
            }
            // Files that could not be read are left out; the snapshot says it is partial.
            if entry.type == .file {
                guard entry.fileID != nil else {
                    if let previous, previous.open { gone.append(previous.id) }
                    continue
                }
                counts.files += 1
                if entry.hardLink == nil { counts.bytes += entry.size }
            }
            counts.entries += 1
            settled.append(entry)
            parents.append(previous)
        }
        try spools.write(settled, parents: parents)
        pending.removeAll(keepingCapacity: true)
        leaders.removeAll(keepingCapacity: true)
    }

    /// What the walk learnt of the parent, for the index (nil without a parent).
    mutating func basis() throws -> SnapshotBasis? {
        guard let parentRecord, var parent else { return nil }
        try parent.finish { if $0.open { gone.append($0.id) } }
        self.parent = parent
        return SnapshotBasis(parentSeq: parentRecord.seq, generation: generation, gone: gone)
    }

    /// Ends the progress phase, if one began.
    func finishProgress() {
        if progressStarted { progress.finish() }
    }

    /// The manifest's bytes: the header line, then the spooled entry lines.
    func manifest(header: Manifest.Header) throws -> SpooledManifest {
        let lines = try spools.manifestLines()
        return SpooledManifest(header: try header.line() + [0x0A], lines: lines.reader, linesSize: lines.size)
    }

    /// The settled entries, in path order, for the index.
    func entries() throws -> EntrySpool.Reader { try spools.indexEntries() }
}

/// A manifest read from its header and its spooled entry lines.
struct SpooledManifest {
    let header: [UInt8]
    var lines: SpoolFile.Reader
    private var offset = 0
    /// Its length in bytes.
    let size: UInt64

    init(header: [UInt8], lines: SpoolFile.Reader, linesSize: UInt64) {
        self.header = header
        self.lines = lines
        size = UInt64(header.count) + linesSize
    }

    /// Fills `buffer` with the next bytes; returns how many (0 at the end).
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < header.count else { return try lines.read(into: buffer) }
        let count = min(buffer.count, header.count - offset)
        header.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
        offset += count
        return count
    }
}

/// Pages of a snapshot's versions, each read on another thread while the one before is used:
/// the parent is read beside the walk instead of between its steps.
final class PagePrefetcher: @unchecked Sendable {
    private let fetch: @Sendable (_ after: String?, _ limit: Int) throws -> [SnapshotVersion]
    /// The page being read ahead: after which path, and its result once `ready` is signalled.
    private var ahead: (after: String, slot: Slot)?

    private final class Slot: @unchecked Sendable {
        var result: Result<[SnapshotVersion], any Error> = .success([])
        let ready = DispatchSemaphore(value: 0)
    }

    init(fetch: @escaping @Sendable (_ after: String?, _ limit: Int) throws -> [SnapshotVersion]) {
        self.fetch = fetch
    }

    deinit { ahead?.slot.ready.wait() }

    /// The page after `after`: the one read ahead when it is that one, else read now. A full
    /// page starts the read of the next.
    func page(after: String?, limit: Int) throws -> [SnapshotVersion] {
        let result: Result<[SnapshotVersion], any Error>
        if let ahead, let after, PathKey(ahead.after) == PathKey(after) {
            ahead.slot.ready.wait()
            result = ahead.slot.result
        } else {
            ahead?.slot.ready.wait()
            result = Result { try fetch(after, limit) }
        }
        ahead = nil
        if case .success(let versions) = result, versions.count == limit, let last = versions.last?.entry.path {
            let slot = Slot()
            let fetch = fetch
            ahead = (last, slot)
            Thread.detachNewThread {
                slot.result = Result { try fetch(last, limit) }
                slot.ready.signal()
            }
        }
        return try result.get()
    }
}

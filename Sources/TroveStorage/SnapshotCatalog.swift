import Foundation
import TroveCore

/// The snapshot index: tracked folders, snapshots, and every path version they contain.
/// Versions are stored as ranges of snapshot sequence numbers, left open while the version is
/// still in its root's latest snapshot: a file unchanged across a hundred snapshots is one
/// row, a new snapshot writes only what changed, and `find` searches each distinct path once
/// (FTS5 trigrams).
public protocol SnapshotCatalog: AnyObject, Sendable {
    func tracked() throws -> [TrackedFolder]
    func saveTracked(_ folder: TrackedFolder) throws
    func removeTracked(_ path: String) throws
    /// Snapshots, oldest first; of one root when given.
    func snapshots(root: String?) throws -> [SnapshotRecord]
    /// A page of a snapshot's path versions: up to `limit` of them, in path order, after the
    /// relative path `after` (from the first when nil).
    func versions(of snapshot: SnapshotRecord, after: String?, limit: Int) throws -> [SnapshotVersion]
    /// Records a snapshot and the entries `source` gives (in path order) in one transaction:
    /// versions unchanged since the root's latest snapshot simply continue. The entries are
    /// merged with that snapshot's versions a page at a time, so memory does not grow with the
    /// tree. Returns the snapshot with its sequence number.
    func addSnapshot<Source: SnapshotEntrySource>(_ record: SnapshotRecord, entries source: inout Source,
                                                  events: [Event]) throws -> SnapshotRecord
    /// Entries of a snapshot, sorted by path; only those under `prefix` (relative) when given.
    func entries(of snapshot: SnapshotRecord, under prefix: String?) throws -> [SnapshotEntry]
    /// Drops snapshots and whatever of the index only they used.
    func forget(_ snapshots: [SnapshotRecord], events: [Event]) throws
    /// Paths matching a pattern (substring, or glob with * ? [ ]) in every snapshot.
    func find(_ pattern: String, limit: Int) throws -> [FindHit]
    /// Content IDs some snapshot still refers to (entries and manifests).
    func referencedFileIDs() throws -> Set<ContentID>
}

extension SnapshotCatalog {
    /// Records a snapshot whose entries are all in memory (sorted here when they are not).
    public func addSnapshot(_ record: SnapshotRecord, entries: [SnapshotEntry], events: [Event]) throws -> SnapshotRecord {
        var source = EntryList(entries)
        return try addSnapshot(record, entries: &source, events: events)
    }
}

/// A snapshot's entries, given one at a time in path order (`PathKey.precedes`).
public protocol SnapshotEntrySource {
    /// The next entry; nil at the end.
    mutating func next() throws -> SnapshotEntry?
}

/// Entries held in memory, as a source.
public struct EntryList: SnapshotEntrySource {
    private let entries: [SnapshotEntry]
    private var index = 0

    public init(_ entries: [SnapshotEntry]) {
        let ordered = zip(entries, entries.dropFirst()).allSatisfy { !PathKey.precedes($1.path, $0.path) }
        self.entries = ordered ? entries : entries.sorted { PathKey.precedes($0.path, $1.path) }
    }

    public mutating func next() -> SnapshotEntry? {
        guard index < entries.count else { return nil }
        defer { index += 1 }
        return entries[index]
    }
}

/// One path version of a snapshot, as the catalog holds it.
public struct SnapshotVersion: Sendable {
    public var id: Int64
    public var pathID: Int64
    /// Path relative to the root.
    public var entry: SnapshotEntry
    /// Still open (continues into the root's next snapshot unless closed).
    public var open: Bool

    public init(id: Int64, pathID: Int64, entry: SnapshotEntry, open: Bool) {
        self.id = id
        self.pathID = pathID
        self.entry = entry
        self.open = open
    }
}

/// Walks a snapshot's versions in path order beside entries in path order, reading a page
/// at a time: what a snapshot compares with its parent, in memory that does not grow with the tree.
public struct VersionCursor {
    /// Versions read per page.
    public static let pageSize = 4096

    private let fetch: (_ after: String?, _ limit: Int) throws -> [SnapshotVersion]
    private var page: [SnapshotVersion] = []
    private var index = 0
    private var finished = false

    /// `fetch` reads up to `limit` versions after a relative path (from the first when nil).
    public init(fetch: @escaping (_ after: String?, _ limit: Int) throws -> [SnapshotVersion]) {
        self.fetch = fetch
    }

    /// The version at `path`, if any; every version before it not yet passed goes to `passed`.
    /// Paths must come in order.
    public mutating func seek(_ path: String, passed: (SnapshotVersion) throws -> Void = { _ in }) throws
        -> SnapshotVersion? {
        while let current = try peek() {
            if PathKey.precedes(current.entry.path, path) {
                try passed(current)
                index += 1
            } else if PathKey(current.entry.path) == PathKey(path) {
                index += 1
                return current
            } else {
                return nil
            }
        }
        return nil
    }

    /// Passes every version not yet passed or found.
    public mutating func finish(passed: (SnapshotVersion) throws -> Void) throws {
        while let current = try peek() {
            try passed(current)
            index += 1
        }
    }

    private mutating func peek() throws -> SnapshotVersion? {
        if index < page.count { return page[index] }
        guard !finished else { return nil }
        page = try fetch(page.last?.entry.path, Self.pageSize)
        index = 0
        finished = page.count < Self.pageSize
        return page.first
    }
}

/// What `find` looks for, the same for every catalog: a glob (`*`, `?`, `[…]`) or a fragment
/// (a substring, any case), in names — or in whole paths when it holds a `/`.
public struct FindPattern: Sendable, Equatable {
    /// Match whole paths (true) or names.
    public var inPaths: Bool
    /// The glob to match, or nil for a fragment.
    public var glob: String?
    /// The fragment as a LIKE pattern (`%fragment%`, with `\` escaping `%`, `_` and `\`).
    public var like: String

    public init(_ pattern: String) {
        inPaths = pattern.contains("/")
        if pattern.contains(where: { "*?[".contains($0) }) {
            // A glob with folder parts matches the end of a path ("gzip/*" is "*/gzip/*").
            glob = inPaths && !pattern.hasPrefix("/") && !pattern.hasPrefix("*") ? "*/" + pattern : pattern
        }
        like = "%" + pattern.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"
    }

    /// The column searched.
    public var column: String { inPaths ? "path" : "name" }
}

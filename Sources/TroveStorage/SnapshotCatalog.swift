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
    /// relative path `after` (from the first when nil); only `under` (a relative path) and
    /// what is inside it, when given.
    func versions(of snapshot: SnapshotRecord, under: String?, after: String?, limit: Int) throws -> [SnapshotVersion]
    /// Records a snapshot and the entries `source` gives (in path order) in one transaction:
    /// versions unchanged since the root's latest snapshot simply continue (`VersionMerge`).
    /// Memory does not grow with the tree. `basis`, when still current, spares reading the
    /// parent's versions again. Returns the snapshot with its sequence number.
    func addSnapshot<Source: SnapshotEntrySource>(_ record: SnapshotRecord, entries source: Source, basis: SnapshotBasis?,
                                                  events: [Event]) throws -> SnapshotRecord
    /// Snapshots ever numbered in the library: changes whenever one is taken (see `SnapshotBasis`).
    func snapshotGeneration() throws -> Int64
    /// Entries of a snapshot, sorted by path; only those under `prefix` (relative) when given.
    func entries(of snapshot: SnapshotRecord, under prefix: String?) throws -> [SnapshotEntry]
    /// Drops snapshots and whatever of the index only they used.
    func forget(_ snapshots: [SnapshotRecord], events: [Event]) throws
    /// Paths matching a pattern (substring, or glob with * ? [ ]) in every snapshot.
    func find(_ pattern: String, limit: Int) throws -> [FindHit]
}

extension SnapshotCatalog {
    /// A page of all of a snapshot's path versions.
    public func versions(of snapshot: SnapshotRecord, after: String?, limit: Int) throws -> [SnapshotVersion] {
        try versions(of: snapshot, under: nil, after: after, limit: limit)
    }

    /// The bounds of a page of versions under `root` (all, or `under` and what it holds) after
    /// `after`, as absolute paths: `path >= lower` (`> lower` when `inclusive` is false),
    /// `path < upper`, and `path = only` or `path > inside` — the same for every catalog.
    public static func pageBounds(root: String, under: String?, after: String?)
        -> (lower: String, inclusive: Bool, upper: String, only: String, inside: String) {
        func join(_ relative: String) -> String { root == "/" ? "/" + relative : root + "/" + relative }
        if let under, !under.isEmpty {
            let folder = join(under)
            return (after.map(join) ?? folder, after == nil, folder + "0", folder, folder + "/")
        }
        let prefix = join("")
        return (after.map(join) ?? prefix, false, String(prefix.dropLast()) + "0", prefix, prefix)
    }

    /// Records a snapshot whose entries are all in memory (sorted here when they are not).
    public func addSnapshot(_ record: SnapshotRecord, entries: [SnapshotEntry], events: [Event]) throws -> SnapshotRecord {
        try addSnapshot(record, entries: EntryList(entries), basis: nil, events: events)
    }
}

/// A snapshot's entries, given one at a time in path order (`PathKey.precedes`).
public protocol SnapshotEntrySource {
    /// The next entry; nil at the end.
    mutating func next() throws -> SnapshotEntry?
    /// The version in the parent snapshot of the entry `next` gave last, as the snapshot taker
    /// found it (used only with a current `SnapshotBasis`).
    var link: ParentLink? { get }
}

extension SnapshotEntrySource {
    public var link: ParentLink? { nil }
}

/// An entry's version in the parent snapshot, found while comparing with it.
public struct ParentLink: Sendable, Equatable {
    public var versionID: Int64
    public var pathID: Int64
    /// The version was still open.
    public var open: Bool
    /// The entry equals the version: it continues.
    public var same: Bool

    public init(versionID: Int64, pathID: Int64, open: Bool, same: Bool) {
        self.versionID = versionID
        self.pathID = pathID
        self.open = open
        self.same = same
    }
}

/// What a snapshot taker learnt of the parent while comparing its entries with it (each
/// entry's `ParentLink`, and the versions no entry matched). The catalog trusts it instead of
/// reading the parent's versions again only while it is current: the parent is still the
/// root's latest snapshot, and no snapshot was taken since `generation` was read (before the
/// first page of the parent).
public struct SnapshotBasis: Sendable {
    public var parentSeq: Int64
    public var generation: Int64
    /// Open versions of the parent no entry matched (their paths are gone).
    public var gone: [Int64]

    public init(parentSeq: Int64, generation: Int64, gone: [Int64]) {
        self.parentSeq = parentSeq
        self.generation = generation
        self.gone = gone
    }
}

/// What a new snapshot does with each of its entries against its root's latest snapshot, the
/// same for every catalog: an entry equal to its version there continues it (opening it again
/// if a forgotten snapshot had closed it); any other entry gets a new version, and the
/// parent's open versions that did not continue close.
public struct VersionMerge<Source: SnapshotEntrySource> {
    private var source: Source
    private var cursor: VersionCursor?
    private var gone: [Int64]?
    /// Parent versions to close and to open again, gathered as the merge goes; the catalog
    /// applies and empties them.
    public var closing: [Int64] = []
    public var reopening: [Int64] = []

    /// `latestSeq` and `generation` are the catalog's own, read in the transaction that records
    /// the snapshot; `fetch` reads a page of the root's latest snapshot.
    public init(source: Source, basis: SnapshotBasis?, latestSeq: Int64?, generation: Int64,
                fetch: @escaping (_ after: String?, _ limit: Int) throws -> [SnapshotVersion]) {
        self.source = source
        if let basis, basis.parentSeq == latestSeq, basis.generation == generation {
            gone = basis.gone
        } else {
            cursor = latestSeq == nil ? nil : VersionCursor(fetch: fetch)
        }
    }

    /// The next entry that needs a new version, with the path row it continues when known; nil at the end.
    public mutating func next() throws -> (entry: SnapshotEntry, pathID: Int64?)? {
        while let entry = try source.next() {
            let previous: ParentLink?
            if gone != nil {
                previous = source.link
            } else {
                previous = try cursor?.seek(entry.path) { if $0.open { closing.append($0.id) } }?.link(to: entry)
            }
            if let previous, previous.same {
                if !previous.open { reopening.append(previous.versionID) }
                continue
            }
            if let previous, previous.open { closing.append(previous.versionID) }
            return (entry, previous?.pathID)
        }
        if let ids = gone {
            closing += ids
            gone = []
        }
        try cursor?.finish { if $0.open { closing.append($0.id) } }
        return nil
    }
}

/// Entries held in memory, as a source.
public struct EntryList: SnapshotEntrySource {
    private let entries: [SnapshotEntry]
    private var index = 0

    public init(_ entries: [SnapshotEntry]) {
        self.entries = entries.inPathOrder()
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

    /// This version as the parent of `entry` in a new snapshot.
    public func link(to entry: SnapshotEntry) -> ParentLink {
        ParentLink(versionID: id, pathID: pathID, open: open, same: self.entry == entry)
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

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
    /// The versions in a root's latest snapshot, by path.
    func latestVersions(root: String) throws -> LatestVersions
    /// Records a snapshot and its entries in one transaction (versions unchanged since the
    /// root's latest snapshot simply continue); returns it with its sequence number. `latest`
    /// saves reading that snapshot again; it is re-read if another snapshot came in between.
    func addSnapshot(_ record: SnapshotRecord, entries: [SnapshotEntry], latest: LatestVersions?,
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
    public func addSnapshot(_ record: SnapshotRecord, entries: [SnapshotEntry], events: [Event]) throws -> SnapshotRecord {
        try addSnapshot(record, entries: entries, latest: nil, events: events)
    }
}

/// The path versions in a root's latest snapshot: what the next snapshot of the root compares
/// its entries with.
public struct LatestVersions: Sendable {
    public struct Version: Sendable {
        public var id: Int64
        public var pathID: Int64
        /// Path relative to the root.
        public var entry: SnapshotEntry
        /// Still open (continues into the next snapshot unless closed).
        public var open: Bool

        public init(id: Int64, pathID: Int64, entry: SnapshotEntry, open: Bool) {
            self.id = id
            self.pathID = pathID
            self.entry = entry
            self.open = open
        }
    }
    /// The root's latest snapshot; nil when it has none.
    public var seq: Int64?
    /// Snapshots ever created in the library when this was read: with `seq`, tells whether it
    /// is still current (a snapshot taken and forgotten meanwhile may have closed versions).
    public var generation: Int64
    /// The versions, in the order read.
    public private(set) var versions: [Version]
    /// Each path's place in `versions`: a small index instead of a map holding every entry
    /// (a dictionary's slots cost about twice the entries they hold, and trees have millions).
    private var places: [PathKey: Int32]

    public init(seq: Int64?, generation: Int64, versions: [Version]) {
        self.seq = seq
        self.generation = generation
        self.versions = versions
        var places: [PathKey: Int32] = [:]
        places.reserveCapacity(versions.count)
        for (place, version) in versions.enumerated() { places[PathKey(version.entry.path)] = Int32(place) }
        self.places = places
    }

    /// The version at a relative path.
    public subscript(path: PathKey) -> Version? {
        places[path].map { versions[Int($0)] }
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

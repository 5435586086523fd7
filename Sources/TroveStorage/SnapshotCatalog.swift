import Foundation
import TroveCore

/// The snapshot index: tracked folders, snapshots, and every path version they contain.
/// Versions are stored as ranges of snapshot sequence numbers, so a file unchanged across a
/// hundred snapshots is one row, and `find` searches each distinct path once (FTS5 trigrams).
public protocol SnapshotCatalog: AnyObject, Sendable {
    func tracked() throws -> [TrackedFolder]
    func saveTracked(_ folder: TrackedFolder) throws
    func removeTracked(_ path: String) throws
    /// Snapshots, oldest first; of one root when given.
    func snapshots(root: String?) throws -> [SnapshotRecord]
    /// Records a snapshot and its entries (extending unchanged versions of the root's latest
    /// snapshot) in one transaction; returns it with its sequence number.
    func addSnapshot(_ record: SnapshotRecord, entries: [SnapshotEntry], events: [Event]) throws -> SnapshotRecord
    /// Entries of a snapshot, sorted by path; only those under `prefix` (relative) when given.
    func entries(of snapshot: SnapshotRecord, under prefix: String?) throws -> [SnapshotEntry]
    /// Drops snapshots and whatever of the index only they used.
    func forget(_ snapshots: [SnapshotRecord], events: [Event]) throws
    /// Paths matching a pattern (substring, or glob with * ? [ ]) in every snapshot.
    func find(_ pattern: String, limit: Int) throws -> [FindHit]
    /// Content IDs some snapshot still refers to (entries and manifests).
    func referencedFileIDs() throws -> Set<ContentID>
}

import Foundation
import Logging
import TroveCore

/// One mutation of the catalog. A logical change is a list of these applied in one transaction.
public enum CatalogChange: Sendable {
    case saveStore(StoreRecord)
    /// Adds a file record; an existing record of the same ID is kept.
    case insertFile(FileRecord)
    case addImport(ImportRecord)
    case saveCopy(CopyRecord)
    case removeCopy(file: ContentID, store: String)
    /// Drops every copy record of a store (purge).
    case removeCopies(store: String)
    /// Sets the durability weight of every copy on a store.
    case setCopyWeights(store: String, copies: Int)
    /// Lowers every copy on a store worth more than `copies` to `copies` (a grid that lost a
    /// member: each object's shares are worth at most what the grid can still hold).
    case capCopyWeights(store: String, copies: Int)
    case setSetting(key: String, value: String)
    case removeSetting(key: String)
    /// Drops a file record and its copies (gc, once its objects are gone).
    case removeFile(ContentID)
    case event(Event)
    /// Replaces the record of files heal left below target, and why.
    case replaceStuck([StuckFile])
    /// Drops journal rows up to `through` (written to the stores).
    case trimJournal(through: Int64)
    /// Drops the journal rows about these keys (the library's own record objects; with `kind`,
    /// only rows of that kind, e.g. `snapshot`).
    case dropJournal(keys: [String], kind: String? = nil)

    /// Where an addition goes among its neighbours (nil: not an addition; applied in place).
    public var additionRank: Int? {
        switch self {
        case .insertFile: 0
        case .addImport: 1
        case .saveCopy: 2
        case .event: 3
        default: nil
        }
    }

    /// The changes as runs a catalog applies a statement at a time. Each stretch of additions
    /// (an import's thousands, interleaved file by file) is regrouped by kind, files first so
    /// that what refers to them finds them, each kind in its own order; every other change is a
    /// run of its own, where it was.
    public static func runs(_ changes: [CatalogChange]) -> [ArraySlice<CatalogChange>] {
        var runs: [ArraySlice<CatalogChange>] = []
        var index = 0
        while index < changes.count {
            guard changes[index].additionRank != nil else {
                runs.append(changes[index...index])
                index += 1
                continue
            }
            var end = index
            while end < changes.count, changes[end].additionRank != nil { end += 1 }
            let additions = changes[index..<end]
            for rank in 0..<4 {
                let run = additions.filter { $0.additionRank == rank }
                if !run.isEmpty { runs.append(run[...]) }
            }
            index = end
        }
        return runs
    }
}

/// Totals the status screen shows.
public struct CatalogSummary: Sendable, Equatable {
    public var files = 0
    public var bytes: UInt64 = 0
    /// Durability (sum of counted copy weights) → files and bytes at that durability.
    public var durability: [Int: Bucket] = [:]
    /// Store ID → copies held and their bytes.
    public var perStore: [String: Bucket] = [:]

    public struct Bucket: Sendable, Equatable {
        public var files: Int
        public var bytes: UInt64
        public init(files: Int, bytes: UInt64) { self.files = files; self.bytes = bytes }
    }

    public init() {}
}

/// A record that failed a schema or cryptographic check.
public struct ConsistencyFailure: Sendable, Equatable, Codable {
    public var table: String
    public var key: String
    public var problem: String
    public init(table: String, key: String, problem: String) {
        self.table = table
        self.key = key
        self.problem = problem
    }
}

/// The index of everything the stores hold. SQLite is the embedded default; the engine only
/// sees this protocol, so a PostgreSQL catalog can slot in for several machines.
public protocol Catalog: AnyObject, Sendable {
    /// Applies the changes in one transaction: all or nothing.
    func apply(_ changes: [CatalogChange]) throws
    /// Replaces the record of files heal left below target with the chunks `nextChunk` gives
    /// until nil, in one transaction (a pass's million stuck files never all in memory).
    /// `nextChunk` must not use the catalog.
    func replaceStuck(_ nextChunk: () throws -> [StuckFile]?) throws
    func setting(_ key: String) throws -> String?
    func stores() throws -> [StoreRecord]
    func file(_ id: ContentID) throws -> FileRecord?
    /// Which of these IDs the catalog already has.
    func knownFileIDs(_ ids: [ContentID]) throws -> Set<ContentID>
    /// Files whose ID starts with `prefix` (text form), for short-ID lookups.
    func fileIDs(prefix: String, limit: Int) throws -> [ContentID]
    func copies(of id: ContentID) throws -> [CopyRecord]
    /// The copies of each of `ids` in one read, each file's in store order (a file without
    /// copies is left out): heal asks for a whole group of files at once.
    func copies(ofFiles ids: [ContentID]) throws -> [ContentID: [CopyRecord]]
    /// Copies on a store, least recently verified first.
    func copies(onStore storeID: String) throws -> [CopyRecord]
    /// Which of `ids` have a copy recorded on the store (listing a store against the catalog a
    /// page at a time).
    func copied(onStore storeID: String, among ids: [ContentID]) throws -> Set<ContentID>
    /// Every copy on every store in (file, store) order, a page of at most `limit` after the
    /// copy `after` (from the start when nil): a whole catalog read in bounded memory.
    func copies(after: CopyRecord?, limit: Int) throws -> [CopyRecord]
    /// Up to `limit` copies on a store with their files' records, in file ID order after the
    /// file `after` (from the first when nil): what `verify` walks, a page at a time.
    func copiedFiles(onStore storeID: String, after: ContentID?, limit: Int) throws -> [(file: FileRecord, copy: CopyRecord)]
    /// Import origins whose path equals `path` or lies under it.
    func imports(underPath path: String) throws -> [ImportRecord]
    func imports(of id: ContentID) throws -> [ImportRecord]
    /// Events after `seq`, oldest first.
    func events(after seq: Int64?, kind: EventKind?, limit: Int?) throws -> [Event]
    /// The newest event of a kind (one index lookup, however long the log).
    func latestEvent(kind: EventKind) throws -> Event?
    func summary() throws -> CatalogSummary
    /// Files whose durability (counted copies on trusted stores) is below `target`, most fragile
    /// first, then largest first, handed to `body` one at a time from one consistent read (never
    /// all in memory). `body` must not use the catalog.
    func filesBelow(target: Int, _ body: (_ file: FileRecord, _ durability: Int) throws -> Void) throws
    /// For each store in `offline`: files with a copy there but no counted copy on a store in `online`.
    func filesDepending(onOffline offline: [String], online: [String]) throws -> [String: Int]
    /// Bytes imported (by import time) since `date`: what new data arrives at, for pacing.
    func importedBytes(since date: Date) throws -> UInt64
    /// Copies on the given stores, least recently verified (never first), at most `limit`.
    func leastRecentlyVerified(stores: [String], limit: Int) throws -> [CopyRecord]
    /// Bytes each store holds, and how many of them exist nowhere else.
    func storeUsage() throws -> [(label: String, bytes: UInt64, unique: UInt64)]
    /// File records no import, no snapshot entry and no snapshot (its manifest) refers to, except
    /// those in `keeping`: what `gc` may drop, handed to `body` one at a time from one consistent
    /// read. `body` must not use the catalog.
    func unreferencedFiles(keeping: Set<ContentID>, _ body: (FileRecord) throws -> Void) throws
    /// Per store, corrupt copies found since the user last acknowledged a drive failure there.
    func unacknowledgedCorruptions() throws -> [String: Int]
    /// Files heal last left below target that still are, grouped by reason and store.
    func stuckGroups(target: Int) throws -> [StuckGroup]
    /// Bytes of files below target with no counted copy in failure domain `domain` (what stores
    /// of that disk could still take).
    func bytesBelowTarget(notIn domain: String, target: Int) throws -> UInt64
    /// Files no store holds any copy of, with the snapshots that listed them (at most `limit`).
    func lostFiles(limit: Int) throws -> [LostFile]
    /// Validates every record's schema and every file's ID against its size and leaf hashes.
    func check(progress: (Int) -> Void) throws -> (checked: Int, failures: [ConsistencyFailure])
}

/// What writing the library's records to the stores, and rebuilding from them, needs of a
/// catalog (docs/library-records.md).
public protocol RecordsCatalog: AnyObject, Sendable {
    /// Every setting.
    func settings() throws -> [String: String]
    /// How many import records and events the catalog holds.
    func recordCounts() throws -> (imports: Int, events: Int)
    /// The newest journal row and event (0 when none).
    func pendingChanges() throws -> (journal: Int64, events: Int64)
    /// In one consistent read: everything (a checkpoint) or the journal rows after `afterJournal`,
    /// then the events after `afterEvent` (all of them for a checkpoint), as entries in order.
    /// Returns the newest journal row and event included.
    func readJournal(afterJournal: Int64, afterEvent: Int64, checkpoint: Bool,
                     _ body: (JournalEntry) throws -> Void) throws -> (journal: Int64, events: Int64)
}

/// A catalog several machines share takes the library-wide locks itself (they must hold across
/// machines, and be released when a machine crashes).
public protocol SharedLocks: AnyObject, Sendable {
    /// Takes lock `name` (shared or exclusive), waiting when `wait`; nil when it is held
    /// elsewhere and `wait` is false. Freeing the returned object releases the lock.
    func acquireLock(_ name: String, exclusive: Bool, wait: Bool) throws -> AnyObject?
}

extension Event {
    /// Logs a data-safety event as it is recorded (the level says how bad it is).
    public func log(to logger: Logger) {
        var metadata: Logger.Metadata = ["kind": "\(kind.rawValue)"]
        if let storeID { metadata["store"] = "\(storeID)" }
        if let fileID { metadata["file"] = "\(fileID)" }
        for (key, value) in details { metadata[key] = "\(value)" }
        switch kind {
        case .corruptCopy, .consistencyFailure, .storePurged, .writeFailed, .copyMissing:
            logger.error("data-safety event", metadata: metadata)
        case .storeDowngraded:
            logger.warning("data-safety event", metadata: metadata)
        default:
            logger.info("data-safety event", metadata: metadata)
        }
    }
}

extension StoreRecord {
    /// `shareDomains` as the catalogs keep it: `|domain|domain|`, so SQL can ask whether a
    /// domain is among them with one substring test. Nil for stores other than grids.
    public var shareDomainsColumn: String? { shareDomains.map { "|" + $0.joined(separator: "|") + "|" } }

    /// The column back as domains.
    public static func shareDomains(column: String?) -> [String]? {
        column.map { $0.split(separator: "|").map(String.init) }
    }

    /// The `stores` columns both catalogs write, in the order of their upsert's arguments.
    static let rowColumns = ["id", "label", "kind", "location", "copies", "filesystem_uuid", "created", "trust",
                             "no_new_copies", "last_seen", "capacity", "free", "disk", "disk_name", "declared_disk",
                             "read_only", "config", "encrypted", "machine", "removable", "grid_domains"]

    /// The insert-or-update of a store row, with `placeholder(n)` for the n-th argument (from 1):
    /// one statement for both catalogs, so a new column cannot reach only one of them.
    public static func upsertSQL(placeholder: (Int) -> String) -> String {
        """
        INSERT INTO stores (\(rowColumns.joined(separator: ", ")))
        VALUES (\(rowColumns.indices.map { placeholder($0 + 1) }.joined(separator: ", ")))
        ON CONFLICT (id) DO UPDATE SET \(rowColumns.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
        """
    }
}

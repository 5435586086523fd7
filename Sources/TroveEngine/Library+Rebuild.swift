import Foundation
import Logging
import TroveCore
import TroveStorage
import TroveStores

/// What `catalog rebuild` found and made.
public struct RebuildReport: Sendable, Codable {
    public var library: String
    /// The head the catalog was rebuilt from: its sequence, time and the store it came from.
    public var headSequence: Int64
    public var headTime: Date
    public var headFrom: String
    public var files = 0
    public var imports = 0
    public var snapshots = 0
    public var events = 0
    /// Stores listed, with the copies found on each.
    public var listed: [String: Int] = [:]
    /// Stores that could not be listed, with why (their copies come from the records).
    public var missing: [String: String] = [:]
    /// Objects found on the stores that the records did not know (written after the last
    /// backup): kept as recovered imports.
    public var recovered = 0
    /// Snapshots found on the stores that the records did not know.
    public var recoveredSnapshots = 0
    /// Copies whose size did not match (not counted; `verify` will judge them).
    public var wrongSize = 0
    /// Copies that failed `--verify` (quarantined).
    public var corrupt = 0
    /// Snapshots whose manifest no connected store holds: not indexed (gc waits for them).
    public var unindexedSnapshots: [String] = []
    /// No store carried the library's records (a library that was never backed up): every
    /// object was kept as a recovered import, and settings, tracked folders, trust decisions
    /// and the event log could not be restored.
    public var withoutRecords = false
    /// Where the previous catalog file was moved (nil when there was none).
    public var keptAside: String?
    public var seconds = 0.0
}

/// A store to read the library's records from, as the user named it.
public struct RebuildSource: Sendable {
    public var location: String
    public var config: StoreConfig
    public init(location: String, config: StoreConfig = StoreConfig()) {
        self.location = location
        self.config = config
    }
}

extension Library {
    /// Makes a new catalog for the library in `folder` from the library's records in the
    /// stores: the newest head among `sources` (or, without sources, among the stores listed in
    /// the library's `stores.json`), then every reachable store is listed to find its copies.
    /// The previous catalog file, if any, is moved aside, never deleted.
    public static func rebuildCatalog(at folder: String, from sources: [RebuildSource], verify: Bool = false,
                                      clock: TroveClock = .system, registry: StoreRegistry? = nil,
                                      logger: Logger = Logger(label: "trove"),
                                      progress: any ProgressReporter = SilentProgress()) throws -> (Library, RebuildReport) {
        let started = Date()
        if let shared = try catalogURL(of: folder) {
            throw TroveError(.usage, "The catalog of the library at \(folder) is the PostgreSQL database \(shared), which this command does not replace. Rebuild into a new library folder (`trove catalog rebuild --library NEW --from STORE…`), then move it into an empty database with `trove catalog migrate --library NEW --to postgresql://…`.")
        }
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var locks: [LibraryLock?] = [try LibraryLock.acquire(.recovery, in: folder, exclusive: true, wait: false),
                                     try LibraryLock.acquire(.activity, in: folder, exclusive: true, wait: false)]
        guard !locks.contains(where: { $0 == nil }) else {
            throw TroveError(.busy, "Another Trove command is using the library at \(folder); stop it (or let it finish) and retry.")
        }
        let registry = registry ?? StoreRegistry(libraryPath: folder)
        let now = clock.now()
        let newPath = catalogPath(folder) + ".rebuild"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: newPath + suffix) }
        // Made first: each source's pack index is rebuilt into it from the packs' trailers
        // before any record object is read (a record object may be in a pack).
        let catalog = try SQLiteCatalog(path: newPath, logger: logger)
        catalog.logsEvents = false
        // A rebuild that stops part-way leaves no half-made catalog beside the library's (on
        // success the file has been renamed into place, and this finds nothing).
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: newPath + suffix) } }
        var head: LibraryHead, origin: String, opened: [OpenedSource], state: LibraryState
        var withoutRecords = false
        do {
            (head, origin, opened) = try newestHead(folder: folder, sources: sources, registry: registry)
            opened = opened.map { $0.packed(into: catalog) }
            state = try LibraryState.decode(try RecordReader(stores: opened.map(\.store)).read(head.state))
            guard state.library == head.library else {
                throw TroveError(.corruptData, "The library state object belongs to library \(state.library), not \(head.library); the records on \(origin) are inconsistent.")
            }
        } catch let none as NoRecordsFound where !none.opened.isEmpty && Set(none.opened.compactMap(\.store.identity.library)).count <= 1 {
            // Stores of a library that never wrote its records: what they hold is still found
            // by listing them, every object kept as a recovered import.
            opened = none.opened.map { $0.packed(into: catalog) }
            let library = opened.compactMap(\.store.identity.library).first ?? StoreIdentity.newID()
            state = LibraryState(library: library, time: now, settings: ["library_id": library, "target_copies": "3"],
                                 stores: opened.map(\.record), tracked: [])
            head = LibraryHead(library: library, sequence: 0, time: .distantPast, schema: SQLiteCatalog.schemaVersion, state: "", segments: [])
            origin = opened.map(\.label).joined(separator: ", ")
            withoutRecords = true
        }
        let records = RecordReader(stores: opened.map(\.store))
        var report = RebuildReport(library: head.library, headSequence: head.sequence, headTime: head.time, headFrom: origin)
        report.withoutRecords = withoutRecords

        do {
            let library = Library(path: folder, catalog: catalog, clock: clock, logger: logger)
            library.registry = registry
            let snapshots = try library.replay(head: head, state: state, records: records)
            try library.rediscover(state: state, head: head, snapshots: snapshots, verify: verify, now: now, report: &report,
                                   indexed: Set(opened.filter(\.indexed).map(\.record.id)), progress: progress)
            try catalog.apply([.event(Event(time: now, kind: .catalogRebuilt, details: [
                "from": .text(origin), "head": .number(head.sequence), "files": DetailValue(report.files),
                "recovered": DetailValue(report.recovered), "missing_stores": .text(report.missing.keys.sorted().joined(separator: ",")),
            ]))])
            // Everything in the write-ahead log goes into the file before it is moved.
            try catalog.close()
        }
        // The new catalog replaces the old one in one rename; the old file is linked aside
        // first, so there is never a moment without a catalog (and never a lost old one).
        let current = catalogPath(folder)
        let aside = current + ".damaged-" + String(Int(now.timeIntervalSince1970))
        if FileManager.default.fileExists(atPath: current) {
            try? FileManager.default.removeItem(atPath: aside)
            try FileManager.default.linkItem(atPath: current, toPath: aside)
            report.keptAside = aside
        }
        // The old write-ahead log goes too, even without its database: SQLite would otherwise
        // replay it into the new catalog.
        for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: current + suffix) {
            try? FileManager.default.removeItem(atPath: aside + suffix)
            try POSIX.rename(current + suffix, aside + suffix)
        }
        try POSIX.rename(newPath, current)
        try POSIX.fsyncDirectory(folder)
        locks.removeAll()
        let library = try open(at: folder, clock: clock, logger: logger)
        library.registry = registry
        report.seconds = Date().timeIntervalSince(started)
        return (library, report)
    }

    /// A store opened to rebuild from, and a record of it (for a library without records).
    struct OpenedSource {
        var label: String
        var store: any Store
        var record: StoreRecord
        /// Whether its pack index was rebuilt from its packs' trailers.
        var indexed = false

        /// The source with its packs readable: its pack index rebuilt into `index`. A store that
        /// cannot be listed now is left as it is (its loose objects can still be read).
        func packed(into index: any PackIndex) -> OpenedSource {
            let packing = PackingStore(store, storeID: record.id, index: index)
            guard (try? packing.reindex()) != nil else { return self }
            return OpenedSource(label: label, store: packing, record: record, indexed: true)
        }
    }

    /// No store gave a usable head; the stores that could be opened, and why each failed.
    struct NoRecordsFound: Error {
        var opened: [OpenedSource]
        var problems: [String]
    }

    /// Reads the head of every source store and picks the newest valid one.
    static func newestHead(folder: String, sources: [RebuildSource], registry: StoreRegistry) throws
        -> (LibraryHead, String, [OpenedSource]) {
        var candidates: [(label: String?, location: String, kind: StoreKind, config: StoreConfig)] = []
        if sources.isEmpty {
            guard let data = FileManager.default.contents(atPath: storeListPath(folder)),
                  let list = try? LibraryRecords.decoder.decode(RecordsStoreList.self, from: data) else {
                throw TroveError(.usage, "The library at \(folder) has no list of its stores; name one that holds the library's records with --from FOLDER (or --from s3://BUCKET/PREFIX --endpoint URL).")
            }
            candidates = list.stores.map { ($0.label, $0.location, $0.kind, $0.config) }
        } else {
            for source in sources {
                var config = source.config
                let (kind, location) = try StoreRegistry.resolve(source.location, config: &config, absolute: LibraryLocation.absolute)
                candidates.append((nil, location, kind, config))
            }
        }
        var opened: [OpenedSource] = []
        var heads: [(LibraryHead, String)] = []
        var problems: [String] = []
        for candidate in candidates {
            let name = candidate.label ?? candidate.location
            do {
                guard let raw = try registry.openRaw(kind: candidate.kind, location: candidate.location, config: candidate.config) else {
                    problems.append("\(name): no Trove store there"); continue
                }
                var config = candidate.config
                let ownKey = registry.keyFilePath(storeID: raw.identity.id)
                if config.keyFile == nil, FileManager.default.fileExists(atPath: ownKey) { config.keyFile = ownKey }
                let store = try registry.wrap(raw, config: config)
                opened.append(OpenedSource(label: raw.identity.label, store: store, record: StoreRecord(
                    id: raw.identity.id, label: raw.identity.label, kind: candidate.kind, location: candidate.location,
                    copies: raw.identity.copies, filesystemUUID: raw.identity.filesystemUUID, created: raw.identity.created,
                    config: config, encrypted: raw.identity.encryption != nil)))
                guard let bytes = try store.readRecord(.libraryHead) else {
                    problems.append("\(name): holds no library records (made before Trove kept them, or never backed up)"); continue
                }
                let head = try LibraryHead.decode(bytes)
                if let owner = raw.identity.library, owner != head.library {
                    problems.append("\(name): its head names library \(head.library), but the store belongs to \(owner)"); continue
                }
                heads.append((head, raw.identity.label))
            } catch let damaged as RecordsDamaged {
                problems.append("\(name): \(damaged.reason)")
            } catch {
                problems.append("\(name): \(TroveError.from(any: error).message)")
            }
        }
        guard let newest = LibraryHead.newest(heads.map(\.0)), let origin = heads.first(where: { $0.0 == newest })?.1 else {
            if !opened.isEmpty && !sources.isEmpty { throw NoRecordsFound(opened: opened, problems: problems) }
            throw TroveError(.storeNotConnected, "No store gave the library's records: " + problems.joined(separator: "; ")
                + ". Connect a store that holds them and name it with --from.")
        }
        // Stores of other libraries are not read further.
        return (newest, origin, opened.filter { $0.store.identity.library == nil || $0.store.identity.library == newest.library })
    }

    /// Replays the records into this (new, empty) catalog: settings, stores, tracked folders,
    /// then the journal; snapshots are indexed from their manifests in their original order.
    func replay(head: LibraryHead, state: LibraryState, records: RecordReader) throws -> [SnapshotRecord] {
        var changes: [CatalogChange] = state.settings.map { .setSetting(key: $0.key, value: $0.value) }
        changes += state.stores.map { .saveStore($0) }
        try catalog.apply(changes)
        for folder in state.tracked { try snapshotIndex.saveTracked(folder) }
        var snapshots: [String: SnapshotRecord] = [:]
        let weights = Dictionary(uniqueKeysWithValues: state.stores.map { ($0.id, $0.copies) })
        // Files the replay has recorded so far: a line about any other file (the library's own
        // record objects are kept out of the journal) is skipped rather than refused.
        var known = Set<ContentID>()
        for (index, text) in head.segments.enumerated() {
            guard let id = ContentID(text) else { throw TroveError(.corruptData, "The library head names a malformed object '\(text)'.") }
            let segment: JournalSegment
            do { segment = try JournalSegment.decode(try records.read(id.description)) } catch let damaged as RecordsDamaged {
                throw TroveError(.corruptData, "Journal segment \(index + 1) of \(head.segments.count) (\(id)) is damaged: \(damaged.reason).")
            }
            var batch: [CatalogChange] = []
            for entry in segment.entries {
                switch entry {
                case .file(let file):
                    batch.append(.insertFile(file))
                    known.insert(file.id)
                case .fileRemoved(let id):
                    batch.append(.removeFile(id))
                    known.remove(id)
                case .imported(let record):
                    if known.contains(record.fileID) { batch.append(.addImport(record)) }
                case .copy(let file, let store):
                    // Not verified since; listing the store below confirms or drops it.
                    if known.contains(file), let weight = weights[store] {
                        batch.append(.saveCopy(CopyRecord(fileID: file, storeID: store, copies: weight, mtime: head.time, verified: nil)))
                    }
                case .copyRemoved(let file, let store): batch.append(.removeCopy(file: file, store: store))
                case .snapshot(let record): snapshots[record.id] = record
                case .snapshotForgotten(let id): snapshots[id] = nil
                case .event(let event): batch.append(.event(event))
                }
            }
            try catalog.apply(batch)
        }
        // The rebuilt catalog continues this head: what the replay wrote is already in the
        // records (so the journal starts empty, and the events written are marked), and gc keeps
        // the head's objects.
        let replayedEvents = try self.records.pendingChanges().events
        try catalog.apply([
            .setSetting(key: RecordsSetting.events, value: String(replayedEvents)),
            .setSetting(key: RecordsSetting.journal, value: "0"),
            .setSetting(key: RecordsSetting.sequence, value: String(head.sequence)),
            .setSetting(key: RecordsSetting.segments, value: String(decoding: try LibraryRecords.encoder.encode(head.segments), as: UTF8.self)),
            .setSetting(key: RecordsSetting.state, value: head.state),
            .setSetting(key: RecordsSetting.time, value: String(head.time.timeIntervalSince1970)),
            .trimJournal(through: Int64.max),
        ])
        return snapshots.values.sorted { $0.seq < $1.seq }
    }
}

/// Reads record objects (and manifests) from whichever source store holds a good copy.
final class RecordReader {
    let stores: [any Store]
    init(stores: [any Store]) { self.stores = stores }

    func read(_ text: String) throws -> [UInt8] {
        guard let id = ContentID(text) else { throw TroveError(.corruptData, "The library records name a malformed object '\(text)'.") }
        var problems: [String] = []
        for store in stores {
            do {
                if let bytes = try Self.readVerified(id, from: store) { return bytes }
                problems.append("\(store.location): its copy does not match its ID")
            } catch let error as StoreError where error.kind == .notFound {
                continue
            } catch {
                problems.append("\(store.location): \(TroveError.from(any: error).message)")
            }
        }
        throw TroveError(.noGoodCopy, "No connected store has a good copy of the record object \(id)" + (problems.isEmpty ? "." : ": " + problems.joined(separator: "; ")))
    }

    /// A whole object, or nil when its bytes do not hash to its ID.
    static func readVerified(_ id: ContentID, from store: any Store) throws -> [UInt8]? {
        let reader = try store.openReader(id)
        defer { reader.close() }
        let bytes = try reader.readBytes(Int(reader.size))
        guard bytes.count == Int(reader.size), ContentHash.hash(bytes).id == id else { return nil }
        return bytes
    }
}

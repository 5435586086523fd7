import Foundation
import TroveCore
import TroveStorage

/// What writing the library's records to the stores did.
public struct RecordsBackupReport: Sendable, Codable {
    /// The head's sequence number.
    public var sequence: Int64
    /// True when everything was written afresh (the first backup, or the journal was compacted).
    public var checkpoint: Bool
    /// Journal entries written (files, imports, copies, snapshots, events).
    public var entries: Int
    /// New objects written (state and journal segments) and their bytes.
    public var objects: Int
    public var bytes: UInt64
    /// Stores that now carry this head.
    public var stores: [String]
    /// Stores that could not (not connected, read-only, failed), with why.
    public var skipped: [String: String]
    public var seconds: Double
}

/// The catalog settings that say where the library's records stand (never part of the records).
enum RecordsSetting {
    static let sequence = "records_sequence"
    static let segments = "records_segments"
    static let state = "records_state"
    static let time = "records_time"
    static let journal = "records_journal"
    static let events = "records_events"
    /// Seconds between automatic backups (default 600).
    static let interval = "backup_interval"
    static let prefix = "records_"
    /// Snapshots a rebuild could not index (their manifests were on no connected store).
    static let unindexed = "records_unindexed"
    /// Stores a rebuild could not list: their unknown objects are recovered, never collected.
    static let unlisted = "records_unlisted"
    /// How many of the current segments the last checkpoint wrote (compaction counts the rest).
    static let base = "records_base"
}

extension Library {
    /// When the records were last written to the stores (or the library made, or its catalog
    /// rebuilt); nil when not known.
    public func lastRecordsBackup() throws -> Date? { try recordsStanding().status.written }

    /// True when the catalog holds changes its records in the stores do not: any at all, or
    /// with `dataOnly` only changes to files, imports, copies and snapshots (not events).
    public func recordsPending(dataOnly: Bool = false) throws -> Bool {
        let standing = try recordsStanding()
        return dataOnly ? standing.status.pending : standing.anyPending
    }

    /// Where the library's records stand, from one read of the settings and the journal.
    func recordsStanding() throws -> RecordsStanding {
        let settings = try records.settings()
        let (journal, events) = try records.pendingChanges()
        let never = settings[RecordsSetting.sequence] == nil
        let dataPending = never || journal > Int64(settings[RecordsSetting.journal] ?? "") ?? 0
        var status = RecordsStatus()
        status.sequence = settings[RecordsSetting.sequence].flatMap { Int64($0) }
        status.written = settings[RecordsSetting.time].flatMap(Double.init).map(Date.init(timeIntervalSince1970:))
        status.pending = dataPending
        return RecordsStanding(status: status,
                               anyPending: dataPending || events > Int64(settings[RecordsSetting.events] ?? "") ?? 0,
                               interval: settings[RecordsSetting.interval].flatMap(TimeInterval.init) ?? 600,
                               unindexed: Self.list(settings[RecordsSetting.unindexed]),
                               unlisted: Self.list(settings[RecordsSetting.unlisted]))
    }

    /// The objects the current head needs: `gc` keeps them.
    func recordObjects() throws -> Set<ContentID> {
        var ids = Set<ContentID>()
        if let state = try catalog.setting(RecordsSetting.state).flatMap(ContentID.init) { ids.insert(state) }
        for text in try currentSegments() { if let id = ContentID(text) { ids.insert(id) } }
        return ids
    }

    func currentSegments() throws -> [String] { try settingList(RecordsSetting.segments) }

    /// A setting holding a JSON list of strings (empty when unset).
    func settingList(_ key: String) throws -> [String] { Self.list(try catalog.setting(key)) }

    static func list(_ text: String?) -> [String] {
        guard let text else { return [] }
        return (try? LibraryRecords.decoder.decode([String].self, from: Data(text.utf8))) ?? []
    }

    /// Backs the records up when changes wait and the last backup is older than the interval
    /// (what commands call as they finish). Never fails the command: trouble is logged.
    public func backupIfDue() {
        do {
            let standing = try recordsStanding()
            guard standing.anyPending else { return }
            if let last = standing.status.written, clock.now().timeIntervalSince(last) < standing.interval { return }
            _ = try backupRecords(wait: false)
        } catch {
            logger.warning("the library's records could not be written to the stores", metadata: ["error": "\(error)"])
        }
    }

    /// Writes the library's records to every connected store: the journal since the last
    /// backup (or, the first time and when the journal has grown long, a checkpoint of
    /// everything), the state, and then on each store that holds all of them, the head.
    /// Returns nil when another process is writing them (or, without `wait`, when an import or
    /// gc holds the library).
    public func backupRecords(wait: Bool = true, forceCheckpoint: Bool = false) throws -> RecordsBackupReport? {
        let started = Date()
        guard let recordsLock = try lock(.records, exclusive: true, wait: wait),
              let activity = try lock(.activity, exclusive: false, wait: wait) else { return nil }
        defer { withExtendedLifetime((recordsLock, activity)) {} }
        let settings = try records.settings()
        guard let library = settings["library_id"] else { throw TroveError(.catalog, "The catalog has no library ID; run `trove check`.") }
        let previous = Int64(settings[RecordsSetting.sequence] ?? "") ?? 0
        var segments = try currentSegments()
        // A checkpoint the first time, and when 32 journal segments have gathered since the last
        // one; never while a rebuild left snapshots unindexed (only the old segments name them).
        let base = Int(settings[RecordsSetting.base] ?? "") ?? 0
        let unindexed = try settingList(RecordsSetting.unindexed)
        let checkpoint = previous == 0 || segments.isEmpty
            || ((forceCheckpoint || segments.count - base >= 32) && unindexed.isEmpty)
        let targets = try observeStores().filter { $0.isConnected && !$0.record.noNewCopies && !$0.record.readOnly }
        guard !targets.isEmpty else {
            throw TroveError(.storeNotConnected, "No connected store can take the library's records; connect a store and retry.")
        }
        // Above every head a store carries (a rebuild from one store continues its sequence, and
        // another may carry a later one), and taken before any head is written: a crash after
        // some heads are written never lets the next backup reuse it for different content.
        let seen = targets.compactMap { item in
            (try? item.store?.readRecord(.libraryHead)).flatMap { $0 }.flatMap { try? LibraryHead.decode($0) }?.sequence
        }.max() ?? 0
        let sequence = max(previous, seen) + 1
        var report = RecordsBackupReport(sequence: sequence, checkpoint: checkpoint, entries: 0, objects: 0, bytes: 0,
                                         stores: [], skipped: [:], seconds: 0)
        try catalog.apply([.setSetting(key: RecordsSetting.sequence, value: String(sequence))])

        var written: [ContentID] = []
        var pending: [[UInt8]] = []
        var pendingBytes = 0
        func flush() throws {
            guard !pending.isEmpty || (checkpoint && written.isEmpty) else { return }
            // Header first, then the entries (encoded as they came).
            let segment = JournalSegment(library: library, checkpoint: checkpoint && written.isEmpty, entries: [])
            var bytes = try segment.encoded(lines: pending)
            let id = try put(&bytes, to: targets, report: &report)
            written.append(id)
            pending = []
            pendingBytes = 0
        }
        let through = try records.readJournal(afterJournal: Int64(settings[RecordsSetting.journal] ?? "") ?? 0,
                                              afterEvent: Int64(settings[RecordsSetting.events] ?? "") ?? 0,
                                              checkpoint: checkpoint) { entry in
            let line = try JournalSegment.encodeLine(entry)
            pending.append(line)
            pendingBytes += line.count + 1
            report.entries += 1
            if pendingBytes >= LibraryRecords.segmentLimit { try flush() }
        }
        try flush()
        segments = (checkpoint ? [] : segments) + written.map(\.description)

        let now = clock.now()
        let state = LibraryState(library: library, time: now, settings: settings.filter { !$0.key.hasPrefix(RecordsSetting.prefix) },
                                 stores: try catalog.stores(), tracked: try snapshotIndex.tracked())
        var stateBytes = try state.encoded()
        let stateID = try put(&stateBytes, to: targets, report: &report)
        let head = LibraryHead(library: library, sequence: sequence, time: now, schema: SQLiteCatalog.schemaVersion,
                               state: stateID.description, segments: segments)
        let headBytes = try head.encoded()
        let needed = head.objects.compactMap(ContentID.init)
        for target in targets {
            guard let store = target.store else { continue }
            do {
                // A store added since the last checkpoint lacks the older segments: copied first,
                // so its head never points at something it does not hold.
                for id in needed where try store.objectSize(id) == nil {
                    guard let file = try catalog.file(id),
                          try copy(file, from: targets.filter { $0.record.id != target.record.id }, to: target) != nil else {
                        throw TroveError(.noGoodCopy, "no connected store holds the record object \(id)")
                    }
                }
                try store.writeRecord(.libraryHead, headBytes)
                report.stores.append(target.record.label)
            } catch {
                report.skipped[target.record.label] = TroveError.from(any: error).message
            }
        }
        guard !report.stores.isEmpty else {
            throw TroveError(.storeNotWritable, "No store took the library's records: " + report.skipped.sorted { $0.key < $1.key }
                .map { "\($0.key): \($0.value)" }.joined(separator: "; "))
        }
        let segmentsJSON = String(decoding: try LibraryRecords.encoder.encode(segments), as: UTF8.self)
        try catalog.apply([
            .setSetting(key: RecordsSetting.segments, value: segmentsJSON),
            .setSetting(key: RecordsSetting.state, value: stateID.description),
            .setSetting(key: RecordsSetting.time, value: String(now.timeIntervalSince1970)),
            .setSetting(key: RecordsSetting.journal, value: String(through.journal)),
            .setSetting(key: RecordsSetting.events, value: String(through.events)),
            .setSetting(key: RecordsSetting.base, value: String(checkpoint ? written.count : base)),
            .trimJournal(through: through.journal),
            // The record objects' own rows are not library history: left out of the journal.
            .dropJournal(keys: needed.map(\.description)),
        ])
        writeRecordsList(state: state)
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// Writes one record object to every target; at least one must take it.
    private func put(_ bytes: inout [UInt8], to targets: [ObservedStore], report: inout RecordsBackupReport) throws -> ContentID {
        let (id, placed, failures) = try writeBytes(bytes, to: targets)
        for (target, error) in failures { report.skipped[target.record.label] = error.message }
        if placed.isEmpty, let failure = failures.first { throw failure.1 }
        report.objects += 1
        report.bytes += UInt64(bytes.count)
        bytes = []
        return id
    }

    /// Keeps the stores' locations beside the catalog (`stores.json`), so `catalog rebuild`
    /// finds them without being told when only the catalog file was lost.
    func writeRecordsList(state: LibraryState) {
        let list = RecordsStoreList(library: state.library, stores: state.stores.map {
            .init(label: $0.label, kind: $0.kind, location: $0.location, config: $0.config)
        })
        if let data = try? LibraryRecords.encoder.encode(list) {
            try? AtomicFile.write(data, to: Self.storeListPath(path), in: path)
        }
    }

    static func storeListPath(_ folder: String) -> String { folder + "/stores.json" }
}

/// The records' position as status and automatic backups need it.
struct RecordsStanding {
    var status: RecordsStatus
    /// Anything at all (events too) is not in the stores yet.
    var anyPending: Bool
    /// Seconds between automatic backups (setting `backup_interval`, default 600).
    var interval: TimeInterval
    /// Left by a rebuild: snapshots not indexed, stores (IDs) not listed.
    var unindexed: [String]
    var unlisted: [String]
}

/// Where the library's stores are, kept beside the catalog for `catalog rebuild`.
struct RecordsStoreList: Codable {
    struct Entry: Codable {
        var label: String
        var kind: StoreKind
        var location: String
        var config: StoreConfig
    }
    var library: String
    var stores: [Entry]
}

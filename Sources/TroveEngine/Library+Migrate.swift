import Foundation
import TroveCore
import TrovePostgres
import TroveStorage

/// Where `catalog migrate` moves a library's catalog.
public enum CatalogDestination: Sendable, CustomStringConvertible {
    /// The embedded file in the library folder.
    case sqlite
    /// An empty PostgreSQL database.
    case postgresql(PostgresURL)

    public var description: String {
        switch self {
        case .sqlite: "SQLite"
        case .postgresql(let url): url.description
        }
    }
}

/// What a migration copied (compared with the source before the library switched over).
public struct MigrationReport: Sendable, Codable {
    public var from: String
    public var to: String
    public var files: Int
    public var imports: Int
    public var copies: Int
    public var snapshots: Int
    public var events: Int
    /// The previous catalog, kept aside (a SQLite file, or the URL of the database left as it was).
    public var keptAside: String
    public var seconds: Double
}

extension Library {
    /// Set in a PostgreSQL catalog a library moved away from: where it went.
    static let movedSetting = "catalog_moved_to"

    /// Copies everything the catalog holds into `destination`, checks that the copy answers as
    /// the original does (totals, durability, copies per store, imports, snapshots, events),
    /// then switches the library folder to it. The old catalog is kept aside, never deleted;
    /// on any failure the library stays on the old one.
    public func migrateCatalog(to destination: CatalogDestination) throws -> MigrationReport {
        let started = Date()
        var locks: [LibraryLock?] = [try lock(.recovery, exclusive: true, wait: false),
                                     try lock(.activity, exclusive: true, wait: false),
                                     try lock(.records, exclusive: true, wait: false)]
        guard !locks.contains(where: { $0 == nil }) else {
            throw TroveError(.busy, "Another Trove command is using the library; let it finish and retry the migration.")
        }
        defer { locks.removeAll() }
        let sourceURL = try Self.catalogURL(of: path)
        let sourceName = sourceURL?.description ?? Self.catalogPath(path)
        let target: any Catalog & SnapshotCatalog & RecordsCatalog
        let stagingPath = Self.catalogPath(path) + ".migrate"
        switch destination {
        case .sqlite:
            guard sourceURL != nil else { throw TroveError(.usage, "The library's catalog is already SQLite (\(sourceName)).") }
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: stagingPath + suffix) }
            target = try SQLiteCatalog(path: stagingPath, logger: logger)
        case .postgresql(let url):
            guard url != sourceURL else { throw TroveError(.usage, "The library's catalog already is \(url).") }
            let catalog = try PostgresCatalog(url: url, logger: logger)
            guard try catalog.setting("library_id") == nil, try catalog.summary().files == 0 else {
                throw TroveError(.libraryExists, "The database \(url) already holds a Trove library; migrate into an empty database.")
            }
            target = catalog
        }
        var report = try copyCatalog(into: target, from: sourceName, to: destination.description)
        try target.apply([.event(Event(time: clock.now(), kind: .catalogMigrated,
                                       details: ["from": .text(sourceName), "to": .text(destination.description)]))])

        // A shared catalog left behind says where the library went: other machines' folders
        // must not go on using it beside the new one.
        if sourceURL != nil {
            try catalog.apply([.setSetting(key: Self.movedSetting, value: destination.description)])
        }
        // Switch over: the folder names the new catalog; the old one stays aside.
        let stamp = String(Int(clock.now().timeIntervalSince1970))
        switch destination {
        case .sqlite:
            try (target as? SQLiteCatalog)?.close()
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: stagingPath + suffix) }
            try POSIX.rename(stagingPath, Self.catalogPath(path))
            try POSIX.rename(Self.catalogURLPath(path), Self.catalogURLPath(path) + ".migrated-" + stamp)
            report.keptAside = "\(sourceName) (unchanged; the library folder no longer uses it)"
        case .postgresql(let url):
            try (catalog as? SQLiteCatalog)?.close()
            let current = Self.catalogPath(path)
            if FileManager.default.fileExists(atPath: current) {
                try AtomicFile.write(Data((url.description + "\n").utf8), to: Self.catalogURLPath(path), in: path)
                try POSIX.rename(current, current + ".migrated-" + stamp)
                // Its write-ahead log was emptied into it when it closed; it goes aside with it.
                for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: current + suffix) {
                    try POSIX.rename(current + suffix, current + ".migrated-" + stamp + suffix)
                }
                report.keptAside = current + ".migrated-" + stamp
            } else {
                try AtomicFile.write(Data((url.description + "\n").utf8), to: Self.catalogURLPath(path), in: path)
                report.keptAside = "\(sourceName) (unchanged; the library folder no longer uses it)"
            }
        }
        try POSIX.fsyncDirectory(path)
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// Copies every record, then compares what both catalogs answer.
    func copyCatalog(into target: any Catalog & SnapshotCatalog & RecordsCatalog, from: String, to: String) throws -> MigrationReport {
        let settings = try records.settings()
        // The records in the stores stay valid; the next backup writes a checkpoint from the
        // new catalog (its journal starts empty), and soon when the old one had changes waiting.
        var kept = settings.filter { ![RecordsSetting.segments, RecordsSetting.journal, RecordsSetting.events, RecordsSetting.base].contains($0.key) }
        if settings[RecordsSetting.sequence] != nil, try recordsPending() { kept[RecordsSetting.journal] = "-1" }
        try target.apply(kept.sorted { $0.key < $1.key }.map { .setSetting(key: $0.key, value: $0.value) }
                         + (try catalog.stores()).map(CatalogChange.saveStore))
        for folder in try snapshotIndex.tracked() { try target.saveTracked(folder) }

        // Files, imports and events, in batches.
        var batch: [CatalogChange] = []
        func flush() throws { if !batch.isEmpty { try target.apply(batch); batch.removeAll(keepingCapacity: true) } }
        _ = try records.readJournal(afterJournal: 0, afterEvent: 0, checkpoint: true) { entry in
            switch entry {
            case .file(let file): batch.append(.insertFile(file))
            case .imported(let record): batch.append(.addImport(record))
            case .event(let event): batch.append(.event(event))
            default: return
            }
            if batch.count >= 5_000 { try flush() }
        }
        try flush()
        // Copies a page at a time: a million-file library is copied in bounded memory.
        var copies = 0
        var last: CopyRecord?
        while true {
            let page = try catalog.copies(after: last, limit: 5_000)
            guard !page.isEmpty else { break }
            try target.apply(page.map(CatalogChange.saveCopy))
            copies += page.count
            last = page.last
        }
        // Which object lives in which pack, a pack at a time.
        var packedBefore = 0, packedAfter = 0
        if let source = packIndex, let destination = target as? any PackIndex {
            for store in try catalog.stores() {
                for pack in try source.packs(store: store.id) {
                    let entries = try source.packEntries(store: store.id, pack: pack.pack)
                    try destination.addPacks(store: store.id, [PackContents(pack: pack.pack, size: pack.size, entries: entries)])
                    packedBefore += entries.count
                }
                packedAfter += try destination.packs(store: store.id).reduce(0) { $0 + $1.liveObjects }
            }
        }
        // Snapshots in order keep their numbers; each is indexed against the one before it.
        let snapshots = try snapshotIndex.snapshots(root: nil)
        for snapshot in snapshots {
            _ = try target.addSnapshot(snapshot, entries: try snapshotIndex.entries(of: snapshot, under: nil), events: [])
        }
        try target.apply([.trimJournal(through: try target.pendingChanges().journal)])

        // The copy must answer as the original does before the library switches to it: the
        // same totals by durability and per store (kept by the target's own triggers), imports,
        // events and snapshots.
        let (before, after) = (try catalog.summary(), try target.summary())
        let (countsBefore, countsAfter) = (try records.recordCounts(), try target.recordCounts())
        let snapshotsAfter = try target.snapshots(root: nil)
        var differences: [String] = []
        if before.files != after.files || before.bytes != after.bytes { differences.append("\(before.files) files before, \(after.files) after") }
        if before.durability != after.durability { differences.append("the files by durability differ") }
        if before.perStore != after.perStore { differences.append("the copies held per store differ") }
        if countsBefore.imports != countsAfter.imports { differences.append("\(countsBefore.imports) imports before, \(countsAfter.imports) after") }
        if countsBefore.events != countsAfter.events { differences.append("\(countsBefore.events) events before, \(countsAfter.events) after") }
        if packedBefore != packedAfter { differences.append("\(packedBefore) packed objects before, \(packedAfter) after") }
        if snapshotsAfter.map(\.seq) != snapshots.map(\.seq) { differences.append("\(snapshots.count) snapshots before, \(snapshotsAfter.count) after") }
        guard differences.isEmpty else {
            throw TroveError(.catalog, "The copy in \(to) does not match the catalog (\(differences.joined(separator: "; "))); the library stays on \(from).")
        }
        return MigrationReport(from: from, to: to, files: after.files, imports: countsAfter.imports, copies: copies,
                               snapshots: snapshotsAfter.count, events: countsAfter.events, keptAside: "", seconds: 0)
    }
}

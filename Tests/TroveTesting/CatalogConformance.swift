import Foundation
import Testing
import TroveCore
import TroveStorage
import TrovePostgres

/// Every catalog the engine may run on: what it must do, as checks a kind passes before it is
/// used (DESIGN.md: one conformance suite for catalogs as for stores).
public typealias FullCatalog = Catalog & SnapshotCatalog & RecordsCatalog

/// A catalog under test, and a way to open a second handle on the same database (another
/// process or machine writing at the same time).
public struct CatalogSubject: @unchecked Sendable {
    public let catalog: any FullCatalog
    public let another: () throws -> any FullCatalog
    public let keepAlive: [Any]
}

/// The catalog kinds every conformance check runs against.
public enum CatalogKindUnderTest: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgresql
    public var description: String { rawValue }

    /// A fresh, empty catalog of this kind.
    public func make() throws -> CatalogSubject {
        switch self {
        case .sqlite:
            let folder = TempFolder("catalog")
            let path = folder.at("catalog.sqlite")
            return CatalogSubject(catalog: try SQLiteCatalog(path: path), another: { try SQLiteCatalog(path: path) }, keepAlive: [folder])
        case .postgresql:
            let url = try PostgresServer.shared.get().newDatabase()
            return CatalogSubject(catalog: try PostgresCatalog(url: url), another: { try PostgresCatalog(url: url) }, keepAlive: [])
        }
    }
}

/// The catalog contract as checks.
public enum CatalogConformance {
    public static let now = Date(timeIntervalSince1970: 1_800_000_000)

    public static func sampleFile(_ size: Int, seed: UInt64 = 1) -> FileRecord {
        let (id, leaves) = ContentHash.hash(testBytes(size, seed: seed))
        return FileRecord(id: id, size: UInt64(size), leafHashes: leaves, firstSeen: now)
    }

    public static func store(_ id: String) -> StoreRecord {
        StoreRecord(id: id, label: "label-\(id)", kind: .local, location: "/mnt/\(id)", created: now, lastSeen: now)
    }

    static func copy(_ file: FileRecord, _ store: String, _ weight: Int = 1) -> CatalogChange {
        .saveCopy(CopyRecord(fileID: file.id, storeID: store, copies: weight, mtime: now, verified: now))
    }

    /// A group's copies come in one read: each file's as `copies(of:)` gives them, in store
    /// order, and nothing for a file without copies.
    public static func copiesOfAGroup(_ catalog: any FullCatalog) throws {
        let (a, b, bare, unknown) = (sampleFile(10, seed: 1), sampleFile(20, seed: 2), sampleFile(30, seed: 3), sampleFile(40, seed: 4))
        try catalog.apply([.saveStore(store("s1")), .saveStore(store("s0")), .insertFile(a), .insertFile(b), .insertFile(bare),
                           copy(a, "s1"), copy(a, "s0", 2), copy(b, "s1")])
        let found = try catalog.copies(ofFiles: [unknown.id, b.id, a.id, bare.id, a.id])
        #expect(found == [a.id: try catalog.copies(of: a.id), b.id: try catalog.copies(of: b.id)])
        #expect(found[a.id]?.map(\.storeID) == ["s0", "s1"])
        #expect(found[a.id]?.map(\.copies) == [2, 1])
        #expect(try catalog.copies(ofFiles: []).isEmpty)
    }

    /// Stores, files, copies, imports and settings come back as they went in.
    public static func recordsRoundTrip(_ catalog: any FullCatalog) throws {
        let file = sampleFile(ContentHash.leafSize + 5)
        var s1 = store("s1")
        s1.config = StoreConfig(endpoint: "http://127.0.0.1:9000", bucket: "b", prefix: "p/", pathStyle: true, limit: 1000)
        s1.encrypted = true
        s1.declaredDisk = "nas"
        try catalog.apply([
            .saveStore(s1), .insertFile(file), copy(file, "s1"),
            .addImport(ImportRecord(fileID: file.id, path: "/p/a.jpg", name: "a.jpg", mtime: now, time: now)),
            .setSetting(key: "target_copies", value: "2"),
        ])
        #expect(try catalog.file(file.id) == file)
        #expect(try catalog.copies(of: file.id).map(\.storeID) == ["s1"])
        #expect(try catalog.imports(underPath: "/p").map(\.name) == ["a.jpg"])
        #expect(try catalog.imports(underPath: "/p/a.jpg").count == 1)
        #expect(try catalog.imports(underPath: "/q").isEmpty)
        #expect(try catalog.stores() == [s1])
        #expect(try catalog.setting("target_copies") == "2")
        #expect(try catalog.settings()["target_copies"] == "2")
        #expect(try catalog.fileIDs(prefix: String(file.id.description.prefix(5)), limit: 5) == [file.id])
        #expect(try catalog.knownFileIDs([file.id, sampleFile(3, seed: 9).id]) == [file.id])
        let summary = try catalog.summary()
        #expect(summary.files == 1 && summary.durability[1]?.files == 1 && summary.perStore["s1"]?.bytes == file.size)
        try catalog.apply([.removeSetting(key: "target_copies")])
        #expect(try catalog.setting("target_copies") == nil)
    }

    /// An import's changes, interleaved file by file and more than one statement's worth, come
    /// out as applying them one by one would: a copy saved twice keeps its last weight, a file
    /// added twice is one file, and the maintained totals agree with the rows.
    public static func manyAdditionsAtOnce(_ catalog: any FullCatalog) throws {
        let files = (0..<150).map { sampleFile(8 + $0, seed: UInt64($0)) }
        var changes: [CatalogChange] = [.saveStore(store("s1")), .saveStore(store("s2"))]
        for (index, file) in files.enumerated() {
            changes += [.insertFile(file), copy(file, "s1")]
            if index % 3 == 0 { changes += [copy(file, "s2", 2), .insertFile(file), copy(file, "s2", 3)] }
            if index == 100 { changes.append(.removeCopy(file: files[99].id, store: "s1")) }
        }
        try catalog.apply(changes)
        let summary = try catalog.summary()
        #expect(summary.files == 150)
        #expect(summary.perStore["s1"]?.files == 149 && summary.perStore["s2"]?.files == 50)
        #expect(try catalog.copies(of: files[3].id).map(\.copies) == [1, 3])
        #expect(try catalog.copies(of: files[99].id).map(\.storeID) == ["s2"])
        #expect(summary.durability[4]?.files == 49 && summary.durability[3]?.files == 1 && summary.durability[1]?.files == 100)
        #expect(try catalog.check(progress: { _ in }).failures.isEmpty)
    }

    /// A change is one transaction: when any part fails, nothing of it remains.
    public static func failedChangeLeavesNothing(_ catalog: any FullCatalog) throws {
        let file = sampleFile(10)
        #expect(throws: TroveError.self) {
            try catalog.apply([.insertFile(file), .event(Event(time: now, kind: .fileImported)),
                               copy(file, "no-such-store")])
        }
        #expect(try catalog.file(file.id) == nil)
        #expect(try catalog.events(after: nil, kind: nil, limit: nil).isEmpty)
    }

    /// Events keep their order and details; kinds and limits filter them.
    public static func eventsInOrder(_ catalog: any FullCatalog) throws {
        try catalog.apply((0..<5).map { Event(time: now.addingTimeInterval(Double($0)), kind: $0 % 2 == 0 ? .storeAdded : .fileImported,
                                               details: ["n": .number(Int64($0)), "label": "x"]) }.map { .event($0) })
        let all = try catalog.events(after: nil, kind: nil, limit: nil)
        #expect(all.map { $0.details["n"] } == (0..<5).map { .number(Int64($0)) })
        #expect(zip(all, all.dropFirst()).allSatisfy { ($0.seq ?? 0) < ($1.seq ?? 0) })
        #expect(try catalog.events(after: all[1].seq, kind: .storeAdded, limit: 1).map { $0.details["n"] } == [.number(2)])
        #expect(try catalog.recordCounts().events == 5)
        #expect(try catalog.latestEvent(kind: .fileImported)?.details["n"] == .number(3))
        #expect(try catalog.latestEvent(kind: .gcFinished) == nil)
    }

    /// The maintained durability and per-store totals equal the rule in TroveCore after any
    /// sequence of copy, weight, trust and failure-domain changes, and `check` finds them sound.
    public static func durabilityFollowsTheRule(_ catalog: any FullCatalog) throws {
        var random = SplitMix64(seed: 11)
        let files = (0..<12).map { sampleFile(100 + $0, seed: UInt64($0)) }
        var stores = (0..<6).map { store("s\($0)") }
        // A grid whose members sit on disk:a and on s2's own domain: whole copies there add nothing.
        stores[5].kind = .grid
        stores[5].shareDomains = ["disk:a", "store:s2"]
        try catalog.apply(stores.map { .saveStore($0) } + files.map { .insertFile($0) })
        for step in 0..<300 {
            let file = files[Int(random.next() % UInt64(files.count))]
            let index = Int(random.next() % UInt64(stores.count))
            switch random.next() % 8 {
            case 6:
                stores[5].shareDomains = [["disk:a", "store:s2"], ["disk:b"], ["declared", "store:s0", "store:s1"]][Int(random.next() % 3)]
                try catalog.apply([.saveStore(stores[5])])
            case 7: try catalog.apply([.capCopyWeights(store: stores[index].id, copies: Int(random.next() % 3))])
            case 0, 1: try catalog.apply([copy(file, stores[index].id, Int(random.next() % 3))])
            case 2: try catalog.apply([.removeCopy(file: file.id, store: stores[index].id)])
            case 3:
                stores[index].disk = ["disk:a", "disk:b", nil][Int(random.next() % 3)]
                stores[index].declaredDisk = random.next() % 4 == 0 ? "declared" : nil
                try catalog.apply([.saveStore(stores[index])])
            case 4: try catalog.apply([.setCopyWeights(store: stores[index].id, copies: Int(random.next() % 3))])
            default:
                stores[index].trust = random.next() % 3 == 0 ? .downgraded : .trusted
                try catalog.apply([.saveStore(stores[index])])
            }
            for file in files {
                let copies = try catalog.copies(of: file.id).map { copy in
                    stores.first { $0.id == copy.storeID }!.counted(weight: copy.copies)
                }
                let below = try catalog.allFilesBelow(target: 100).first { $0.file.id == file.id }?.durability
                #expect(below == durability(of: copies), "step \(step)")
            }
        }
        let summary = try catalog.summary()
        for record in stores {
            let held = try catalog.copies(onStore: record.id)
            let bytes = held.reduce(UInt64(0)) { sum, copy in sum + (files.first { $0.id == copy.fileID }?.size ?? 0) }
            #expect((summary.perStore[record.id]?.files ?? 0) == held.count && (summary.perStore[record.id]?.bytes ?? 0) == bytes)
        }
        #expect(try catalog.check(progress: { _ in }).failures.isEmpty)
    }

    static func entry(_ path: String, size: UInt64, seed: UInt64) -> SnapshotEntry {
        SnapshotEntry(path: path, type: .file, size: size, mode: 0o644, mtime: FileTime(seconds: 1_700_000_000, nanoseconds: 5),
                      inode: seed, fileID: sampleFile(Int(size), seed: seed).id)
    }

    /// Snapshots, their entries, `find` by name, path fragment and glob, forgetting, and the
    /// content they keep from gc.
    public static func snapshotIndexAndFind(_ catalog: any FullCatalog) throws {
        try catalog.saveTracked(TrackedFolder(path: "/data", every: 3600, policy: RetentionPolicy(hourly: 1, daily: 2, weekly: 3, monthly: 4), created: now))
        #expect(try catalog.tracked().map(\.policy.weekly) == [3])
        let first = [entry("docs/report.pdf", size: 10, seed: 1), entry("docs/notes.txt", size: 11, seed: 2),
                     entry("photos/IMG_0001.jpg", size: 12, seed: 3)]
        let s1 = try catalog.addSnapshot(SnapshotRecord(id: "snap1", root: "/data", time: now, entries: 3, bytes: 33), entries: first, events: [])
        let second = [first[0], entry("docs/notes.txt", size: 13, seed: 4), entry("photos/IMG_0002.jpg", size: 14, seed: 5)]
        let s2 = try catalog.addSnapshot(SnapshotRecord(id: "snap2", root: "/data", time: now.addingTimeInterval(60), entries: 3, bytes: 38),
                                         entries: second, events: [])
        #expect(s2.seq > s1.seq)
        #expect(try catalog.entries(of: s1, under: nil).map(\.path) == first.map(\.path).sorted())
        #expect(try catalog.entries(of: s2, under: "docs").map(\.size) == [13, 10])
        #expect(try catalog.find("report", limit: 10).count == 2, "one unchanged version, in both snapshots")
        #expect(try catalog.find("docs/notes", limit: 10).count == 2, "two versions of the path")
        #expect(try catalog.find("IMG_*.jpg", limit: 10).map(\.path).sorted() == ["/data/photos/IMG_0001.jpg", "/data/photos/IMG_0002.jpg"])
        #expect(try catalog.versions(of: s2, after: nil, limit: 10).map(\.entry.path) == second.map(\.path).sorted())
        #expect(try catalog.versions(of: s2, after: "docs/report.pdf", limit: 1).map(\.entry.path) == ["photos/IMG_0002.jpg"])
        // What gc may drop: content no snapshot entry lists, and no snapshot's own manifest.
        let manifest = sampleFile(99, seed: 99)
        try catalog.apply((first + second.dropFirst()).map { .insertFile(sampleFile(Int($0.size), seed: $0.inode)) } + [.insertFile(manifest)])
        _ = try catalog.addSnapshot(SnapshotRecord(id: manifest.id.description, root: "/data3", time: now, entries: 0), entries: [], events: [])
        #expect(try catalog.allUnreferencedFiles(keeping: []).isEmpty, "every file is listed by a snapshot or is one's manifest")
        try catalog.forget([s1], events: [Event(time: now, kind: .snapshotsForgotten)])
        #expect(try catalog.snapshots(root: nil).map(\.id) == ["snap2", manifest.id.description])
        #expect(try catalog.find("IMG_0001", limit: 10).isEmpty)
        #expect(Set(try catalog.allUnreferencedFiles(keeping: []).map(\.id)) == [first[1].fileID!, first[2].fileID!],
                "what only the forgotten snapshot listed")
        #expect(try catalog.allUnreferencedFiles(keeping: [first[1].fileID!]).map(\.id) == [first[2].fileID!])
        // A snapshot may be given its sequence number (a rebuilt catalog keeps the original ones).
        let kept = try catalog.addSnapshot(SnapshotRecord(id: "snap9", seq: 90, root: "/other", time: now, entries: 0), entries: [], events: [])
        #expect(kept.seq == 90)
    }

    /// A snapshot bigger than a page of its parent's versions: unchanged, changed, new and gone
    /// entries anywhere in the tree are recorded exactly, the parent keeps its own, and paths of
    /// neighbouring roots ("/data-x", "/data0") never mix in.
    public static func snapshotsMergeAcrossPages(_ catalog: any FullCatalog) throws {
        let count = VersionCursor.pageSize * 2 + 500
        let names = (0..<count).map { String(format: "d%02d/f%05d", $0 % 37, $0) }
        let first = names.enumerated().map { entry($1, size: 100 + UInt64($0 % 50), seed: UInt64($0)) }
        let s1 = try catalog.addSnapshot(SnapshotRecord(id: "p1", root: "/data", time: now, entries: count), entries: first, events: [])
        for neighbour in ["/data-x", "/data0", "/data/d01"] {
            _ = try catalog.addSnapshot(SnapshotRecord(id: "n" + neighbour, root: neighbour, time: now, entries: 2),
                                        entries: [entry("d01/f00001", size: 1, seed: 9), entry("zz", size: 2, seed: 9)], events: [])
        }
        var second: [SnapshotEntry] = []
        for (index, old) in first.enumerated() {
            switch index % 7 {
            case 0: continue                                           // gone
            case 1: second.append(entry(old.path, size: old.size + 1, seed: UInt64(index) + 100_000))  // changed
            case 2: second.append(old); second.append(entry(old.path + ".new", size: 3, seed: 7))       // kept, and a new neighbour
            default: second.append(old)                                 // unchanged
            }
        }
        let s2 = try catalog.addSnapshot(SnapshotRecord(id: "p2", root: "/data", time: now.addingTimeInterval(60), entries: second.count),
                                         entries: second, events: [])
        let sorted = { (entries: [SnapshotEntry]) in entries.sorted { PathKey.precedes($0.path, $1.path) } }
        #expect(try catalog.entries(of: s2, under: nil) == sorted(second))
        #expect(try catalog.entries(of: s1, under: nil) == sorted(first))
        var paged: [String] = []
        var cursor = VersionCursor { after, limit in try catalog.versions(of: s2, after: after, limit: limit) }
        try cursor.finish { paged.append($0.entry.path) }
        #expect(paged == sorted(second).map(\.path))
        // A third snapshot equal to the second adds no versions: every one simply continues.
        let s3 = try catalog.addSnapshot(SnapshotRecord(id: "p3", root: "/data", time: now.addingTimeInterval(120), entries: second.count),
                                         entries: second, events: [])
        #expect(try catalog.versions(of: s3, after: nil, limit: count * 2).map(\.id) == (try catalog.versions(of: s2, after: nil, limit: count * 2)).map(\.id))
    }

    /// What a snapshot taker learnt of the parent is used only while it is current: here a
    /// snapshot taken and forgotten meanwhile closed a version the taker saw open, and trusting
    /// the taker would lose that path from the new snapshot.
    public static func aStaleBasisIsNotTrusted(_ catalog: any FullCatalog) throws {
        let folder = try TempFolder()
        let first = [entry("a", size: 1, seed: 1), entry("b", size: 2, seed: 2), entry("c", size: 3, seed: 3)]
        let s1 = try catalog.addSnapshot(SnapshotRecord(id: "b1", root: "/r", time: now, entries: 3), entries: first, events: [])
        let generation = try catalog.snapshotGeneration()
        let seen = try catalog.versions(of: s1, after: nil, limit: 10)
        let spool = try EntrySpool(in: folder.path)
        for (entry, version) in zip(first, seen) {
            try spool.append(entry, link: ParentLink(versionID: version.id, pathID: version.pathID, open: version.open, same: true))
        }
        let s2 = try catalog.addSnapshot(SnapshotRecord(id: "b2", root: "/r", time: now.addingTimeInterval(1), entries: 2),
                                         entries: [first[0], first[2]], events: [])
        try catalog.forget([s2], events: [])
        #expect(try catalog.snapshotGeneration() != generation)
        let s3 = try catalog.addSnapshot(SnapshotRecord(id: "b3", root: "/r", time: now.addingTimeInterval(2), entries: 3),
                                         entries: try spool.reader(), basis: SnapshotBasis(parentSeq: s1.seq, generation: generation, gone: []),
                                         events: [])
        #expect(try catalog.entries(of: s3, under: nil) == first)
        // A current basis is used as given: the same three entries, linked, continue their versions.
        let s4 = try catalog.addSnapshot(SnapshotRecord(id: "b4", root: "/r", time: now.addingTimeInterval(3), entries: 3),
                                         entries: try spool.reader(),
                                         basis: SnapshotBasis(parentSeq: s3.seq, generation: try catalog.snapshotGeneration(), gone: []),
                                         events: [])
        #expect(try catalog.entries(of: s4, under: nil) == first)
    }

    /// The journal names every change to files, imports, copies and snapshots in order (within
    /// one transaction a catalog may group additions by kind: files, then imports, then copies);
    /// a checkpoint gives everything; trimmed rows are gone.
    public static func journalFollowsEveryChange(_ catalog: any FullCatalog) throws {
        let a = sampleFile(20, seed: 1), b = sampleFile(21, seed: 2)
        try catalog.apply([.saveStore(store("s1")), .insertFile(a),
                           .addImport(ImportRecord(fileID: a.id, path: "/x/a", name: "a", mtime: now, time: now)), copy(a, "s1")])
        _ = try catalog.addSnapshot(SnapshotRecord(id: "m1", root: "/x", time: now, entries: 0), entries: [], events: [])
        try catalog.apply([.insertFile(b), .removeCopy(file: a.id, store: "s1"), .event(Event(time: now, kind: .copyRemoved))])
        try catalog.apply([.removeFile(b.id)])
        var entries: [JournalEntry] = []
        let through = try catalog.readJournal(afterJournal: 0, afterEvent: 0, checkpoint: false) { entries.append($0) }
        let kinds = entries.map { entry -> String in
            switch entry {
            case .file: "file"; case .fileRemoved: "file-removed"; case .imported: "import"; case .copy: "copy"
            case .copyRemoved: "copy-removed"; case .snapshot: "snapshot"; case .snapshotForgotten: "forgotten"; case .event: "event"
            }
        }
        // b was added and removed: its addition resolves to nothing, its removal stays.
        #expect(kinds == ["file", "import", "copy", "snapshot", "copy-removed", "file-removed", "event"])
        #expect(entries.contains(.imported(ImportRecord(fileID: a.id, path: "/x/a", name: "a", mtime: now, time: now))))
        try catalog.apply([.trimJournal(through: through.journal)])
        var after: [JournalEntry] = []
        _ = try catalog.readJournal(afterJournal: through.journal, afterEvent: through.events, checkpoint: false) { after.append($0) }
        #expect(after.isEmpty)
        var everything: [JournalEntry] = []
        _ = try catalog.readJournal(afterJournal: 0, afterEvent: 0, checkpoint: true) { everything.append($0) }
        #expect(everything.contains(.file(a)) && !everything.contains(.file(b)) && everything.count == 4, "file, import, snapshot, event")
        // A checkpoint lists copies along their key, file then store: read in order, never sorted
        // in memory (two million copies would be a sort of two million rows).
        let c = sampleFile(22, seed: 3), d = sampleFile(23, seed: 4)
        try catalog.apply([.saveStore(store("s0")), .insertFile(c), .insertFile(d), copy(c, "s1"), copy(c, "s0"), copy(d, "s0"), copy(d, "s1")])
        var copies: [String] = []
        _ = try catalog.readJournal(afterJournal: 0, afterEvent: 0, checkpoint: true) { entry in
            if case .copy(let file, let store) = entry { copies.append("\(file) \(store)") }
        }
        #expect(copies == [c.id, d.id].map(\.description).sorted().flatMap { ["\($0) s0", "\($0) s1"] })
    }

    /// Two writers at once (two handles, as two processes): nothing is lost, every event has
    /// its own sequence number, and the maintained totals stay right.
    public static func concurrentWriters(_ subject: CatalogSubject) throws {
        let first = subject.catalog, second = try subject.another()
        try first.apply([.saveStore(store("s1")), .saveStore(store("s2"))])
        let errors = ErrorBox()
        let group = DispatchGroup()
        for (index, catalog) in [first, second].enumerated() {
            DispatchQueue.global().async(group: group) {
                do {
                    for n in 0..<60 {
                        let file = sampleFile(50 + n, seed: UInt64(index * 1000 + n))
                        try catalog.apply([.insertFile(file), copy(file, "s\(index + 1)"), copy(file, "s\(2 - index)"),
                                           .event(Event(time: now, kind: .fileImported, fileID: file.id))])
                    }
                } catch { errors.add(error) }
            }
        }
        group.wait()
        #expect(errors.all.isEmpty, "\(errors.all)")
        let summary = try first.summary()
        #expect(summary.files == 120 && summary.durability[2]?.files == 120)
        #expect(summary.perStore["s1"]?.files == 120 && summary.perStore["s2"]?.files == 120)
        let events = try second.events(after: nil, kind: .fileImported, limit: nil)
        #expect(events.count == 120 && Set(events.compactMap(\.seq)).count == 120)
        #expect(try first.check(progress: { _ in }).failures.isEmpty)
    }

    /// A catalog that holds the library-wide locks itself: an exclusive lock keeps out every
    /// other holder (on another connection, as another machine), shared ones coexist, and
    /// freeing a lock releases it.
    public static func sharedLocksExclude(_ subject: CatalogSubject) throws {
        guard let first = subject.catalog as? SharedLocks, let second = try subject.another() as? SharedLocks else { return }
        var recovery = try first.acquireLock("recovery", exclusive: true, wait: false)
        #expect(recovery != nil)
        #expect(try second.acquireLock("recovery", exclusive: true, wait: false) == nil, "held by the other machine")
        #expect(try second.acquireLock("activity", exclusive: true, wait: false) != nil, "another lock is independent")
        let shared = try first.acquireLock("activity", exclusive: false, wait: false)
        let alsoShared = try second.acquireLock("activity", exclusive: false, wait: false)
        #expect(shared != nil && alsoShared != nil, "shared holders coexist")
        #expect(try second.acquireLock("activity", exclusive: true, wait: false) == nil, "an exclusive one waits for them")
        recovery = nil
        // Freed means free at once, every time: a release that lands a moment later lets a
        // second machine's recovery fail for no reason.
        for _ in 0..<20 {
            var taken = try second.acquireLock("recovery", exclusive: true, wait: false)
            #expect(taken != nil, "released when freed")
            taken = nil
            recovery = try first.acquireLock("recovery", exclusive: true, wait: false)
            #expect(recovery != nil, "released when freed")
            recovery = nil
            _ = taken
        }
        withExtendedLifetime((shared, alsoShared)) {}
    }

    /// The records are read in one snapshot even while the reader changes the catalog (a
    /// backup records the copies of the objects it writes as it goes).
    public static func journalReadSurvivesWrites(_ catalog: any FullCatalog) throws {
        try catalog.apply([.saveStore(store("s1")), .setSetting(key: "library_id", value: "lib")])
        for n in 0..<3 { try catalog.apply([.insertFile(sampleFile(100 + n, seed: UInt64(n)))]) }
        var files = 0, written = 0
        _ = try catalog.readJournal(afterJournal: 0, afterEvent: 0, checkpoint: true) { entry in
            guard case .file = entry else { return }
            files += 1
            let extra = sampleFile(500 + written, seed: 900 + UInt64(written))
            try catalog.apply([.insertFile(extra), copy(extra, "s1")])
            written += 1
        }
        #expect(files == 3, "the read sees the catalog as it was when it began")
        #expect(try catalog.summary().files == 6, "and every write made meanwhile is kept")
    }

    /// What status, alerts, heal, scrub and gc ask: files below target, files that depend on a
    /// store that is away, corruptions since the last acknowledgement, why files are stuck, what a
    /// disk could still take, lost files, least recently verified copies, recent imports, usage
    /// per store and what gc may collect.
    public static func alertInputs(_ catalog: any FullCatalog) throws {
        let (a, b, c, lost) = (sampleFile(100, seed: 1), sampleFile(200, seed: 2), sampleFile(300, seed: 3), sampleFile(400, seed: 4))
        let old = Date(timeIntervalSince1970: 1_700_000_000)
        try catalog.apply([
            .saveStore(store("s1")), .saveStore(store("s2")),
            .insertFile(a), .insertFile(b), .insertFile(c), .insertFile(lost),
            .addImport(ImportRecord(fileID: a.id, path: "/p/a", name: "a", mtime: now, time: now)),
            .addImport(ImportRecord(fileID: b.id, path: "/p/b", name: "b", mtime: old, time: old)),
            copy(a, "s1"), copy(a, "s2"), copy(b, "s1"),
            .saveCopy(CopyRecord(fileID: c.id, storeID: "s2", copies: 1, mtime: now, verified: nil)),
            .event(Event(time: now, kind: .corruptCopy, storeID: "s1", fileID: b.id)),
            .event(Event(time: now, kind: .driveFailureAcknowledged, storeID: "s1")),
            .event(Event(time: now, kind: .corruptCopy, storeID: "s1", fileID: a.id)),
            .event(Event(time: now, kind: .corruptCopy, storeID: "s2", fileID: c.id)),
            .replaceStuck([StuckFile(fileID: b.id, kind: .sameDisk, storeLabel: "label-s2", detail: "one disk"),
                           StuckFile(fileID: c.id, kind: .sameDisk, storeLabel: "label-s2", detail: nil)]),
        ])
        #expect(try catalog.allFilesBelow(target: 2).map(\.file.id) == [lost.id, c.id, b.id], "most fragile, then largest first")
        #expect(try catalog.filesDepending(onOffline: ["s1"], online: ["s2"]) == ["s1": 1], "only b lives on s1 alone")
        #expect(try catalog.filesDepending(onOffline: ["s1", "s2"], online: []) == ["s1": 2, "s2": 2])
        #expect(try catalog.unacknowledgedCorruptions() == ["s1": 1, "s2": 1], "the corruption before the acknowledgement is not counted")
        let stuck = try catalog.stuckGroups(target: 2)
        #expect(stuck.count == 1 && stuck.first?.files == 2 && stuck.first?.bytes == 500 && stuck.first?.largest == 300
                && stuck.first?.fragile == 2 && stuck.first?.detail == "one disk")
        #expect(try catalog.bytesBelowTarget(notIn: "store:s1", target: 2) == 700, "lost, c (b has a copy on s1)")
        #expect(try catalog.bytesBelowTarget(notIn: "store:s2", target: 2) == 600, "lost, b")
        #expect(try catalog.lostFiles(limit: 10).map(\.fileID) == [lost.id])
        #expect(try catalog.leastRecentlyVerified(stores: ["s2"], limit: 1).map(\.fileID) == [c.id], "never verified first")
        #expect(try catalog.importedBytes(since: now.addingTimeInterval(-60)) == 100)
        let usage = try catalog.storeUsage()
        #expect(usage.map(\.label) == ["label-s1", "label-s2"] && usage.map(\.bytes) == [300, 400] && usage.map(\.unique) == [200, 300])
        #expect(Set(try catalog.allUnreferencedFiles(keeping: [c.id]).map(\.id)) == [lost.id], "imported and kept files are not gc's")
        #expect(try catalog.copied(onStore: "s1", among: [a.id, b.id, c.id, lost.id]) == [a.id, b.id])
        // Stuck files recorded in chunks replace the old record at once; a file's last reason wins.
        var chunks = [[StuckFile(fileID: lost.id, kind: .noRoom, storeLabel: nil, detail: nil)],
                      [StuckFile(fileID: c.id, kind: .noSource, storeLabel: nil, detail: "x"),
                       StuckFile(fileID: lost.id, kind: .notConnected, storeLabel: "label-s1", detail: nil)]]
        try catalog.replaceStuck { chunks.isEmpty ? nil : chunks.removeFirst() }
        let replaced = try catalog.stuckGroups(target: 2).map { "\($0.kind.rawValue) \($0.storeLabel ?? "-") \($0.files)" }.sorted()
        #expect(replaced == ["no_source - 1", "not_connected label-s1 1"], "b's old record is gone")
    }

    /// Every copy comes back once, in (file, store) order, when read a page at a time.
    public static func copiesInPages(_ catalog: any FullCatalog) throws {
        let files = (0..<4).map { sampleFile(100 + $0, seed: UInt64(40 + $0)) }
        try catalog.apply([.saveStore(store("s1")), .saveStore(store("s2"))] + files.map(CatalogChange.insertFile)
                          + files.flatMap { [copy($0, "s1"), copy($0, "s2")] }.dropLast())
        var pages: [[CopyRecord]] = []
        var last: CopyRecord?
        while true {
            let page = try catalog.copies(after: last, limit: 3)
            if page.isEmpty { break }
            pages.append(page)
            last = page.last
        }
        #expect(pages.map(\.count) == [3, 3, 1])
        let keys = pages.joined().map { "\($0.fileID)@\($0.storeID)" }
        #expect(keys == keys.sorted() && Set(keys).count == 7)
        // One store's copies with their files, as verify walks them: each once, in file order.
        var onStore: [(file: FileRecord, copy: CopyRecord)] = []
        var after: ContentID?
        while true {
            let page = try catalog.copiedFiles(onStore: "s2", after: after, limit: 2)
            onStore += page
            guard let last = page.last, page.count == 2 else { break }
            after = last.file.id
        }
        let expected = files.dropLast().map(\.id).sorted { $0.description < $1.description }
        #expect(onStore.map(\.file.id) == expected && onStore.allSatisfy { $0.copy.storeID == "s2" && $0.copy.fileID == $0.file.id })
        #expect(onStore.map(\.file.size) == expected.map { id in files.first { $0.id == id }!.size })
    }
}

extension Catalog {
    /// Every file below target, collected (the catalog hands them over one at a time).
    func allFilesBelow(target: Int) throws -> [(file: FileRecord, durability: Int)] {
        var all: [(file: FileRecord, durability: Int)] = []
        try filesBelow(target: target) { all.append(($0, $1)) }
        return all
    }

    func allUnreferencedFiles(keeping: Set<ContentID>) throws -> [FileRecord] {
        var all: [FileRecord] = []
        try unreferencedFiles(keeping: keeping) { all.append($0) }
        return all
    }
}

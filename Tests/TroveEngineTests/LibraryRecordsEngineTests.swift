import Foundation
import Testing
import TroveCore
import TroveEngine
import TroveStorage
import TroveTesting

/// Writing the library's records to the stores: debounced, never a head that points at
/// something its store lacks, and any one store enough to rebuild.
@Suite struct LibraryRecordsEngineTests {
    func importSample(_ t: TestLibrary, name: String, files: Int) throws {
        let src = t.folder.folder(name)
        for i in 0..<files { t.folder.file("\(name)/f\(i)", testBytes(20_000 + i, seed: UInt64(i + 7) &* 31 &+ UInt64(name.count))) }
        _ = try t.library.importPaths([src])
    }

    func head(_ t: TestLibrary, _ label: String) throws -> LibraryHead? {
        let store = try #require(try LocalStore.open(at: t.folder.at(label)))
        return try store.readRecord(.libraryHead).map(LibraryHead.decode)
    }

    @Test func automaticBackupsWaitForTheIntervalAndOnlyRunWhenSomethingChanged() throws {
        let t = try TestLibrary(stores: 2)
        try importSample(t, name: "a", files: 3)
        t.library.backupIfDue()
        #expect(try head(t, "drive0") == nil, "a new library waits a full interval before its first backup")
        t.clock.advance(days: 11.0 / 1440)
        t.library.backupIfDue()
        let first = try #require(try head(t, "drive0"))
        #expect(first.sequence == 1 && first.segments.count == 1)
        let status = try t.library.status()
        #expect(status.records.sequence == 1 && !status.records.pending && status.records.written == t.clock.clock.now())
        #expect(try head(t, "drive1") == first)
        t.clock.advance(days: 1)
        t.library.backupIfDue()
        #expect(try head(t, "drive0") == first, "nothing changed: no new head")
        try importSample(t, name: "b", files: 2)
        t.library.backupIfDue()
        let second = try #require(try head(t, "drive0"))
        #expect(second.sequence == 2 && second.segments.count == 2 && second.segments.first == first.segments.first)
        t.clock.advance(days: 1.0 / 1440)
        try importSample(t, name: "c", files: 1)
        t.library.backupIfDue()
        #expect(try head(t, "drive0") == second, "within the interval the change waits")
        #expect(try t.library.recordsPending())
        #expect(try t.library.status().records.pending, "status says the newest import is not in the stores yet")
    }

    @Test func aStoreThatMissedBackupsGetsTheOlderSegmentsBeforeItsHead() throws {
        let t = try TestLibrary(stores: 3)
        try importSample(t, name: "a", files: 3)
        t.inject(.unavailable, into: "drive2")
        let first = try #require(try t.library.backupRecords())
        #expect(first.stores.sorted() == ["drive0", "drive1"])
        #expect(first.skipped["drive2"] != nil)
        #expect(try head(t, "drive2") == nil)
        try importSample(t, name: "b", files: 2)
        t.inject(nil, into: "drive2")
        let second = try #require(try t.library.backupRecords())
        #expect(second.stores.sorted() == ["drive0", "drive1", "drive2"])
        let written = try #require(try head(t, "drive2"))
        let store = try #require(try LocalStore.open(at: t.folder.at("drive2")))
        for id in written.objects.compactMap(ContentID.init) {
            #expect(try store.objectSize(id) != nil, "the head on drive2 names \(id), which drive2 must hold")
        }
        // drive2 alone is enough to rebuild.
        try FileManager.default.removeItem(atPath: t.folder.at("library/catalog.sqlite"))
        let (rebuilt, report) = try Library.rebuildCatalog(at: t.folder.at("library"), from: [RebuildSource(location: t.folder.at("drive2"))],
                                                           clock: t.clock.clock)
        #expect(report.headFrom == "drive2" && report.missing.isEmpty)
        #expect(try rebuilt.status().files == t.library.status().files)
    }

    @Test func gcKeepsTheCurrentRecordsAndCollectsSupersededOnes() throws {
        let t = try TestLibrary(stores: 2)
        try importSample(t, name: "a", files: 2)
        let first = try #require(try t.library.backupRecords())
        let old = try #require(try head(t, "drive0"))
        t.clock.advance(days: 1)
        _ = try #require(try t.library.backupRecords(forceCheckpoint: true))
        #expect(first.sequence == 1)
        let current = try #require(try head(t, "drive0"))
        let gc = try t.library.gc(dryRun: true)
        let doomed = Set(gc.unreferenced.map(\.id))
        #expect(current.objects.allSatisfy { !doomed.contains($0) }, "the current head's objects are kept")
        #expect(old.objects.allSatisfy { doomed.contains($0) }, "the superseded records are garbage")
    }

    @Test func aStoreWithAnOlderHeadKeepsWhatItsHeadNames() throws {
        let t = try TestLibrary(stores: 3)
        try importSample(t, name: "a", files: 2)
        _ = try #require(try t.library.backupRecords())
        let old = try #require(try head(t, "drive2"))
        t.clock.advance(days: 1)
        t.inject(.unavailable, into: "drive2")
        let second = try #require(try t.library.backupRecords(forceCheckpoint: true))
        #expect(second.skipped["drive2"] != nil)
        t.inject(nil, into: "drive2")
        _ = try t.library.gc(dryRun: false)
        let store = try #require(try LocalStore.open(at: t.folder.at("drive2")))
        for id in old.objects.compactMap(ContentID.init) {
            #expect(try store.objectSize(id) != nil, "drive2's own head still names \(id): gc must keep it")
        }
        let latest = try head(t, "drive0")
        #expect(second.sequence == 2 && latest?.sequence == 2)
    }

    @Test func aCommandThatWaitedWhileTheCatalogWasRebuiltStopsInsteadOfWritingToTheOldOne() throws {
        let t = try TestLibrary(stores: 2)
        try importSample(t, name: "a", files: 2)
        _ = try #require(try t.library.backupRecords())
        // Another process rebuilds the catalog (the file is replaced) while this library is open.
        _ = try Library.rebuildCatalog(at: t.folder.at("library"), from: [RebuildSource(location: t.folder.at("drive0"))],
                                       clock: t.clock.clock)
        let src = t.folder.folder("late")
        t.folder.file("late/x", testBytes(5000, seed: 77))
        let error = #expect(throws: TroveError.self) { _ = try t.library.importPaths([src]) }
        #expect(error?.code == .busy && error?.message.contains("rebuilt") == true)
    }

    @Test func snapshotsARebuildCouldNotIndexSurviveUntilAFullRebuild() throws {
        let t = try TestLibrary(stores: 3)
        let tree = t.folder.folder("tree")
        t.folder.file("tree/keep.txt", testBytes(3000, seed: 4))
        let snapshot = try t.library.snapshot(tree)
        _ = try t.library.heal()
        // The manifest survives on drive2 alone, and drive2 is away during the first rebuild.
        for drive in ["drive0", "drive1"] {
            let path = t.folder.at("\(drive)/.trove/objects/\(snapshot.id.prefix(2))/\(snapshot.id.dropFirst(2))")
            try FileManager.default.removeItem(atPath: path)
        }
        _ = try #require(try t.library.backupRecords())
        try FileManager.default.moveItem(atPath: t.folder.at("drive2"), toPath: t.folder.at("drive2-away"))
        let library = t.folder.at("library")
        try FileManager.default.removeItem(atPath: library + "/catalog.sqlite")
        let (partial, first) = try Library.rebuildCatalog(at: library, from: [RebuildSource(location: t.folder.at("drive0"))], clock: t.clock.clock)
        #expect(first.unindexedSnapshots == [snapshot.id] && first.missing["drive2"] != nil)
        let settings = try partial.records.settings()
        #expect(settings["records_unindexed"] != nil, "\(settings)")
        #expect(throws: TroveError.self) { _ = try partial.gc(dryRun: true) }
        // A backup meanwhile (even one asked to compact) must not drop the snapshot from the records.
        t.clock.advance(days: 1)
        _ = try #require(try partial.backupRecords(forceCheckpoint: true))
        try FileManager.default.moveItem(atPath: t.folder.at("drive2-away"), toPath: t.folder.at("drive2"))
        try FileManager.default.removeItem(atPath: library + "/catalog.sqlite")
        let (full, second) = try Library.rebuildCatalog(at: library, from: [RebuildSource(location: t.folder.at("drive0"))], clock: t.clock.clock)
        #expect(second.unindexedSnapshots.isEmpty && second.missing.isEmpty)
        #expect(try full.snapshotIndex.snapshots(root: nil).map(\.id) == [snapshot.id])
        let gc = try full.gc(dryRun: true)
        #expect(!gc.unreferenced.contains { $0.id == snapshot.id }, "the manifest is needed again")
    }
}

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
}

import Foundation
import Testing
import TroveCore
import TroveEngine
import TroveStorage
import TroveTesting

/// Packs as a user meets them: small files imported together share packs, yet each is
/// verified, named when corrupt, healed, collected and rebuilt on its own (docs/packs.md).
struct PackEngineTests {
    /// `count` small files imported together (one batch: packs on each store written to).
    func importSmall(_ t: TestLibrary, count: Int, mirror: Int = 1, name: String = "src") throws -> [ImportedFile] {
        let src = t.folder.folder(name)
        for i in 0..<count { t.folder.file("\(name)/f\(i)", Self.content(name, i)) }
        // In file order, f0 first.
        return try t.library.importPaths([src], options: ImportOptions(mirror: mirror)).imported
            .sorted { Int($0.path.split(separator: "f").last!)! < Int($1.path.split(separator: "f").last!)! }
    }

    static func content(_ name: String, _ index: Int) -> [UInt8] {
        testBytes(3_000 + index * 17, seed: UInt64(index + 1) &+ UInt64(name.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xffff) &* 1_000)
    }

    func packing(_ t: TestLibrary, _ index: Int) throws -> PackingStore {
        try #require(try t.library.connectedStore("drive\(index)").store as? PackingStore)
    }

    @Test func aCorruptByteInTheMiddleOfAPackIsReportedAgainstOneObjectAndHealed() throws {
        let t = try TestLibrary(stores: 3)
        let files = try importSmall(t, count: 40, mirror: 2)
        let drive0 = try packing(t, 0)
        #expect(try drive0.packSummaries().count == 1)
        #expect(try drive0.base.objectIDs().count == 1, "40 small files are one pack on the drive")
        let victim = files[20].id
        let place = try #require(try t.objectBytes(victim, store: 0))
        let index = try #require(t.library.catalog as? any PackIndex)
        let entries = try index.packEntries(store: t.stores[0].id, pack: drive0.packSummaries()[0].pack)
        let position = try #require(entries.firstIndex { $0.offset == UInt64(place.offset) })
        #expect(position > 5 && position < entries.count - 5, "the victim lies in the middle of the pack")
        try t.flipBit(ofObject: victim, store: 0, at: 1_000)

        let report = try t.library.verify(storeLabel: "drive0")[0]
        #expect(report.checked == 40)
        #expect(report.corrupt.map(\.fileID) == [victim])
        #expect(report.good == 39)
        // Only that copy is lost: the pack's other objects still count on drive0.
        let onDrive0 = try t.library.catalog.copies(onStore: t.stores[0].id)
        #expect(onDrive0.count == 39 && !onDrive0.contains { $0.fileID.description == victim })

        let heal = try t.library.heal()
        #expect(heal.stillBelowTarget == 0 || heal.problems.isEmpty)
        let out = t.folder.at("out")
        _ = try t.library.get(victim, to: out)
        #expect(FileManager.default.contents(atPath: out) == Data(Self.content("src", 20)))
        #expect(try t.library.catalog.copies(of: try #require(ContentID(victim))).filter { $0.copies > 0 }.count >= 2)
        #expect(try t.library.verify(storeLabel: "drive2")[0].clean)
    }

    @Test func gcOfAHalfDeadPackKeepsEveryLiveObject() throws {
        let t = try TestLibrary(stores: 1)
        let root = t.folder.folder("docs")
        for i in 0..<30 { t.folder.file("docs/f\(i)", testBytes(4_000 + i, seed: UInt64(100 + i))) }
        let first = try t.library.snapshot(root)
        let drive = try packing(t, 0)
        let before = try drive.packSummaries()
        #expect(before.count == 1)
        for i in 0..<30 where i % 3 != 0 { try FileManager.default.removeItem(atPath: t.folder.at("docs/f\(i)")) }
        _ = try t.library.snapshot(root)
        _ = try t.library.forget(dryRun: false, explicit: [first.id])

        let dry = try t.library.gc(dryRun: true)
        #expect(dry.packsRewritten == 1)
        #expect(try drive.packSummaries() == before, "a dry run changes nothing")
        let gc = try t.library.gc(dryRun: false)
        #expect(gc.unreferenced.count >= 20)
        #expect(gc.packsRewritten == 1)
        let after = try drive.packSummaries()
        #expect(after.count == 1 && after[0].pack != before[0].pack)
        #expect(after[0].liveObjects == 10 && after[0].size < before[0].size / 2)
        #expect(!(try drive.base.objectIDs()).contains(before[0].pack), "the old pack is deleted")
        #expect(try t.library.verify()[0].clean)
        let restored = t.folder.at("restored")
        _ = try t.library.restore("latest", to: restored)
        for i in stride(from: 0, to: 30, by: 3) {
            #expect(FileManager.default.contents(atPath: restored + "/f\(i)") == Data(testBytes(4_000 + i, seed: UInt64(100 + i))))
        }
    }

    @Test func repackConvertsALooseStoreInPlace() throws {
        let t = try TestLibrary(stores: 1)
        var files: [ImportedFile] = []
        // Imported a few at a time: each batch is too small for a pack, so the objects are loose.
        for batch in 0..<6 { files += try importSmall(t, count: 4, name: "b\(batch)") }
        let drive = try packing(t, 0)
        #expect(try drive.packSummaries().isEmpty)
        #expect(try drive.base.objectIDs().count == 24)
        let report = try t.library.repackStore("drive0")
        #expect(report.objectsPacked == 24 && report.packsWritten == 1)
        #expect(report.corrupt.isEmpty && report.missing.isEmpty)
        #expect(try drive.base.objectIDs() == drive.packSummaries().map(\.pack), "only the pack is left")
        let verify = try t.library.verify()[0]
        #expect(verify.clean && verify.checked == 24)
        let out = t.folder.at("one")
        _ = try t.library.get(files[5].id, to: out)
        #expect(FileManager.default.contents(atPath: out)?.count == Int(files[5].size))
    }

    @Test func aFullDiskDuringAPackWriteStopsTheImportAndLeavesNothingHalfDone() throws {
        let t = try TestLibrary(stores: 1)
        _ = try importSmall(t, count: 10, name: "earlier")
        t.inject(.fullAfter(bytes: 20_000), into: "drive0")
        do {
            _ = try importSmall(t, count: 30, name: "later")
            Issue.record("expected a full disk")
        } catch let stopped as ImportStopped {
            #expect(stopped.error.code == .diskFull)
            #expect(stopped.report.imported.isEmpty)
        }
        t.inject(nil, into: "drive0")
        #expect(try t.library.catalog.summary().files == 10)
        #expect(try FileManager.default.contentsOfDirectory(atPath: t.folder.at("drive0/.trove/tmp")).isEmpty)
        #expect(try t.library.checkCatalog().ok)
        #expect(try t.library.verify()[0].clean)
        // Once there is room, the same import goes through.
        #expect(try importSmall(t, count: 30, name: "later").count == 30)
    }

    @Test func theCatalogIsRebuiltFromPacksAlone() throws {
        let t = try TestLibrary(stores: 2)
        let files = try importSmall(t, count: 50, mirror: 2)
        _ = try t.library.backupRecords()
        let folder = t.folder.at("library")
        try FileManager.default.removeItem(atPath: folder + "/catalog.sqlite")
        let (rebuilt, report) = try Library.rebuildCatalog(at: folder, from: [], clock: t.clock.clock)
        #expect(report.files >= 50)
        for file in files {
            #expect(try rebuilt.catalog.copies(of: try #require(ContentID(file.id))).count == 2)
        }
        let verify = try rebuilt.verify()
        #expect(verify.allSatisfy { $0.clean && $0.checked >= 50 })
        let out = t.folder.at("back")
        _ = try rebuilt.get(files[33].id, to: out)
        #expect(FileManager.default.contents(atPath: out) == Data(Self.content("src", 33)))
    }
}

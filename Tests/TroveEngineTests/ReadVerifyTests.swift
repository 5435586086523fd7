import Foundation
import GRDB
import Testing
import TroveCore
import TroveEngine
import TroveStorage
import TroveTesting

struct ReadVerifyTests {
    /// A library whose two drives both hold every file of a snapshot of `count` files.
    static func mirrored(count: Int, size: Int) throws -> (TestLibrary, String) {
        let t = try TestLibrary(stores: 2)
        for i in 0..<count { t.folder.file("docs/f\(i)", testBytes(size + i, seed: UInt64(i + 1))) }
        let snapshot = try t.library.snapshot(t.folder.at("docs"))
        _ = try t.library.heal()
        return (t, snapshot.id)
    }

    /// Several files read at once go to both drives that hold them (ZEORaid spread its reads).
    @Test func aRestoreSpreadsItsReadsOverTheDrivesHoldingTheFiles() throws {
        let (t, snapshot) = try Self.mirrored(count: 24, size: 3_000)
        for label in ["drive0", "drive1"] { t.inject(.latency(seconds: 0.02), into: label) }
        let report = try t.library.restore(snapshot, to: t.folder.at("out"))
        #expect(report.files == 24)
        #expect(t.reads("drive0") >= 6 && t.reads("drive1") >= 6, "drive0 \(t.reads("drive0")), drive1 \(t.reads("drive1"))")
    }

    /// A copy that delivers slowly (a peer over a thin link) gets few reads once that is known.
    @Test func aSlowCopyGetsFewReadsOnceItIsKnownToBeSlow() throws {
        let (t, snapshot) = try Self.mirrored(count: 24, size: 300_000)
        t.inject(.latency(seconds: 0), into: "drive0")
        t.inject(.latency(seconds: 0.3), into: "drive1")
        let report = try t.library.restore(snapshot, to: t.folder.at("out"))
        #expect(report.files == 24)
        #expect(t.reads("drive1") <= 6 && t.reads("drive0") >= 18, "drive0 \(t.reads("drive0")), drive1 \(t.reads("drive1"))")
    }
    @Test func getReturnsIdenticalBytes() throws {
        let t = try TestLibrary(stores: 1)
        let bytes = testBytes(ContentHash.leafSize + 1234)
        let id = try t.library.importPaths([t.folder.file("in.bin", bytes)]).imported[0].id
        let out = t.folder.at("out.bin")
        let report = try t.library.get(id, to: out)
        #expect(report.store == "drive0")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(bytes))
        // Never overwrites without asking.
        #expect(throws: TroveError.self) { try t.library.get(id, to: out) }
        _ = try t.library.get(String(id.prefix(10)), to: out, overwrite: true)
    }

    @Test func unknownAndMalformedIDsAreClearErrors() throws {
        let t = try TestLibrary(stores: 1)
        do { _ = try t.library.get("not an id!", to: t.folder.at("x")); Issue.record("expected error") } catch let e as TroveError {
            #expect(e.code == .malformedID)
        }
        let unknown = ContentHash.hash([1, 2, 3]).id.description
        do { _ = try t.library.get(unknown, to: t.folder.at("x")); Issue.record("expected error") } catch let e as TroveError {
            #expect(e.code == .unknownFile)
        }
    }

    @Test func verifyNamesTheCorruptLeafAndQuarantines() throws {
        let t = try TestLibrary(stores: 1)
        let bytes = testBytes(2 * ContentHash.leafSize + 10)
        let id = try t.library.importPaths([t.folder.file("two-leaves.bin", bytes)]).imported[0].id
        try flipBit(in: t.objectPath(id, store: 0), at: ContentHash.leafSize + 5)
        let report = try t.library.verify(storeLabel: "drive0")[0]
        #expect(report.corrupt.count == 1)
        #expect(report.corrupt[0].leaf == 1)
        #expect(!FileManager.default.fileExists(atPath: t.objectPath(id, store: 0)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: t.folder.at("drive0/.trove/corrupt")).count == 1)
        let event = try #require(try t.events(.corruptCopy).first)
        #expect(event.details["leaf"] == .number(1))
        #expect(event.fileID?.description == id)
        // The suspect drive is downgraded and gets no new copies.
        let store = try t.library.storeRecord("drive0")
        #expect(store.trust == .downgraded)
        #expect(store.noNewCopies)
        #expect(try t.library.catalog.copies(of: ContentID(id)!).isEmpty)
    }

    @Test func getFallsBackToAGoodCopy() throws {
        let t = try TestLibrary(stores: 2)
        let bytes = testBytes(500_000)
        let id = try t.library.importPaths([t.folder.file("f", bytes)], options: ImportOptions(mirror: 2)).imported[0].id
        t.inject(.flipBit(offset: 1000), into: "drive0")
        t.inject(.flipBit(offset: 1000), into: "drive1")
        do { _ = try t.library.get(id, to: t.folder.at("bad")); Issue.record("expected no good copy") } catch let e as TroveError {
            #expect(e.code == .noGoodCopy)
        }
        #expect(!FileManager.default.fileExists(atPath: t.folder.at("bad")))
    }

    @Test func corruptFirstCopyIsSkippedOnGet() throws {
        let t = try TestLibrary(stores: 2)
        let bytes = testBytes(500_000, seed: 9)
        let id = try t.library.importPaths([t.folder.file("f", bytes)], options: ImportOptions(mirror: 2)).imported[0].id
        try flipBit(in: t.objectPath(id, store: 0), at: 10)
        try flipBit(in: t.objectPath(id, store: 1), at: 10)
        try flipBit(in: t.objectPath(id, store: 1), at: 10)  // flipped back: drive1 is good again
        let report = try t.library.get(id, to: t.folder.at("good"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: t.folder.at("good"))) == Data(bytes))
        #expect(report.store == "drive1" || report.badCopies.count == 1)
    }

    @Test func reattachingAStoreAdoptsItsObjects() throws {
        let t = try TestLibrary(stores: 1)
        let ids = try t.library.importPaths([t.folder.file("a", testBytes(1000)), t.folder.file("b", testBytes(2000))]).imported.map(\.id)
        let fresh = try Library.create(at: t.folder.at("library2"))
        let (record, adoption) = try fresh.addStore(folder: t.folder.at("drive0"), label: nil)
        #expect(record.label == "drive0")
        #expect(adoption?.new == 2)
        for id in ids { #expect(try fresh.catalog.copies(of: ContentID(id)!).count == 1) }
        #expect(try LocalStore.open(at: t.folder.at("drive0"))?.objectIDs().count == 2)
    }

    @Test func checkRecordsEventsForTamperedRecords() throws {
        let t = try TestLibrary(stores: 1)
        _ = try t.library.importPaths([t.folder.file("a", testBytes(1000))])
        #expect(try t.library.checkCatalog().ok)
        let db = t.folder.at("library/catalog.sqlite")
        try DatabaseQueue(path: db).write { try $0.execute(sql: "UPDATE files SET size = size + 1") }
        let report = try t.library.checkCatalog()
        // The file's ID no longer matches its size, and its store's byte total no longer adds up.
        #expect(report.failures.map(\.table).sorted() == ["files", "stores"])
        #expect(try t.events(.consistencyFailure).count == 2)
    }
}

import Foundation
import Testing
import TroveCore
import TroveEngine
import TroveStorage
import TroveTesting

struct DurabilityTests {
    func importSample(_ t: TestLibrary, files: Int = 4) throws -> [String] {
        let src = t.folder.folder("src")
        for i in 0..<files { t.folder.file("src/f\(i)", testBytes(100_000 + i * 1000, seed: UInt64(i + 1))) }
        return try t.library.importPaths([src]).imported.map(\.id)
    }

    @Test func healBringsEveryFileToTheTarget() throws {
        let t = try TestLibrary(stores: 3)
        _ = try importSample(t)
        #expect(try t.library.status().alerts.map(\.kind) == ["low_durability"])
        let report = try t.library.heal()
        #expect(report.copiesMade == 8)
        #expect(report.stillBelowTarget == 0)
        let status = try t.library.status()
        #expect(status.durability.keys.sorted() == [3])
        #expect(status.alerts.isEmpty)
        #expect(status.exitCode == 0)
        #expect(try t.events(.copyCreated).count == 8)
        // A second pass has nothing to do.
        #expect(try t.library.heal().copiesMade == 0)
    }

    @Test func everyStuckFileOfALongPassIsRecorded() throws {
        // Stuck files are spooled and recorded in chunks of 4,096: all 5,000 must reach status.
        let t = try TestLibrary(stores: 2)
        let src = t.folder.folder("src")
        for i in 0..<5_000 { t.folder.file("src/f\(i)", Array("file \(i)".utf8)) }
        _ = try t.library.importPaths([src], options: ImportOptions(listFiles: false))
        let report = try t.library.heal()
        #expect(report.filesBelowTarget == 5_000)
        #expect(report.copiesMade == 5_000, "each file gets its second store")
        let stuck = try t.library.catalog.stuckGroups(target: report.target)
        #expect(stuck.map(\.files).reduce(0, +) == 5_000, "every file still below 3 copies says why")
    }

    @Test func corruptionIsHealedFromGoodCopies() throws {
        let t = try TestLibrary(stores: 4)
        let ids = try importSample(t, files: 2)
        _ = try t.library.heal()
        // Find a store holding the first file and rot it there.
        let id = ids[0]
        let index = try #require((0..<4).first { FileManager.default.fileExists(atPath: t.objectPath(id, store: $0)) })
        try flipBit(in: t.objectPath(id, store: index), at: 50)
        let verify = try t.library.verify(storeLabel: "drive\(index)")
        #expect(verify[0].corrupt.count == 1)
        var status = try t.library.status()
        #expect(status.alerts.contains { $0.kind == "drive_failure" && $0.storeLabel == "drive\(index)" })
        #expect(status.exitCode == 2)
        _ = try t.library.heal()
        status = try t.library.status()
        // Durability is back at 3 on the other stores, but the failure stays until acknowledged.
        #expect(status.durability.keys.sorted() == [3])
        #expect(status.alerts.map(\.kind) == ["drive_failure"])
        try t.library.acknowledgeDriveFailure("drive\(index)")
        #expect(try t.library.status().alerts.isEmpty)
    }

    @Test func unseenStoreIsDowngradedThenPurged() throws {
        let t = try TestLibrary(stores: 3)
        _ = try importSample(t, files: 2)
        _ = try t.library.heal()
        try FileManager.default.moveItem(atPath: t.folder.at("drive2"), toPath: t.folder.at("away"))
        t.clock.advance(days: 4)
        var status = try t.library.status()
        #expect(try t.library.storeRecord("drive2").trust == .downgraded)
        #expect(try t.events(.storeDowngraded).first?.details["count"] == .number(2))
        #expect(status.durability.keys.sorted() == [2])
        t.clock.advance(days: 5)
        status = try t.library.status()
        #expect(try t.library.storeRecord("drive2").trust == .purged)
        #expect(try t.events(.storePurged).first?.details["count"] == .number(2))
        // Nothing wrote the library's records to the stores in those 9 days: status says so too.
        #expect(status.alerts.map(\.kind) == ["stale_catalog_backup", "insufficient_storage"])
    }

    @Test func returningStoreCountsOnlyAfterReverifying() throws {
        let t = try TestLibrary(stores: 3)
        _ = try importSample(t, files: 1)
        _ = try t.library.heal()
        try FileManager.default.moveItem(atPath: t.folder.at("drive1"), toPath: t.folder.at("away"))
        t.clock.advance(days: 4)
        _ = try t.library.status()
        try FileManager.default.moveItem(atPath: t.folder.at("away"), toPath: t.folder.at("drive1"))
        let back = try t.library.status()
        #expect(try t.library.storeRecord("drive1").trust == .trusted)
        #expect(back.durability.keys.sorted() == [2])
        let heal = try t.library.heal()
        #expect(heal.copiesReverified == 1)
        #expect(heal.copiesMade == 0)
        #expect(try t.library.status().durability.keys.sorted() == [3])
    }

    @Test func disconnectedSoleCopyNamesTheDrive() throws {
        let t = try TestLibrary(stores: 3)
        _ = try t.library.importPaths([t.folder.file("only", testBytes(1000))], options: ImportOptions(store: "drive1"))
        try FileManager.default.moveItem(atPath: t.folder.at("drive1"), toPath: t.folder.at("away"))
        let status = try t.library.status()
        let alert = try #require(status.alerts.first { $0.kind == "disconnected_drive" })
        #expect(alert.storeLabel == "drive1")
        #expect(alert.files == 1)
        #expect(alert.message.contains("last seen on this machine (\(DiskIdentity.machineName()))"), "\(alert.message)")
        #expect(try t.library.storeRecord("drive1").machine == DiskIdentity.machineName())
        #expect(status.exitCode == 2)
    }

    @Test func aFailingDestinationIsDroppedOnceAndTheOthersStillHeal() throws {
        let t = try TestLibrary(stores: 3)
        let src = t.folder.folder("src")
        for i in 0..<30 { t.folder.file("src/f\(i)", testBytes(2_000 + i, seed: UInt64(i + 1))) }
        _ = try t.library.importPaths([src], options: ImportOptions(store: "drive0"))
        t.inject(.failWrites, into: "drive2")
        let report = try t.library.heal()
        // Every file got its copy on drive1; drive2 failed, was dropped and downgraded once.
        #expect(report.copiesMade == 30)
        #expect(report.stillBelowTarget == 30)
        #expect(try t.library.storeRecord("drive2").trust == .downgraded)
        #expect(try t.events(.storeDowngraded).count == 1)
        #expect(try t.events(.writeFailed).count == 1)
        #expect(try t.events(.copyCreated).count == 30)
        #expect(try t.library.checkCatalog().ok)
        #expect(try t.library.verify().allSatisfy(\.clean))
    }

    /// A store that commits each object alone (object storage, a peer) has each copy committed
    /// as soon as it is written; one refused upload costs that copy only, not the other files
    /// healed with it. (Files too large for packs: a pack is one upload, see PackEngineTests.)
    @Test func oneRefusedUploadCostsOnlyItsOwnCopy() throws {
        let t = try TestLibrary(stores: 2)
        let src = t.folder.folder("src")
        for i in 0..<30 { t.folder.file("src/f\(i)", testBytes(Int(PackingStore.remoteThreshold) + i, seed: UInt64(i + 1))) }
        let imported = try t.library.importPaths([src], options: ImportOptions(store: "drive0")).imported
        let refused = imported[7].id
        t.inject(.failCommitOf(try #require(ContentID(refused))), into: "drive1")
        let report = try t.library.heal()
        #expect(report.copiesMade == 29)
        #expect(report.problems.count == 1 && report.problems[0].contains(refused.description), "\(report.problems)")
        #expect(try t.events(.copyCreated).count == 29)
        #expect(try t.library.checkCatalog().ok)
    }

    @Test func sourceVanishingMidCopyLeavesNoPartialCopy() throws {
        let t = try TestLibrary(stores: 2)
        let id = try t.library.importPaths([t.folder.file("big", testBytes(3 * ContentHash.leafSize))],
                                           options: ImportOptions(store: "drive0")).imported[0].id
        t.inject(.vanishAfter(bytes: ContentHash.leafSize), into: "drive0")
        let report = try t.library.heal()
        #expect(report.copiesMade == 0)
        #expect(report.problems.count == 1)
        // The destination is not blamed for the source's disappearance.
        #expect(try t.library.storeRecord("drive1").trust == .trusted)
        #expect(try t.events(.writeFailed).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: t.objectPath(id, store: 1)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: t.folder.at("drive1/.trove/tmp")).isEmpty)
        #expect(try t.library.checkCatalog().ok)
    }

    @Test func wipedDriveIsPurgedAtOnce() throws {
        let t = try TestLibrary(stores: 2)
        _ = try importSample(t, files: 1)
        // Simulate a reformat: same filesystem UUID, store gone.
        var record = try t.library.storeRecord("drive0")
        record.filesystemUUID = "fake-uuid"
        try t.library.catalog.apply([.saveStore(record)])
        try FileManager.default.removeItem(atPath: t.folder.at("drive0/.trove"))
        t.library.locate = { record in
            if record.label == "drive0" { return .wiped(reason: "reformatted (test)") }
            return t.library.registry.observe(record)
        }
        _ = try t.library.status()
        #expect(try t.library.storeRecord("drive0").trust == .purged)
    }
}

struct PacingTests {
    final class Sleeps: @unchecked Sendable {
        let lock = NSLock()
        var values: [TimeInterval] = []
        func add(_ value: TimeInterval) { lock.lock(); values.append(value); lock.unlock() }
    }

    @Test func healWaitsToStayUnderTheLimit() throws {
        let t = try TestLibrary(stores: 3)
        for i in 0..<3 { t.folder.file("src/f\(i)", testBytes(100_000, seed: UInt64(i))) }
        _ = try t.library.importPaths([t.folder.at("src")])
        let sleeps = Sleeps()
        // 100 kB/s, and nothing imported recently by the manual clock's reckoning of "now".
        t.clock.advance(days: 1)
        let report = try t.library.heal(options: HealOptions(bandwidthLimit: 100_000, sleep: { sleeps.add($0) }))
        #expect(report.copiesMade == 6)
        #expect(!sleeps.values.isEmpty)
        // 600 kB copied at 100 kB/s: about 6 s of pacing in all.
        #expect(sleeps.values.last! > 4)
    }

    @Test func gcIsRefusedDuringARecovery() throws {
        let t = try TestLibrary(stores: 1)
        let lock = try LibraryLock.acquire(.recovery, in: t.library.path, exclusive: true, wait: false)
        #expect(lock != nil)
        do {
            _ = try t.library.gc(dryRun: true)
            Issue.record("gc ran during a recovery")
        } catch let error as TroveError {
            #expect(error.code == .busy)
        }
        withExtendedLifetime(lock) {}
    }
}

struct StartupAndServeTests {
    @Test func aStoreThatHangsNeverBlocksStartUp() throws {
        let t = try TestLibrary(stores: 2)
        // A second of patience: the healthy store must answer within it even on a loaded machine
        // (the suite runs scenario tests in parallel); the hanging one takes ten.
        t.library.storeTimeout = 1
        let slow = t.stores[1].label
        t.library.locate = { record in
            if record.label == slow { Thread.sleep(forTimeInterval: 10) }
            return t.library.registry.observe(record)
        }
        let started = Date()
        let observed = try t.library.observeStores()
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(observed.first { $0.record.label == slow }?.isConnected == false)
        #expect(observed.first { $0.record.label != slow }?.isConnected == true)
    }

    @Test func serveHealsOntoAStoreAddedWhileItRuns() throws {
        let t = try TestLibrary(stores: 2)
        _ = try t.library.importPaths([t.folder.file("a", testBytes(5000))])
        var options = ServeOptions()
        options.interval = 0.2
        let done = DispatchSemaphore(value: 0)
        let library = t.library
        let serveOptions = options
        let added = Flag()
        let deadline = Date() + 60
        // Serve until the late store holds its copy (or a generous deadline on a loaded machine).
        Thread.detachNewThread {
            library.serve(serveOptions, shouldStop: {
                Date() > deadline || (added.isSet && (try? library.catalog.summary().durability.keys.sorted()) == [3])
            })
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.5)
        _ = try t.library.addStore(folder: t.folder.folder("late"), label: "late", disk: "late")
        added.set()
        done.wait()
        #expect(try t.library.status().durability.keys.sorted() == [3])
    }
}

/// A flag set by one thread and read by another.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

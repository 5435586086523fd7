import Testing
import Foundation
import TroveCore
import TrovePostgres
import TroveStorage
import TroveTesting

/// The catalog contract, run against every catalog kind.
@Suite struct CatalogConformanceTests {
    @Test(arguments: CatalogKindUnderTest.allCases)
    func recordsRoundTrip(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.recordsRoundTrip(subject.catalog)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: CatalogKindUnderTest.allCases)
    func copiesOfAGroup(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.copiesOfAGroup(subject.catalog)
        withExtendedLifetime(subject) {}
    }

    /// Additions interleaved file by file are regrouped files first, each kind in its order;
    /// anything else stays a run of its own, where it was.
    @Test func changesAreRegroupedIntoRunsOfOneKind() {
        let (a, b) = (CatalogConformance.sampleFile(1, seed: 1), CatalogConformance.sampleFile(2, seed: 2))
        func copy(_ file: FileRecord, _ store: String) -> CatalogChange {
            .saveCopy(CopyRecord(fileID: file.id, storeID: store, copies: 1, mtime: CatalogConformance.now, verified: nil))
        }
        func name(_ change: CatalogChange) -> String {
            switch change {
            case .insertFile(let f): "file \(f.size)"
            case .saveCopy(let c): "copy \(c.storeID)"
            case .event(let e): "event \(e.kind.rawValue)"
            case .removeCopy(_, let store): "remove \(store)"
            default: "other"
            }
        }
        let event = CatalogChange.event(Event(time: CatalogConformance.now, kind: .copyCreated))
        let runs = CatalogChange.runs([.insertFile(a), copy(a, "s1"), event, .insertFile(b), copy(b, "s2"),
                                       .removeCopy(file: a.id, store: "s1"), copy(b, "s3")])
        #expect(runs.map { $0.map(name) } == [["file 1", "file 2"], ["copy s1", "copy s2"], ["event copy_created"], ["remove s1"], ["copy s3"]])
    }

    @Test(arguments: CatalogKindUnderTest.allCases)
    func manyAdditionsAtOnce(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.manyAdditionsAtOnce(subject.catalog)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: CatalogKindUnderTest.allCases)
    func failedChangeLeavesNothing(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.failedChangeLeavesNothing(subject.catalog)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: CatalogKindUnderTest.allCases)
    func eventsInOrder(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.eventsInOrder(subject.catalog)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: CatalogKindUnderTest.allCases)
    func durabilityFollowsTheRule(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.durabilityFollowsTheRule(subject.catalog)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: CatalogKindUnderTest.allCases)
    func snapshotIndexAndFind(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.snapshotIndexAndFind(subject.catalog)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: CatalogKindUnderTest.allCases)
    func snapshotsMergeAcrossPages(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.snapshotsMergeAcrossPages(subject.catalog)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: CatalogKindUnderTest.allCases)
    func aStaleBasisIsNotTrusted(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.aStaleBasisIsNotTrusted(subject.catalog)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: CatalogKindUnderTest.allCases)
    func journalFollowsEveryChange(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.journalFollowsEveryChange(subject.catalog)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: CatalogKindUnderTest.allCases)
    func concurrentWriters(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.concurrentWriters(subject)
        withExtendedLifetime(subject) {}
    }

    @Test func postgresqlLocksHoldAcrossConnections() throws {
        try CatalogConformance.sharedLocksExclude(try CatalogKindUnderTest.postgresql.make())
    }

    @Test(arguments: CatalogKindUnderTest.allCases)
    func copiesInPages(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.copiesInPages(subject.catalog)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: CatalogKindUnderTest.allCases)
    func alertInputs(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.alertInputs(subject.catalog)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: CatalogKindUnderTest.allCases)
    func journalReadSurvivesWrites(_ kind: CatalogKindUnderTest) throws {
        let subject = try kind.make()
        try CatalogConformance.journalReadSurvivesWrites(subject.catalog)
        withExtendedLifetime(subject) {}
    }

    @Test func aLostLockConnectionStopsTheHolder() throws {
        let subject = try CatalogKindUnderTest.postgresql.make()
        guard let catalog = subject.catalog as? PostgresCatalog else { return }
        let held = try catalog.acquireLock("activity", exclusive: true, wait: false)
        #expect(held != nil)
        #expect(try PostgresAdmin.endLockHolders(on: catalog.url) == 1)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(throws: TroveError.self) { _ = try catalog.setting("library_id") }
        withExtendedLifetime(held) {}
    }
}

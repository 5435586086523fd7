import Testing
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
}

import Testing
import TroveStorage
import TroveTesting

/// The one conformance suite, run against every kind of store (docs/store-contract.md).
@Suite(.serialized) struct StoreConformanceTests {
    @Test(arguments: StoreKindUnderTest.allCases)
    func roundTripAtLeafBoundaries(_ kind: StoreKindUnderTest) throws {
        let subject = try kind.make()
        try StoreConformance.roundTripAtLeafBoundaries(subject.store)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: StoreKindUnderTest.allCases)
    func rangedReads(_ kind: StoreKindUnderTest) throws {
        let subject = try kind.make()
        try StoreConformance.rangedReads(subject.store)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: StoreKindUnderTest.allCases)
    func listingWithPagination(_ kind: StoreKindUnderTest) throws {
        let subject = try kind.make()
        try StoreConformance.listingWithPagination(subject.store)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: StoreKindUnderTest.allCases)
    func atomicVisibility(_ kind: StoreKindUnderTest) throws {
        let subject = try kind.make()
        try StoreConformance.atomicVisibility(subject.store)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: StoreKindUnderTest.allCases)
    func concurrentWritersOfOneID(_ kind: StoreKindUnderTest) throws {
        let subject = try kind.make()
        try StoreConformance.concurrentWritersOfOneID(subject.store)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: StoreKindUnderTest.allCases)
    func removalAndQuarantine(_ kind: StoreKindUnderTest) throws {
        let subject = try kind.make()
        try StoreConformance.removalAndQuarantine(subject.store)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: StoreKindUnderTest.allCases)
    func typedErrors(_ kind: StoreKindUnderTest) throws {
        let subject = try kind.make()
        try StoreConformance.typedErrors(subject)
        withExtendedLifetime(subject) {}
    }

    @Test(arguments: StoreKindUnderTest.allCases)
    func namedRecords(_ kind: StoreKindUnderTest) throws {
        let subject = try kind.make()
        try StoreConformance.namedRecords(subject)
        withExtendedLifetime(subject) {}
    }
}

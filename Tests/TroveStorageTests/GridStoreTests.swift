import Foundation
import Testing
import TroveCore
import TroveStorage
import TroveStores
import TroveTesting

/// The grid store beyond the conformance suite: reads from any k shares, named corrupt shares,
/// repair at the threshold (and never of a good share), happiness, rebalancing.
@Suite struct GridStoreTests {
    let leaf = ContentHash.leafSize

    func modified(_ path: String) throws -> Date {
        try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as! Date
    }

    @Test func anyKSharesGiveTheObjectBack() throws {
        let fixture = try GridFixture(k: 3, n: 6, members: 6)
        let grid = try fixture.open()
        let id = StoreConformance.randomID()
        let bytes = StoreConformance.bytes(2 * leaf + 12_345, seed: 9)
        try StoreConformance.put(bytes, as: id, in: grid)
        // Every choice of 3 lost members out of 6 leaves 3 shares, enough.
        for lost in [[0, 1, 2], [3, 4, 5], [0, 2, 4], [1, 3, 5]] {
            let moved = try lost.map { index -> (String, String) in
                let path = try fixture.sharePath(index, id)
                try FileManager.default.moveItem(atPath: path, toPath: path + ".away")
                return (path, path + ".away")
            }
            #expect(try StoreConformance.get(id, from: try fixture.open()) == bytes, "lost \(lost)")
            #expect(try StoreConformance.get(id, from: try fixture.open(), range: UInt64(leaf - 5)..<UInt64(leaf + 70)) == Array(bytes[(leaf - 5)..<(leaf + 70)]))
            for (from, to) in moved { try FileManager.default.moveItem(atPath: to, toPath: from) }
        }
        // A fourth loss leaves two: the object is gone from this grid, and the read says so.
        for index in 0..<4 { try FileManager.default.removeItem(atPath: try fixture.sharePath(index, id)) }
        #expect(throws: ObjectCorrupt.self) { _ = try StoreConformance.get(id, from: try fixture.open()) }
    }

    @Test func aCorruptByteIsNamedAgainstItsMemberAndReadsGoOn() throws {
        let fixture = try GridFixture(k: 3, n: 5, members: 5)
        let id = StoreConformance.randomID()
        let bytes = StoreConformance.bytes(leaf + 999, seed: 4)
        try StoreConformance.put(bytes, as: id, in: try fixture.open())
        // Flip a byte in the middle of member 2's share (in its data blocks).
        let path = try fixture.sharePath(2, id)
        var share = [UInt8](FileManager.default.contents(atPath: path)!)
        share[share.count / 3] ^= 0x40
        try Data(share).write(to: URL(fileURLWithPath: path))
        let grid = try fixture.open()
        #expect(try StoreConformance.get(id, from: grid) == bytes, "reads skip the bad share")
        let audit = try grid.audit(id, fromMedia: true, repair: .none)
        #expect(audit.good == 4)
        #expect(audit.problems.count == 1 && audit.problems[0].hasPrefix("m2: share corrupt (block"), "\(audit.problems)")
        // 4 good shares of 3-of-5 on five disks: losing 2 disks more leaves 2 < 3, so worth 2.
        #expect(audit.weight == 2)
        #expect(grid.fullWeight == 3)
    }

    @Test func repairWaitsForTheThresholdAndNeverRewritesAGoodShare() throws {
        // 3-of-10 repairs at 7 good shares (halfway).
        let fixture = try GridFixture(k: 3, n: 10, members: 10)
        #expect(fixture.record.config.grid?.repairAt == 7)
        let id = StoreConformance.randomID()
        let bytes = StoreConformance.bytes(leaf / 2, seed: 5)
        try StoreConformance.put(bytes, as: id, in: try fixture.open())
        try FileManager.default.removeItem(atPath: try fixture.sharePath(0, id))
        var audit = try fixture.open().audit(id, fromMedia: false, repair: .atThreshold)
        #expect(audit.good == 9 && audit.repaired.isEmpty && audit.weight == 7, "one loss is not repaired")
        for index in 1...2 { try FileManager.default.removeItem(atPath: try fixture.sharePath(index, id)) }
        let before = try (3..<10).map { try modified(try fixture.sharePath($0, id)) }
        Thread.sleep(forTimeInterval: 0.02)
        audit = try fixture.open().audit(id, fromMedia: false, repair: .atThreshold)
        #expect(audit.good == 10 && audit.repaired == ["m0", "m1", "m2"] && audit.weight == 8)
        #expect(try (3..<10).map { try modified(try fixture.sharePath($0, id)) } == before, "good shares untouched")
        // The repaired shares alone (with any other) give the object back.
        for index in 3..<10 { try FileManager.default.removeItem(atPath: try fixture.sharePath(index, id)) }
        #expect(try StoreConformance.get(id, from: try fixture.open()) == bytes)
    }

    @Test func anUploadCountsOnlyOnHappyDisks() throws {
        let fixture = try GridFixture(k: 2, n: 4, members: 4, happy: 4)
        // One member's drive fails at commit: three disks hold shares, four are needed.
        let grid = try fixture.open(wrapping: [1: { FaultyStore($0, fault: .failCommits) }])
        let id = StoreConformance.randomID()
        #expect(throws: StoreError.self) { try StoreConformance.put(StoreConformance.bytes(5000, seed: 1), as: id, in: grid) }
        // With happiness 3 the same failure still counts, and the object reads back.
        let lenient = try GridFixture(k: 2, n: 4, members: 4, happy: 3)
        let other = try lenient.open(wrapping: [1: { FaultyStore($0, fault: .failCommits) }])
        try StoreConformance.put(StoreConformance.bytes(5000, seed: 1), as: id, in: other)
        #expect(try StoreConformance.get(id, from: try lenient.open()) == StoreConformance.bytes(5000, seed: 1))
        #expect(try lenient.open().audit(id, fromMedia: true, repair: .none).good == 3)
    }

    @Test func aMemberVanishingMidReadIsReplacedByAnother() throws {
        let fixture = try GridFixture(k: 2, n: 4, members: 4)
        let id = StoreConformance.randomID()
        let bytes = StoreConformance.bytes(3 * leaf, seed: 8)
        try StoreConformance.put(bytes, as: id, in: try fixture.open())
        // Members 0 and 1 come first in read order; 0 vanishes a little way into its share.
        let grid = try fixture.open(wrapping: [0: { FaultyStore($0, fault: .vanishAfter(bytes: 100_000)) }])
        #expect(try StoreConformance.get(id, from: grid) == bytes)
    }

    @Test func tooFewSharesWithMembersAwayIsUnreachableNotCorrupt() throws {
        let fixture = try GridFixture(k: 3, n: 5, members: 5)
        let id = StoreConformance.randomID()
        try StoreConformance.put(StoreConformance.bytes(50_000, seed: 2), as: id, in: try fixture.open())
        try FileManager.default.removeItem(atPath: try fixture.sharePath(2, id))
        // Two shares here, two members out of reach: the copy may be whole, so it is not corrupt.
        let away = try fixture.open(wrapping: [3: { FaultyStore($0, fault: .unavailable) }, 4: { FaultyStore($0, fault: .unavailable) }])
        #expect(StoreConformance.kind { _ = try StoreConformance.get(id, from: away) } == .unavailable)
        // The same when a member goes away in the middle of the read.
        let vanishing = FaultyStore(try #require(try LocalStore.open(at: fixture.shareFolder(0))), fault: .latency(seconds: 0))
        let midway = try fixture.open(wrapping: [0: { _ in vanishing }, 4: { FaultyStore($0, fault: .unavailable) }])
        let reader = try midway.openReader(id, range: nil, fromMedia: false)
        vanishing.fault = .unavailable
        var buffer = [UInt8](repeating: 0, count: 1000)
        #expect(StoreConformance.kind { _ = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) } } == .unavailable)
        #expect(throws: ObjectCorrupt.self) {
            for index in [3, 4] { try FileManager.default.removeItem(atPath: try fixture.sharePath(index, id)) }
            _ = try StoreConformance.get(id, from: try fixture.open())
        }
    }

    @Test func repairNeverTakesTheNumberOfAMemberOutOfReach() throws {
        // 3-of-8 repairs at 6 good shares.
        let fixture = try GridFixture(k: 3, n: 8, members: 8)
        let id = StoreConformance.randomID()
        let bytes = StoreConformance.bytes(70_000, seed: 3)
        try StoreConformance.put(bytes, as: id, in: try fixture.open())
        for index in 0..<2 { try FileManager.default.removeItem(atPath: try fixture.sharePath(index, id)) }
        let away = try fixture.open(wrapping: [7: { FaultyStore($0, fault: .unavailable) }])
        let audit = try away.audit(id, fromMedia: false, repair: .atThreshold)
        #expect(audit.good == 7 && audit.repaired == ["m0", "m1"] && audit.unreachable.count == 1, "\(audit)")
        // Back in reach, member 7's share is still the only one of its number: eight distinct shares.
        let back = try fixture.open().audit(id, fromMedia: true, repair: .none)
        #expect(back.good == 8 && back.problems.isEmpty, "\(back.problems)")
    }

    @Test func aGrowingGridRebalancesOntoNewMembers() throws {
        let fixture = try GridFixture(k: 3, n: 10, members: 10)
        let small = try fixture.open(wrapping: [:], members: 5)
        let id = StoreConformance.randomID()
        let bytes = StoreConformance.bytes(leaf + 1, seed: 6)
        try StoreConformance.put(bytes, as: id, in: small)
        #expect(try small.audit(id, fromMedia: false, repair: .none).weight == 3)
        let grown = try fixture.open()
        let before = try (0..<5).map { try modified(try fixture.sharePath($0, id)) }
        let audit = try grown.audit(id, fromMedia: false, repair: .fill)
        #expect(audit.repaired == ["m5", "m6", "m7", "m8", "m9"] && audit.good == 10 && audit.weight == 8)
        #expect(try (0..<5).map { try modified(try fixture.sharePath($0, id)) } == before)
        // Any three of the ten now do.
        for index in [0, 1, 2, 3, 5, 6, 8] { try FileManager.default.removeItem(atPath: try fixture.sharePath(index, id)) }
        #expect(try StoreConformance.get(id, from: try fixture.open()) == bytes)
    }
}

import Crypto
import Foundation
import Testing
import TroveCore
import TroveStorage
@testable import TroveStores
import TroveTesting

/// Signed mutable heads on a grid (Tahoe #207's list): out-of-date and rolled-back members,
/// two writers at once, tampered shares, members vanishing mid-publish and mid-read.
@Suite struct GridHeadTests {
    let name = RecordName("library-head")!

    func copyRecords(of fixture: GridFixture, _ index: Int, to place: String) throws {
        try? FileManager.default.removeItem(atPath: place)
        try FileManager.default.copyItem(atPath: fixture.shareFolder(index) + "/.trove/records", toPath: place)
    }

    func restoreRecords(of fixture: GridFixture, _ index: Int, from place: String) throws {
        let records = fixture.shareFolder(index) + "/.trove/records"
        try FileManager.default.removeItem(atPath: records)
        try FileManager.default.copyItem(atPath: place, toPath: records)
    }

    @Test func aHeadIsSignedVersionedAndReadBack() throws {
        let fixture = try GridFixture(k: 3, n: 6, members: 6)
        let grid = try fixture.open()
        #expect(try grid.readRecord(name) == nil)
        let first = try grid.publishHead(name, payload: Array("one".utf8), key: try grid.signingKey())
        #expect(first.head.seq == 1 && first.members.count == 6 && first.collisions == 0)
        // A read of the pointer and a probe above it on 2k members, then a slot and a pointer per member.
        #expect(first.roundTrips == 6 * 2 + 6 * 2, "\(first.roundTrips)")
        let second = try grid.publishHead(name, payload: Array("two".utf8), key: try grid.signingKey())
        #expect(second.head.seq == 2)
        let reading = try fixture.open().readHead(name, publicKey: Array(try grid.signingKey().publicKey.rawRepresentation))
        #expect(reading.head?.payload == Array("two".utf8) && reading.behind.isEmpty && reading.bad.isEmpty)
        #expect(reading.answered == 6 && reading.roundTrips == 12)
        // Another key's heads do not count.
        let stranger = try fixture.open().readHead(name, publicKey: Array(Curve25519.Signing.PrivateKey().publicKey.rawRepresentation))
        #expect(stranger.head == nil && stranger.bad.count == 6)
    }

    @Test func rolledBackMembersAreOutvotedAndNamed() throws {
        let fixture = try GridFixture(k: 3, n: 6, members: 6)
        let grid = try fixture.open()
        _ = try grid.publishHead(name, payload: Array("old".utf8), key: try grid.signingKey())
        for index in 0..<2 { try copyRecords(of: fixture, index, to: fixture.folder.at("old\(index)")) }
        _ = try grid.publishHead(name, payload: Array("new".utf8), key: try grid.signingKey())
        // Two members (fewer than k = 3) collude to roll the head back.
        for index in 0..<2 { try restoreRecords(of: fixture, index, from: fixture.folder.at("old\(index)")) }
        let reading = try fixture.open().readHead(name, publicKey: Array(try grid.signingKey().publicKey.rawRepresentation))
        #expect(reading.head?.payload == Array("new".utf8))
        #expect(reading.behind == ["m0 (head 1, newest 2)", "m1 (head 1, newest 2)"], "\(reading.behind)")
        // Repair puts the newest head back on them under the same sequence number.
        let repair = try fixture.open().repairHead(name, publicKey: Array(try grid.signingKey().publicKey.rawRepresentation))
        #expect(Set(repair.replaced) == ["m0", "m1"])
        let after = try fixture.open().readHead(name, publicKey: Array(try grid.signingKey().publicKey.rawRepresentation), askAll: true)
        #expect(after.head?.seq == 2 && after.behind.isEmpty)
    }

    @Test func aTamperedShareIsNamedAndRepaired() throws {
        let fixture = try GridFixture(k: 2, n: 4, members: 4)
        let grid = try fixture.open()
        _ = try grid.publishHead(name, payload: Array(repeating: 7, count: 500), key: try grid.signingKey())
        let store = try #require(try LocalStore.open(at: fixture.shareFolder(3)))
        var share = try #require(try store.readRecord(name))
        share[share.count - 10] ^= 0xFF
        try store.writeRecord(name, share)
        try store.writeRecord(GridStore.slot(name, 1), share)
        let key = Array(try grid.signingKey().publicKey.rawRepresentation)
        let reading = try fixture.open().readHead(name, publicKey: key, askAll: true)
        #expect(reading.head?.payload == Array(repeating: 7, count: 500))
        #expect(reading.bad.count == 1 && reading.bad[0].hasPrefix("m3:"), "\(reading.bad)")
        #expect(try fixture.open().repairHead(name, publicKey: key).replaced == ["m3"])
        #expect(try fixture.open().readHead(name, publicKey: key, askAll: true).bad.isEmpty)
    }

    @Test func twoWritersAtOnceLeaveOneWinnerAndNoLostVersion() throws {
        let fixture = try GridFixture(k: 2, n: 4, members: 4)
        let a = try fixture.open(), b = try fixture.open()
        let key = try fixture.registry.headKey()
        let publicKey = Array(key.publicKey.rawRepresentation)
        _ = try a.publishHead(name, payload: Array("base".utf8), key: key)
        // Both read head 1, then A takes slot 2 on every member before B writes.
        let bRead = try b.readHead(name, publicKey: publicKey)
        let fromA = try a.publishHead(name, payload: Array("from A".utf8), key: key)
        #expect(fromA.head.seq == 2 && fromA.collisions == 0)
        let fromB = try b.publishHead(name, payload: Array("from B".utf8), key: key, lastRead: bRead)
        #expect(fromB.collisions == 1, "B saw the collision")
        #expect(fromB.head.seq > 2)
        // One winner for every reader, and both versions kept in order.
        let reading = try fixture.open().readHead(name, publicKey: publicKey, askAll: true)
        #expect(reading.head?.payload == Array("from B".utf8) && reading.collisions.isEmpty)
        let slotA = try #require(try LocalStore.open(at: fixture.shareFolder(0))?.readRecord(GridStore.slot(name, 2)))
        #expect(HeadShare(slotA)?.seq == 2)
        // Heads published at the same number by both (each holding k members): readers see the
        // collision and take the higher root; republishing above leaves one winner.
        let c = try fixture.open(), d = try fixture.open()
        let cHead = try SignedHead.make(name: name.description, seq: 9, payload: Array("C".utf8), key: key)
        let dHead = try SignedHead.make(name: name.description, seq: 9, payload: Array("D".utf8), key: key)
        var trips = 0
        _ = try c.place(cHead, name: name, trips: &trips, only: [0, 1])
        _ = try d.place(dHead, name: name, trips: &trips, only: [2, 3])
        let split = try fixture.open().readHead(name, publicKey: publicKey, askAll: true)
        #expect(split.collisions == [9])
        let winner = SignedHead.newer(cHead, dHead) ? "C" : "D"
        #expect(split.head?.payload == Array(winner.utf8))
        let settled = try c.publishHead(name, payload: Array("C".utf8), key: key)
        #expect(settled.head.seq == 10)
        #expect(try fixture.open().readHead(name, publicKey: publicKey, askAll: true).collisions.isEmpty)
    }

    @Test func membersVanishingMidPublishAndMidRead() throws {
        let fixture = try GridFixture(k: 2, n: 4, members: 4)
        let key = try fixture.registry.headKey()
        let publicKey = Array(key.publicKey.rawRepresentation)
        _ = try fixture.open().publishHead(name, payload: Array("v1".utf8), key: key)
        // Three of four members stop answering: fewer than k are left, so nothing is published.
        let flaky = try fixture.open(wrapping: [0: { FaultyStore($0, fault: .unavailable) }, 1: { FaultyStore($0, fault: .unavailable) },
                                                2: { FaultyStore($0, fault: .unavailable) }])
        #expect(throws: StoreError.self) { _ = try flaky.publishHead(name, payload: Array("v2".utf8), key: key) }
        #expect(try fixture.open().readHead(name, publicKey: publicKey).head?.payload == Array("v1".utf8))
        let partly = try fixture.open(wrapping: [0: { FaultyStore($0, fault: .unavailable) }])
        let published = try partly.publishHead(name, payload: Array("v2".utf8), key: key)
        #expect(published.members == ["m1", "m2", "m3"])
        // A reader that loses a member finds the head on the others; the one left behind is named.
        let reading = try fixture.open(wrapping: [1: { FaultyStore($0, fault: .unavailable) }]).readHead(name, publicKey: publicKey)
        #expect(reading.head?.payload == Array("v2".utf8))
        #expect(reading.behind.contains("m0 (head 1, newest 2)") && reading.unreachable.count == 1)
    }
}

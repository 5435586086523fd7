import Foundation
import Testing
import TroveCore
import TrovePeer
import TroveStorage
import TroveTesting

/// What the hosting machine does with objects it already holds and drives it cannot read.
@Suite(.serialized) struct HostedStoreTests {
    static let bytes = StoreConformance.bytes(70_000, seed: 3)
    static let id = StoreConformance.idOf(bytes)

    static func objectPath(_ fixture: PeerFixture) -> String {
        let text = id.description
        return fixture.tankFolder + "/.trove/objects/\(text.prefix(2))/\(text.dropFirst(2))"
    }

    @Test func sendingAnObjectAgainHealsARottenHeldCopyEvenForAnAppendOnlyPeer() throws {
        let fixture = try PeerFixture(rights: [.read, .write], appendOnly: true)
        let store = try fixture.peerStore()
        try StoreConformance.put(Self.bytes, as: Self.id, in: store)
        var rotten = Self.bytes
        rotten[500] ^= 0xFF
        let path = Self.objectPath(fixture)
        chmod(path, 0o644)
        try Data(rotten).write(to: URL(fileURLWithPath: path))
        try StoreConformance.put(Self.bytes, as: Self.id, in: store)
        #expect(FileManager.default.contents(atPath: path) == Data(Self.bytes), "the verified bytes replaced the rotten copy")
        #expect(try store.verifyOnHost([Self.id]) == [Self.id: .good])
    }

    @Test func aDriveTheHostCannotReadIsUnavailableNotEveryCopyMissing() throws {
        let fixture = try PeerFixture()
        let store = try fixture.peerStore()
        try StoreConformance.put(Self.bytes, as: Self.id, in: store)
        // The NAS's drive is unmounted under the running server.
        try FileManager.default.moveItem(atPath: fixture.tankFolder, toPath: fixture.tankFolder + ".gone")
        #expect(StoreConformance.kind { _ = try store.verifyOnHost([Self.id]) } == .unavailable)
    }
}

import Foundation
import Testing
import TroveCore
import TroveEngine
import TrovePeer
import TroveStorage
import TroveTesting

/// A library on one machine keeping copies on a store another machine's `trove serve` hosts.
@Suite(.serialized) struct PeerEngineTests {
    /// A client library with a local store and the peer store "nas-tank", and `files` imported.
    static func library(_ fixture: PeerFixture, files: [Int]) throws -> (Library, [ContentID]) {
        let library = fixture.clientLibrary
        _ = try library.addStore(folder: fixture.folder.folder("local"), label: "local")
        _ = try library.addStore(StoreRequest(location: "peer://server/tank", label: "nas-tank"))
        var paths: [String] = []
        for (index, size) in files.enumerated() {
            paths.append(fixture.folder.file("data/f\(index)", StoreConformance.bytes(size, seed: UInt64(index))))
        }
        let report = try library.importPaths(paths)
        return (library, report.imported.map { ContentID($0.id)! })
    }

    static func tankObject(_ fixture: PeerFixture, _ id: ContentID) -> String {
        let text = id.description
        return fixture.tankFolder + "/.trove/objects/\(text.prefix(2))/\(text.dropFirst(2))"
    }

    @Test func healCopiesToThePeerAndVerifyThereFindsRotWithoutMovingBytes() throws {
        let fixture = try PeerFixture()
        let (library, ids) = try Self.library(fixture, files: [3_000_000, 9_000_000])
        let healed = try library.heal()
        #expect(healed.copiesMade == 2)
        let peer = try #require(try library.catalog.stores().first { $0.label == "nas-tank" })
        for id in ids {
            #expect(try library.catalog.copies(of: id).contains { $0.storeID == peer.id })
            #expect(FileManager.default.fileExists(atPath: Self.tankObject(fixture, id)), "the bytes are on the server's drive")
        }
        #expect(peer.kind == .peer && peer.machine != nil)
        // A bit flips on the server's drive.
        let path = Self.tankObject(fixture, ids[1])
        chmod(path, 0o644)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: 1_000_000)
        let byte = try #require(try handle.read(upToCount: 1))
        try handle.seek(toOffset: 1_000_000)
        try handle.write(contentsOf: [byte[0] ^ 0x10])
        try handle.close()
        let report = try #require(try library.verify(storeLabel: "nas-tank").first)
        #expect(report.good == 1)
        #expect(report.corrupt.map(\.fileID) == [ids[1].description])
        #expect(!FileManager.default.fileExists(atPath: path), "the bad copy is quarantined on the server")
        #expect(try !library.catalog.copies(of: ids[1]).contains { $0.storeID == peer.id })
        // Like any drive, one that returned rot is suspected failing: no new copies go there, and
        // status says so by name.
        #expect(try library.catalog.stores().first { $0.label == "nas-tank" }?.trust == .downgraded)
        let alerts = try library.status().alerts
        #expect(alerts.contains { $0.message.contains("nas-tank") }, "\(alerts.map(\.message))")
        #expect(try library.catalog.copies(of: ids[1]).count == 1, "the local copy is untouched")
    }

    /// Small files healed to a peer become one pack on its drive; verify on the host checks the
    /// pack, and when a byte of it rots, names the one object hit, the others still count.
    @Test func smallFilesGoToThePeerAsAPackAndVerifyThereNamesTheOneRottenObject() throws {
        let fixture = try PeerFixture()
        let (library, ids) = try Self.library(fixture, files: (0..<20).map { 2_000 + $0 * 300 })
        #expect(try library.heal().copiesMade == 20)
        let peer = try #require(try library.catalog.stores().first { $0.label == "nas-tank" })
        let index = try #require(library.catalog as? any PackIndex)
        let packs = try index.packs(store: peer.id)
        #expect(packs.count == 1 && packs[0].liveObjects == 20)
        let objects = try FileManager.default.subpathsOfDirectory(atPath: fixture.tankFolder + "/.trove/objects").filter { $0.contains("/") }
        #expect(objects.count == 1, "one pack on the server's drive, not 20 objects")
        #expect(try #require(try library.verify(storeLabel: "nas-tank").first).good == 20)

        let victim = ids[7]
        let place = try #require(try index.packedObject(store: peer.id, id: victim))
        let path = Self.tankObject(fixture, place.pack)
        chmod(path, 0o644)
        try flipBit(in: path, at: Int(place.offset) + 100)
        let report = try #require(try library.verify(storeLabel: "nas-tank").first)
        #expect(report.corrupt.map(\.fileID) == [victim.description])
        #expect(report.good == 19)
        #expect(try !library.catalog.copies(of: victim).contains { $0.storeID == peer.id })
        #expect(try library.catalog.copies(onStore: peer.id).count == 19, "the pack's other objects still count")
        #expect(try #require(try library.verify(storeLabel: "nas-tank").first).corrupt.isEmpty, "the rotten object is no longer listed there")
    }

    @Test func aDroppedConnectionResumesTheUploadFromThePartTheServerHolds() throws {
        let fixture = try PeerFixture()
        let relay = try TCPRelay(to: fixture.port)
        let store = try fixture.peerStore(address: "https://127.0.0.1:\(relay.port)")
        let bytes = StoreConformance.bytes(3 * ContentHash.leafSize + 1000, seed: 9)
        let id = StoreConformance.idOf(bytes)
        let writer = try store.makeWriter(for: id, expectedSize: UInt64(bytes.count))
        let leaf = ContentHash.leafSize
        try bytes.withUnsafeBytes { all in
            // The first part goes out once the second begins.
            try writer.write(UnsafeRawBufferPointer(rebasing: all[0..<leaf + 10]))
            relay.stop()
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.8) { try? relay.start() }
            try writer.write(UnsafeRawBufferPointer(rebasing: all[(leaf + 10)...]))
        }
        try writer.commit(as: id)
        #expect(try store.objectSize(id) == UInt64(bytes.count))
        let back = try StoreConformance.get(id, from: store)
        #expect(back.count == bytes.count && back == bytes)
        let uploads = (try? FileManager.default.contentsOfDirectory(atPath: fixture.tankFolder + "/.trove/uploads")) ?? []
        #expect(uploads.isEmpty, "the finished upload became the object")
    }

    @Test func aServerKilledMidTransferLeavesNothingPartialCountingAndTheNextHealCompletes() throws {
        let fixture = try PeerFixture()
        let (library, ids) = try Self.library(fixture, files: [160_000_000])
        let done = DispatchSemaphore(value: 0)
        let outcome = ResultHolder()
        DispatchQueue.global().async {
            outcome.set(Result { try library.heal() })
            done.signal()
        }
        // Kill once the upload has started (some part of it is on the server's drive).
        let deadline = Date() + 60
        while Date() < deadline {
            let uploads = (try? FileManager.default.contentsOfDirectory(atPath: fixture.tankFolder + "/.trove/uploads")) ?? []
            if uploads.contains(where: { (try? FileManager.default.attributesOfItem(atPath: fixture.tankFolder + "/.trove/uploads/" + $0)[.size] as? Int) ?? 0 > 0 }) {
                break
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        fixture.killServer()
        done.wait()
        let peer = try #require(try library.catalog.stores().first { $0.label == "nas-tank" })
        #expect(try !library.catalog.copies(of: ids[0]).contains { $0.storeID == peer.id }, "no copy counts on the dead server")
        #expect(!FileManager.default.fileExists(atPath: Self.tankObject(fixture, ids[0])), "no partial object under its ID")
        if case .success(let report)? = outcome.value { #expect(report.copiesMade == 0) }
        // The machine comes back; the next heal completes the copy, verified.
        try fixture.startServer()
        #expect(try library.heal().copiesMade == 1)
        #expect(try library.catalog.copies(of: ids[0]).contains { $0.storeID == peer.id })
        #expect(try #require(try library.verify(storeLabel: "nas-tank").first).clean)
    }
}

final class ResultHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Result<HealReport, Error>?
    func set(_ value: Result<HealReport, Error>) { lock.withLock { stored = value } }
    var value: Result<HealReport, Error>? { lock.withLock { stored } }
}

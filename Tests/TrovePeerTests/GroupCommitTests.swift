import Foundation
import Testing
import TroveCore
import TroveStorage
import TroveTesting
@testable import TroveServer

/// Objects that concurrent requests wrote to one hosted store commit together.
struct GroupCommitTests {
    @Test func concurrentCommitsAllLandWholeAndEachHearsItsOwnOutcome() async throws {
        let folder = TempFolder("group-commit")
        let store = try LocalStore.create(at: folder.folder("tank"), label: "tank", copies: 1, now: Date(), library: nil)
        let committer = GroupCommit(store: store, pool: FileWork.pool)
        let objects = (0..<40).map { StoreConformance.bytes(1_000 + $0 * 37, seed: UInt64($0)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for bytes in objects {
                group.addTask {
                    let writer = try store.makeWriter(for: StoreConformance.idOf(bytes), expectedSize: UInt64(bytes.count))
                    try bytes.withUnsafeBytes { try writer.write($0) }
                    try await committer.commit(SendableWriter(writer), as: StoreConformance.idOf(bytes))
                }
            }
            try await group.waitForAll()
        }
        for bytes in objects { #expect(try StoreConformance.get(StoreConformance.idOf(bytes), from: store) == bytes) }

        // A batch that cannot be committed (the store's folder went away): the waiter hears it.
        let bytes = StoreConformance.bytes(500, seed: 99)
        let writer = try store.makeWriter(for: StoreConformance.idOf(bytes), expectedSize: 500)
        try bytes.withUnsafeBytes { try writer.write($0) }
        try FileManager.default.removeItem(atPath: folder.at("tank/.trove/objects"))
        var failed = false
        do { try await committer.commit(SendableWriter(writer), as: StoreConformance.idOf(bytes)) } catch { failed = true }
        #expect(failed)
    }
}

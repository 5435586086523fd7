import Foundation
import Testing
import TroveCore

/// Why files stay below target, and what status says about it: pure rules.
struct StuckRulesTests {
    func option(_ id: String, domain: String? = nil, connected: Bool = true, trusted: Bool = true, noNew: Bool = false,
                readOnly: Bool = false, free: Int64 = 1 << 30) -> StoreOption {
        StoreOption(storeID: id, label: id, weight: 1, domain: domain ?? "disk:\(id)", connected: connected, trusted: trusted,
                    noNewCopies: noNew, readOnly: readOnly, available: free)
    }
    let held = [CountedCopy(storeID: "a", weight: 1, domain: "disk:a")]

    @Test func aReadOnlyStoreIsNamedFirst() {
        let why = whyBelowTarget(size: 100, held: held, target: 2,
                                 stores: [option("a"), option("b", readOnly: true), option("c", free: 10)])
        #expect(why?.kind == .readOnly && why?.store == "b")
    }

    @Test func noRoomWhenOnlyFullStoresLackTheFile() {
        let why = whyBelowTarget(size: 100, held: held, target: 2, stores: [option("a"), option("b", free: 99)])
        #expect(why?.kind == .noRoom && why?.store == nil)
    }

    @Test func sameDiskWhenEveryOtherStoreSharesTheHoldersDisk() {
        let why = whyBelowTarget(size: 100, held: held, target: 2, stores: [option("a"), option("a2", domain: "disk:a")])
        #expect(why?.kind == .sameDisk)
    }

    @Test func flagsDowngradesAndMissingDrivesAreNamed() {
        #expect(whyBelowTarget(size: 1, held: held, target: 2, stores: [option("a"), option("b", noNew: true)])?.kind == .noNewCopies)
        #expect(whyBelowTarget(size: 1, held: held, target: 2, stores: [option("a"), option("b", trusted: false)])?.kind == .notTrusted)
        #expect(whyBelowTarget(size: 1, held: held, target: 2, stores: [option("a"), option("b", connected: false)])?.kind == .notConnected)
    }

    @Test func notStuckWhenSomeStoreCouldTakeIt() {
        #expect(whyBelowTarget(size: 100, held: held, target: 2, stores: [option("a"), option("b"), option("c", readOnly: true)]) == nil)
        // At target: nothing to say.
        #expect(whyBelowTarget(size: 1, held: held, target: 1, stores: [option("a")]) == nil)
    }

    @Test func anUncountedCopyAwaitingReverificationIsNotStuck() {
        // b holds a copy that counts once heal re-verifies it: heal can fix this itself.
        let copies = held + [CountedCopy(storeID: "b", weight: 0, domain: "disk:b")]
        #expect(whyBelowTarget(size: 1, held: copies, target: 2, stores: [option("a"), option("b")]) == nil)
        // ... unless b is downgraded: then that is the reason.
        let downgraded = held + [CountedCopy(storeID: "b", weight: 1, domain: "disk:b", trusted: false)]
        #expect(whyBelowTarget(size: 1, held: downgraded, target: 2, stores: [option("a"), option("b", trusted: false)])?.kind == .notTrusted)
    }

    // MARK: status

    let now = Date(timeIntervalSince1970: 1_800_000_000)
    func store(_ id: String, readOnly: Bool = false, free: Int64 = 1 << 40, disk: String? = nil) -> LibraryFacts.StoreFacts {
        .init(record: StoreRecord(id: id, label: id, kind: .local, location: "/mnt/\(id)", created: now, lastSeen: now,
                                  capacity: 1 << 41, free: free, disk: disk ?? "disk:\(id)", readOnly: readOnly), connected: true)
    }

    @Test func aStuckGroupBecomesACriticalAlertWithItsAction() {
        var facts = LibraryFacts(target: 2, durability: [1: (3, 300)], stores: [store("a"), store("b", readOnly: true)], reserve: 0)
        facts.stuck = [StuckGroup(kind: .readOnly, storeLabel: "b", files: 3, bytes: 300, largest: 100, detail: nil, fragile: 3)]
        let result = alerts(for: facts, now: now)
        let stuck = result.first { $0.kind == "stuck_below_target" }
        #expect(stuck?.severity == .critical)
        #expect(stuck?.action.contains("b is read-only: remount it read-write") == true)
        // Those files are not "still being copied".
        #expect(!result.contains { $0.kind == "low_durability" })
    }

    @Test func aReasonThatNoLongerHoldsIsDropped() {
        var facts = LibraryFacts(target: 2, durability: [1: (3, 300)], stores: [store("a"), store("b")], reserve: 0)
        facts.stuck = [StuckGroup(kind: .readOnly, storeLabel: "b", files: 3, bytes: 300, largest: 100, detail: nil, fragile: 3)]
        let kinds = alerts(for: facts, now: now).map(\.kind)
        #expect(!kinds.contains("stuck_below_target"))
        #expect(kinds.contains("low_durability"))
    }

    @Test func storesOnOneDiskAreOneCopyForInsufficientStorage() {
        let facts = LibraryFacts(target: 2, durability: [1: (1, 100)], stores: [store("a", disk: "disk:x"), store("b", disk: "disk:x")],
                                 reserve: 0)
        let alert = alerts(for: facts, now: now).first { $0.kind == "insufficient_storage" }
        #expect(alert?.message.contains("on 1 disk") == true, "\(String(describing: alert))")
    }

    @Test func freeSpaceOnTheDiskThatHoldsTheFilesDoesNotCount() {
        var facts = LibraryFacts(target: 2, durability: [1: (1, 3_000_000)],
                                 stores: [store("big", free: 1 << 40), store("small", free: 1_000_000)], reserve: 0)
        facts.domainNeeds = ["disk:big": 0, "disk:small": 3_000_000]
        #expect(alerts(for: facts, now: now).contains { $0.kind == "insufficient_storage" })
    }

    @Test func aLostManifestNamesItsSnapshot() throws {
        let snapshot = SnapshotRecord(id: "abcdefghijklmnop", root: "/home/ann", time: now, tag: nil, partial: false, entries: 3, bytes: 9)
        let id = ContentHash.hash([1, 2, 3]).id
        var facts = LibraryFacts(target: 2, durability: [0: (1, 9)], stores: [store("a"), store("b")], reserve: 0)
        facts.lost = [LostFile(fileID: id, size: 9, manifestOf: snapshot, inSnapshots: [])]
        let alert = try #require(alerts(for: facts, now: now).first { $0.kind == "lost_snapshot_manifest" })
        #expect(alert.message.contains("abcdefghijkl of /home/ann"))
        #expect(alert.severity == .critical)
    }
}

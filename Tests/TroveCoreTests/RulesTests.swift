import Foundation
import Testing
import TroveCore

/// Lifecycle, alerts and placement are pure: move the clock, check the decision.
struct LifecycleTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    func store(_ id: String, seen: Date, trust: TrustState = .trusted, noNew: Bool = false) -> StoreRecord {
        StoreRecord(id: id, label: id, kind: .local, location: "/mnt/\(id)", created: seen, trust: trust,
                    noNewCopies: noNew, lastSeen: seen)
    }
    let day: TimeInterval = 86_400

    @Test func connectedStoresAreSeen() {
        let decisions = lifecycleDecisions(stores: [store("a", seen: start)], presence: ["a": .connected], now: start + 10 * day)
        #expect(decisions == [.seen(storeID: "a")])
    }

    @Test func unseenForThreeDaysIsDowngradedThenEightPurged() {
        let s = store("a", seen: start)
        #expect(lifecycleDecisions(stores: [s], presence: [:], now: start + 2.9 * day).isEmpty)
        #expect(lifecycleDecisions(stores: [s], presence: [:], now: start + 4 * day)
            == [.downgrade(storeID: "a", reason: "unseen for 4 days")])
        #expect(lifecycleDecisions(stores: [s], presence: [:], now: start + 9 * day)
            == [.purge(storeID: "a", reason: "unseen for 9 days")])
    }

    @Test func alreadyDowngradedIsNotDowngradedAgain() {
        let s = store("a", seen: start, trust: .downgraded)
        #expect(lifecycleDecisions(stores: [s], presence: ["a": .missing], now: start + 5 * day).isEmpty)
    }

    @Test func wipedDriveIsPurgedAtOnce() {
        let decisions = lifecycleDecisions(stores: [store("a", seen: start)], presence: ["a": .wiped], now: start + 60)
        #expect(decisions.count == 1)
        if case .purge(let id, _) = decisions[0] { #expect(id == "a") } else { Issue.record("expected purge") }
    }

    @Test func returningStoreIsRestoredButFailingDriveIsNot() {
        let away = store("a", seen: start, trust: .downgraded)
        #expect(lifecycleDecisions(stores: [away], presence: ["a": .connected], now: start + 5 * day)
            == [.seen(storeID: "a"), .returned(storeID: "a")])
        let failing = store("b", seen: start, trust: .downgraded, noNew: true)
        #expect(lifecycleDecisions(stores: [failing], presence: ["b": .connected], now: start + 5 * day)
            == [.seen(storeID: "b")])
    }

    @Test func policyIsConfigurable() {
        let policy = LifecyclePolicy(downgradeAfter: 3600, purgeAfter: 7200)
        let s = store("a", seen: start)
        #expect(lifecycleDecisions(stores: [s], presence: [:], now: start + 3601, policy: policy).count == 1)
    }
}

struct AlertTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    func facts(_ stores: [LibraryFacts.StoreFacts], durability: [Int: (files: Int, bytes: UInt64)]) -> LibraryFacts {
        LibraryFacts(target: 3, durability: durability, stores: stores, reserve: 0)
    }
    func store(_ id: String, free: Int64 = 1 << 40, copies: Int = 1) -> StoreRecord {
        StoreRecord(id: id, label: id, kind: .local, location: "/mnt/\(id)", copies: copies, created: now, lastSeen: now,
                    capacity: 1 << 41, free: free)
    }

    @Test func allWellMeansNoAlerts() {
        let f = facts(["a", "b", "c"].map { .init(record: store($0), connected: true) }, durability: [3: (10, 1000)])
        #expect(alerts(for: f, now: now).isEmpty)
    }

    @Test func lowDurabilityIsAWarning() {
        let f = facts(["a", "b", "c"].map { .init(record: store($0), connected: true) }, durability: [1: (4, 100), 3: (6, 600)])
        let result = alerts(for: f, now: now)
        #expect(result.map(\.kind) == ["low_durability"])
        #expect(result[0].severity == .warning)
        #expect(result[0].files == 4)
    }

    @Test func tooFewStoresIsInsufficientStorage() {
        let f = facts(["a", "b"].map { .init(record: store($0), connected: true) }, durability: [2: (1, 10)])
        let result = alerts(for: f, now: now)
        #expect(result.map(\.kind) == ["insufficient_storage"])
        #expect(result[0].severity == .critical)
    }

    @Test func tooLittleSpaceSaysHowMuchMore() {
        let f = facts(["a", "b", "c"].map { .init(record: store($0, free: 100), connected: true) }, durability: [2: (1, 1000)])
        let result = alerts(for: f, now: now)
        #expect(result.map(\.kind) == ["insufficient_storage"])
        #expect(result[0].bytes.map { Int($0) } == 700)
    }

    /// Dmedia's disconnected-drive case across machines: the alert names the drive, the machine
    /// it was last seen on, since when, and the one action that fits.
    @Test func disconnectedDriveSaysWhichMachineAndWhatToDo() {
        func alert(removable: Bool?, machine: String?, kind: StoreKind = .local, here: String = "desktop") -> Alert {
            var record = store("usb2")
            record.kind = kind
            record.removable = removable
            record.machine = machine
            record.lastSeen = now.addingTimeInterval(-2 * 86_400 - 60)
            let stores: [LibraryFacts.StoreFacts] = [.init(record: store("a"), connected: true),
                                                     .init(record: record, connected: false, dependentFiles: 312)]
            var f = facts(stores, durability: [1: (312, 3120)])
            f.thisMachine = here
            return alerts(for: f, now: now).first { $0.kind == "disconnected_drive" }!
        }
        let removable = alert(removable: true, machine: "laptop")
        #expect(removable.message.contains("312 files") && removable.message.contains("removable drive")
                && removable.message.contains("last seen on laptop 2 days ago"))
        #expect(removable.action.hasPrefix("Plug the drive holding 'usb2' into any machine running Trove (it was last on laptop)"))
        let inside = alert(removable: false, machine: "laptop")
        #expect(inside.message.contains("internal drive"))
        #expect(inside.action.hasPrefix("Turn on laptop: the drive holding 'usb2' is inside it."))
        let here = alert(removable: false, machine: "desktop")
        #expect(here.message.contains("last seen on this machine (desktop)"))
        #expect(here.action.contains("inside this machine: check that it is mounted at /mnt/usb2"))
        let cloud = alert(removable: nil, machine: "desktop", kind: .s3)
        #expect(cloud.message.contains("the s3 store") && cloud.action.hasPrefix("Check that /mnt/usb2 can be reached"))
        #expect(alert(removable: nil, machine: nil).action.hasPrefix("Plug in the drive holding 'usb2'"))
        // A store another machine hosts: that machine is named, whichever machine asks.
        let nasInternal = alert(removable: false, machine: "nas", kind: .peer)
        #expect(nasInternal.message.contains("the drive inside nas, last seen 2 days ago, which cannot be reached"))
        #expect(nasInternal.action.hasPrefix("Turn on nas and check that `trove serve --listen` runs there"))
        let nasUSB = alert(removable: true, machine: "nas", kind: .peer)
        #expect(nasUSB.message.contains("the removable drive on nas"))
        #expect(nasUSB.action.hasPrefix("Plug the drive holding 'usb2' into nas"))
    }

    @Test func disconnectedDriveNamesTheStoreAndCount() {
        var stores: [LibraryFacts.StoreFacts] = ["a", "b", "c"].map { .init(record: store($0), connected: true) }
        stores.append(.init(record: store("usb9"), connected: false, dependentFiles: 7))
        let result = alerts(for: facts(stores, durability: [3: (7, 70)]), now: now)
        #expect(result.map(\.kind) == ["disconnected_drive"])
        #expect(result[0].storeLabel == "usb9")
        #expect(result[0].files == 7)
        #expect(result[0].action.contains("Plug in"))
    }

    @Test func driveFailureShowsEvenWhenDurabilityIsFine() {
        var stores: [LibraryFacts.StoreFacts] = ["a", "b", "c"].map { .init(record: store($0), connected: true) }
        stores[0].unacknowledgedCorruptions = 1
        let result = alerts(for: facts(stores, durability: [3: (5, 50)]), now: now)
        #expect(result.map(\.kind) == ["drive_failure"])
        #expect(result[0].severity == .critical)
    }
}

struct PlacementTests {
    @Test func picksMostFreeStoresUntilTarget() {
        let chosen = placement(size: 10, held: [CountedCopy(storeID: "a", weight: 1, domain: "store:a")], target: 3, candidates: [
            .init(storeID: "a", weight: 1, available: 1000),
            .init(storeID: "b", weight: 1, available: 500),
            .init(storeID: "c", weight: 1, available: 900),
            .init(storeID: "d", weight: 1, available: 100),
        ])
        #expect(chosen == ["c", "b"])
    }

    @Test func neverTwoCopiesOnOneStoreNorWithoutRoom() {
        let chosen = placement(size: 600, held: [CountedCopy(storeID: "b", weight: 0, domain: "store:b")], target: 3, candidates: [
            .init(storeID: "a", weight: 1, available: 1000),
            .init(storeID: "b", weight: 1, available: 1000),
            .init(storeID: "c", weight: 1, available: 500),
            .init(storeID: "d", weight: 0, available: 5000),
            .init(storeID: "e", weight: 1, available: 5000, busy: true),
        ])
        #expect(chosen == ["a"])
    }

    @Test func heavierStoresCountMore() {
        let chosen = placement(size: 1, held: [CountedCopy(storeID: "gone", weight: 1, domain: "disk:gone")], target: 3, candidates: [
            .init(storeID: "cloud", weight: 2, available: 1 << 40),
            .init(storeID: "usb", weight: 1, available: 1 << 20),
        ])
        #expect(chosen == ["cloud"])
    }

    @Test func aSecondCopyOnTheSameDiskAddsNothing() {
        // "a" and "a2" are folders on one disk: a copy on a2 would not survive that disk.
        let held = [CountedCopy(storeID: "a", weight: 1, domain: "disk:1")]
        let chosen = placement(size: 1, held: held, target: 3, candidates: [
            .init(storeID: "a2", weight: 1, available: 1 << 40, domain: "disk:1"),
            .init(storeID: "b", weight: 1, available: 1 << 30, domain: "disk:2"),
            .init(storeID: "b2", weight: 1, available: 1 << 20, domain: "disk:2"),
            .init(storeID: "c", weight: 1, available: 1 << 10, domain: "disk:3"),
        ])
        #expect(chosen == ["b", "c"])
    }
}

struct DurabilityRuleTests {
    @Test func copiesOnOneDiskCountOnceAtTheLargerWeight() {
        #expect(durability(of: [
            CountedCopy(storeID: "usb1", weight: 1, domain: "disk:A"),
            CountedCopy(storeID: "usb1-b", weight: 1, domain: "disk:A"),
            CountedCopy(storeID: "nas", weight: 2, domain: "disk:B"),
            CountedCopy(storeID: "nas-cache", weight: 1, domain: "disk:B"),
            CountedCopy(storeID: "old", weight: 1, domain: "disk:C", trusted: false),
        ]) == 3)
        #expect(durability(of: []) == 0)
    }

    @Test func sharedDisksAreNamedByLabel() {
        let now = Date(timeIntervalSince1970: 0)
        let stores = [
            StoreRecord(id: "1", label: "usb1", kind: .local, location: "/a", created: now, disk: "disk:X"),
            StoreRecord(id: "2", label: "usb1-b", kind: .local, location: "/b", created: now, disk: "disk:X"),
            StoreRecord(id: "3", label: "nas", kind: .local, location: "/c", created: now, disk: "disk:Y"),
            StoreRecord(id: "4", label: "declared", kind: .local, location: "/d", created: now, disk: "disk:Y", declaredDisk: "other"),
        ]
        #expect(sharedDisks(stores).map { $0.map(\.label) } == [["usb1", "usb1-b"]])
    }
}

struct RecoveryPacerTests {
    @Test func unlimitedNeverWaits() {
        #expect(RecoveryPacer(limit: nil).delay(sent: 1 << 40, elapsed: 0.001, importRate: 0) == 0)
    }

    @Test func limitSpacesCopies() {
        let pacer = RecoveryPacer(limit: 100, target: 3)
        #expect(pacer.delay(sent: 1000, elapsed: 4, importRate: 0) == 6)
        #expect(pacer.delay(sent: 1000, elapsed: 20, importRate: 0) == 0)
    }

    @Test func healingOutpacesImports() {
        // Imports at 1 MB/s need 2 more copies each: healing must exceed 2 MB/s.
        let pacer = RecoveryPacer(limit: 100_000, credit: 1.5, target: 3)
        let rate = pacer.rate(importRate: 1_000_000) ?? 0
        #expect(rate == 3_000_000)
        #expect(rate > 2 * 1_000_000)
        // Simulate: backlog shrinks even while imports continue.
        var backlog = 50_000_000.0
        for _ in 0..<60 { backlog += 2 * 1_000_000 - rate }
        #expect(backlog < 0)
    }
}

struct GridRuleTests {
    @Test func sharesAreWorthTheLossesTheySurvive() {
        // 3-of-10 on ten disks: any 7 may go.
        #expect(gridWeight(sharesPerDomain: Array(repeating: 1, count: 10), k: 3) == 8)
        // Two members on one disk: losing it takes two shares at once.
        #expect(gridWeight(shareDomains: ["a", "a", "b", "c", "d"], k: 3) == 2)
        #expect(gridWeight(sharesPerDomain: [1, 1], k: 3) == 0)
        #expect(gridWeight(sharesPerDomain: [1, 1, 1], k: 3) == 1)
        #expect(gridWeight(sharesPerDomain: [], k: 1) == 0)
    }

    @Test func theWeightAlwaysEqualsTheFewestLossesThatLeaveFewerThanKShares() {
        // Against brute force over every set of lost domains.
        var random = SplitMix64(seed: 3)
        for _ in 0..<300 {
            let domains = Int(random.next() % 6) + 1
            let counts = (0..<domains).map { _ in Int(random.next() % 3) }
            let k = Int(random.next() % 5) + 1
            var fewest = counts.reduce(0, +) < k ? 0 : Int.max
            for mask in 0..<(1 << domains) {
                let left = counts.indices.filter { mask & (1 << $0) == 0 }.reduce(0) { $0 + counts[$1] }
                if left < k { fewest = min(fewest, mask.nonzeroBitCount) }
            }
            #expect(gridWeight(sharesPerDomain: counts, k: k) == fewest, "\(counts) k=\(k)")
        }
    }

    @Test func aWholeCopyOnAMemberDiskAddsNothingToTheGridCopy() {
        let grid = CountedCopy(storeID: "family", weight: 8, domain: "store:family", absorbs: Set((0..<10).map { "disk:\($0)" }))
        // A copy on member disk 0 falls with share 0: the file survives 7 losses either way, not 8.
        #expect(durability(of: [grid, CountedCopy(storeID: "usb0", weight: 1, domain: "disk:0")]) == 8)
        // A copy elsewhere adds its own disk.
        #expect(durability(of: [grid, CountedCopy(storeID: "cloud", weight: 1, domain: "net:cloud")]) == 9)
        // And placement gains nothing from a member disk.
        let held = byDomain([grid])
        #expect(held.gain(weight: 1, domain: "disk:3") == 0 && held.gain(weight: 1, domain: "net:x") == 1)
        // A grid copy that does not count (downgraded) absorbs nothing.
        var untrusted = grid
        untrusted.trusted = false
        #expect(durability(of: [untrusted, CountedCopy(storeID: "usb0", weight: 1, domain: "disk:0")]) == 1)
    }

    @Test func theStoreWeightIsWhatHappinessGuarantees() {
        let ten = (0..<10).map { "disk:\($0)" }
        #expect(gridStoreWeight(GridConfig(k: 3, n: 10, members: ten), trustedMemberDomains: ten) == 8)
        #expect(gridStoreWeight(GridConfig(k: 3, n: 10, happy: 7, members: ten), trustedMemberDomains: ten) == 5)
        // A member downgraded: nine trusted disks.
        #expect(gridStoreWeight(GridConfig(k: 3, n: 10, members: ten), trustedMemberDomains: Array(ten.prefix(9))) == 7)
        #expect(GridConfig(k: 3, n: 10, members: ten).repairAt == 7)
        #expect(GridConfig.problem(k: 3, n: 10, happy: 10, repairAt: 7, members: 10, domains: 9) != nil)
        #expect(GridConfig.problem(k: 3, n: 10, happy: 9, repairAt: 7, members: 10, domains: 9) == nil)
    }

    @Test func eachObjectSpreadsItsSharesInItsOwnOrder() {
        let members = (0..<10).map { "m\($0)" }
        let a = permutedMembers(members, objectID: ContentID(bytes: Array(repeating: 1, count: 32))!)
        let b = permutedMembers(members, objectID: ContentID(bytes: Array(repeating: 2, count: 32))!)
        #expect(Set(a) == Set(members) && a != b)
        #expect(a == permutedMembers(members.reversed(), objectID: ContentID(bytes: Array(repeating: 1, count: 32))!))
    }
}

/// Where a read goes: `readOrder`.
struct ReadOrderTests {
    static let seen = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func trustedCopiesComeFirstWhateverTheirSpeed() {
        let order = readOrder([
            ReadSource(storeID: "fast-downgraded", trusted: false, lastSeen: Self.seen, rate: 500e6),
            ReadSource(storeID: "slow", trusted: true, lastSeen: Self.seen, rate: 1e6),
        ], size: 10_000_000)
        #expect(order == ["slow", "fast-downgraded"])
    }

    @Test func readsAtOnceSpreadOverCopies() {
        let busy = ReadSource(storeID: "a", trusted: true, lastSeen: Self.seen + 60, inFlight: 8_000_000, rate: 100e6)
        let idle = ReadSource(storeID: "b", trusted: true, lastSeen: Self.seen, rate: 100e6)
        #expect(readOrder([busy, idle], size: 1_000_000) == ["b", "a"])
        // Idle both: the one seen most recently.
        var alsoIdle = busy
        alsoIdle.inFlight = 0
        #expect(readOrder([alsoIdle, idle], size: 1_000_000) == ["a", "b"])
    }

    @Test func aSlowLinkGetsAReadOnlyWhenTheFastOneIsBusyEnough() {
        let slow = ReadSource(storeID: "peer", trusted: true, lastSeen: Self.seen, rate: 2e6)
        var fast = ReadSource(storeID: "usb", trusted: true, lastSeen: Self.seen, inFlight: 50_000_000, rate: 200e6)
        // usb finishes 1 MB behind 50 MB in 0.255 s; the peer would need 0.5 s.
        #expect(readOrder([slow, fast], size: 1_000_000) == ["usb", "peer"])
        fast.inFlight = 400_000_000
        #expect(readOrder([slow, fast], size: 1_000_000) == ["peer", "usb"])
    }

    @Test func aStoreNotReadFromYetIsTriedBeforeKnownOnes() {
        let known = ReadSource(storeID: "known", trusted: true, lastSeen: Self.seen + 60, rate: 300e6)
        let new = ReadSource(storeID: "new", trusted: true, lastSeen: Self.seen)
        #expect(readOrder([known, new], size: 1_000_000) == ["new", "known"])
    }
}

import Foundation
import TroveCore
import TroveStorage

/// Everything `trove status` shows.
public struct StatusReport: Sendable {
    public var target: Int
    public var files: Int
    public var bytes: UInt64
    /// Durability → files and bytes at that durability.
    public var durability: [Int: CatalogSummary.Bucket]
    public var stores: [StoreStatus]
    public var alerts: [Alert]
    /// Where the library's records in the stores stand.
    public var records = RecordsStatus()

    /// Worst alert: 0 all well, 1 warnings only, 2 the user must act.
    public var exitCode: Int32 {
        switch alerts.map(\.severity).max() {
        case .critical?: 2
        case .warning?: 1
        default: 0
        }
    }
}

/// The library's records in the stores: the head's sequence (nil: never written), when they
/// were written (or the library made), and whether files, imports, copies or snapshots changed since.
public struct RecordsStatus: Sendable, Codable {
    public var sequence: Int64?
    public var written: Date?
    public var pending = false
    public init() {}
}

/// A store's line in the status screen.
public struct StoreStatus: Sendable {
    public var record: StoreRecord
    public var connected: Bool
    public var problem: String?
    public var files: Int
    public var bytes: UInt64
}

/// Free space kept back on every store when placing new copies (Dmedia kept 4 GB; scaled
/// down for small drives to 2% of capacity).
func reserveBytes(capacity: Int64?) -> Int64 {
    min(4_000_000_000, (capacity ?? 0) / 50)
}

/// Free bytes a connected store reports: 0 when it cannot be asked, and practically unlimited
/// when it cannot tell (object storage has no fixed size).
func freeBytes(_ store: (any Store)?) -> Int64 {
    guard let store else { return 0 }
    do { return try store.space()?.free ?? 1 << 60 } catch { return 0 }
}

extension Library {
    /// Observes the stores, applies the lifecycle rules, and answers "should I worry?".
    public func status() throws -> StatusReport { try report(observed: try observe()) }

    /// What `trove status` shows: the stores as they answer now, the catalog as it is. While
    /// nothing has changed it only reads (a store's routine sighting is not written), so a
    /// monitor polling status writes nothing and never waits on or holds up `trove serve`.
    /// When what it finds changes what the catalog must say — a store to downgrade, purge or
    /// trust again, a grid whose shares went missing — it records that first, like any command
    /// that observes the stores: a status from before the change would overstate durability.
    public func currentStatus(policy: LifecyclePolicy = LifecyclePolicy()) throws -> StatusReport {
        let observed = try observeStores(cleaning: false).map { item in
            var item = item
            if let store = item.store { item.record = Self.sighting(item.record, store) }
            return item
        }
        let decisions = lifecycleDecisions(stores: observed.map(\.record), presence: Self.presence(observed), now: clock.now(),
                                           policy: policy)
        let changing = decisions.contains { if case .seen = $0 { return false } else { return true } }
        if try changing || !gridRefresh(observed).isEmpty { return try report(observed: observe(policy: policy, observation: observed)) }
        return try report(observed: observed)
    }

    /// The status as the given observation of the stores shows it, reading the catalog only:
    /// what the HTTPS API serves between the background loop's passes.
    public func report(observed: [ObservedStore]) throws -> StatusReport {
        let summary = try catalog.summary()
        let all = try catalog.stores()
        let online = observed.filter(\.isConnected).map(\.record.id)
        let offline = all.filter { $0.trust != .purged && !online.contains($0.id) }.map(\.id)
        let depending = try catalog.filesDepending(onOffline: offline, online: online)
        let corruptions = try catalog.unacknowledgedCorruptions()
        let target = try targetCopies()
        var storeStatuses: [StoreStatus] = []
        var facts: [LibraryFacts.StoreFacts] = []
        for record in all where record.trust != .purged {
            let item = observed.first { $0.record.id == record.id }
            let connected = item?.isConnected ?? false
            var problem: String?
            if case .missing(let reason)? = item?.observation { problem = reason }
            if case .wiped(let reason)? = item?.observation { problem = reason }
            let held = summary.perStore[record.id]
            storeStatuses.append(StoreStatus(record: item?.record ?? record, connected: connected, problem: problem,
                                             files: held?.files ?? 0, bytes: held?.bytes ?? 0))
            facts.append(.init(record: item?.record ?? record, connected: connected,
                               dependentFiles: depending[record.id] ?? 0,
                               unacknowledgedCorruptions: corruptions[record.id] ?? 0))
        }
        let reserve = facts.map { reserveBytes(capacity: $0.record.capacity) }.max() ?? 0
        var libraryFacts = LibraryFacts(target: target, durability: summary.durability.mapValues { ($0.files, $0.bytes) },
                                        stores: facts, reserve: reserve)
        // What each usable disk could still take: below-target files with no copy there. Measured
        // while few files are below target (a query per disk over them); right after a huge
        // import the plain free-space sum stands in, and heal's stuck reasons are exact.
        let below = summary.durability.filter { $0.key < target }.reduce(0) { $0 + $1.value.files }
        if below > 0 && below <= 20_000 {
            let usable = facts.filter { $0.connected && $0.record.trust == .trusted && !$0.record.noNewCopies && !$0.record.readOnly }
            for domain in Set(usable.map(\.record.domain)) {
                libraryFacts.domainNeeds[domain] = try catalog.bytesBelowTarget(notIn: domain, target: target)
            }
        }
        if below > 0 { libraryFacts.stuck = try catalog.stuckGroups(target: target) }
        if summary.durability[0] != nil { libraryFacts.lost = try catalog.lostFiles(limit: 1000) }
        libraryFacts.thisMachine = DiskIdentity.machineName()
        let standing = try recordsStanding()
        libraryFacts.recordsWritten = standing.status.written
        libraryFacts.recordsPending = standing.status.pending
        libraryFacts.rebuildGaps = (standing.unindexed.count,
                                    all.filter { standing.unlisted.contains($0.id) }.map(\.label).sorted())
        var report = StatusReport(target: target, files: summary.files, bytes: summary.bytes, durability: summary.durability,
                                  stores: storeStatuses, alerts: alerts(for: libraryFacts, now: clock.now()))
        report.records = standing.status
        return report
    }

    /// Clears a `drive_failure` alert once the user has dealt with the drive.
    public func acknowledgeDriveFailure(_ label: String) throws {
        let record = try storeRecord(label)
        try catalog.apply([.event(Event(time: clock.now(), kind: .driveFailureAcknowledged, storeID: record.id,
                                        details: ["label": .text(record.label)]))])
    }
}

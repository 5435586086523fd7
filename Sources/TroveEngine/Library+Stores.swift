import Dispatch
import Foundation
import TroveCore
import TroveStorage

/// A known store and whether it could be reached just now.
public struct ObservedStore: @unchecked Sendable {
    public var record: StoreRecord
    public var observation: StoreObservation
    public var store: (any Store)? { observation.store }
    public var isConnected: Bool { store != nil }
}

extension Library {
    /// Makes a store in `folder`, or adopts the store already there (its objects are verified
    /// and entered into the catalog; nothing is wiped).
    public func addStore(folder rawFolder: String, label: String?, copies: Int = 1,
                         progress: any ProgressReporter = SilentProgress()) throws -> (record: StoreRecord, adopted: AdoptionReport?) {
        let folder = LibraryLocation.absolute(rawFolder)
        guard copies >= 0 && copies <= 16 else { throw TroveError(.usage, "--copies must be between 0 and 16.") }
        let now = clock.now()
        let known = try catalog.stores()
        if folder == path || folder.hasPrefix(path + "/") {
            throw TroveError(.usage, "A store cannot live inside the library folder \(path); pick a folder on a drive.")
        }
        if let existing = try LocalStore.open(at: folder) {
            if let label, label != existing.identity.label {
                throw TroveError(.storeConflict, "\(folder) already holds the store '\(existing.identity.label)'; re-attach it without --label, or under that label.")
            }
            if let other = known.first(where: { $0.label == existing.identity.label && $0.id != existing.identity.id }) {
                throw TroveError(.storeConflict, "Another store is already called '\(other.label)'; rename one with `trove store set`.")
            }
            return try adopt(existing, known: known.first { $0.id == existing.identity.id }, now: now, progress: progress)
        }
        let name = label ?? (folder as NSString).lastPathComponent
        guard !name.isEmpty, !name.contains("/") else { throw TroveError(.usage, "Give the store a label with --label.") }
        if known.contains(where: { $0.label == name }) {
            throw TroveError(.storeConflict, "A store called '\(name)' already exists; choose another --label.")
        }
        let store = try LocalStore.create(at: folder, label: name, copies: copies, now: now,
                                          library: try catalog.setting("library_id"))
        let space = try? store.space()
        let record = StoreRecord(id: store.identity.id, label: name, kind: .local, location: folder, copies: copies,
                                 filesystemUUID: store.identity.filesystemUUID, created: now, lastSeen: now,
                                 capacity: space?.capacity, free: space?.free)
        try catalog.apply([
            .saveStore(record),
            .event(Event(time: now, kind: .storeAdded, storeID: record.id,
                         details: ["label": .text(name), "location": .text(folder)])),
        ])
        return (record, nil)
    }

    /// The store with this label (or ID).
    public func storeRecord(_ name: String) throws -> StoreRecord {
        let stores = try catalog.stores()
        if let store = stores.first(where: { $0.label == name || $0.id == name }) { return store }
        let known = stores.map(\.label).joined(separator: ", ")
        throw TroveError(.storeUnknown, "There is no store called '\(name)'" + (known.isEmpty ? "; add one with `trove store add FOLDER`." : "; known stores: \(known)."))
    }

    /// Looks for every known store in parallel; one that does not answer within
    /// `storeTimeout` counts as missing, so a dead drive never blocks start-up.
    public func observeStores(_ records: [StoreRecord]? = nil) throws -> [ObservedStore] {
        let records = try records ?? catalog.stores().filter { $0.trust != .purged }
        let results = ObservationBox(count: records.count)
        let group = DispatchGroup()
        let locate = self.locate
        for (index, record) in records.enumerated() {
            DispatchQueue.global().async(group: group) {
                results.set(index, locate(record))
            }
        }
        _ = group.wait(timeout: .now() + storeTimeout)
        return records.enumerated().map { index, record in
            ObservedStore(record: record, observation: results.get(index) ??
                .missing(reason: "did not answer within \(Int(storeTimeout)) s"))
        }
    }

    /// A connected store by label, or a clear error saying how to connect it.
    public func connectedStore(_ name: String) throws -> ObservedStore {
        let record = try storeRecord(name)
        let observed = try observeStores([record])[0]
        guard observed.isConnected else {
            var reason = "it is not reachable"
            if case .missing(let why) = observed.observation { reason = why }
            if case .wiped(let why) = observed.observation { reason = why }
            throw TroveError(.storeNotConnected, "Store '\(record.label)' is not connected: \(reason). Plug in or mount the drive, then retry.")
        }
        return observed
    }
}

/// Collects results from parallel observers; a late answer after the timeout is dropped.
private final class ObservationBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [StoreObservation?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: StoreObservation) { lock.lock(); values[index] = value; lock.unlock() }
    func get(_ index: Int) -> StoreObservation? { lock.lock(); defer { lock.unlock() }; return values[index] }
}

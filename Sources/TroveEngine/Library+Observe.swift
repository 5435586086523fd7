import Foundation
import TroveCore
import TroveStorage

extension Library {
    /// Looks for every store and applies the lifecycle rules (seen, downgraded, purged,
    /// returned) so what follows never works from stale state. Returns the observed stores.
    @discardableResult
    /// `observation`: the stores as just looked at (else they are looked at now).
    public func observe(policy: LifecyclePolicy = LifecyclePolicy(), observation: [ObservedStore]? = nil) throws -> [ObservedStore] {
        unreachable.clear()
        var observed = try observation ?? observeStores()
        let now = clock.now()
        let decisions = lifecycleDecisions(stores: observed.map(\.record), presence: Self.presence(observed), now: now, policy: policy)
        for decision in decisions {
            switch decision {
            case .seen(let id):
                guard let index = observed.firstIndex(where: { $0.record.id == id }) else { continue }
                var record = try catalog.stores().first { $0.id == id } ?? observed[index].record
                record.lastSeen = now
                if let store = observed[index].store { record = Self.sighting(record, store) }
                try catalog.apply([.saveStore(record)])
                observed[index].record = record
            case .downgrade(let id, let reason):
                guard var record = try catalog.stores().first(where: { $0.id == id }) else { continue }
                record.trust = .downgraded
                let count = try catalog.copies(onStore: id).count
                try catalog.apply([.saveStore(record), .event(Event(time: now, kind: .storeDowngraded, storeID: id, details: [
                    "reason": .text(reason), "count": DetailValue(count), "label": .text(record.label),
                ]))])
                if let index = observed.firstIndex(where: { $0.record.id == id }) { observed[index].record = record }
            case .purge(let id, let reason):
                guard var record = try catalog.stores().first(where: { $0.id == id }) else { continue }
                record.trust = .purged
                let count = try catalog.copies(onStore: id).count
                try catalog.apply([.removeCopies(store: id), .saveStore(record),
                                   .event(Event(time: now, kind: .storePurged, storeID: id, details: [
                                       "reason": .text(reason), "count": DetailValue(count), "label": .text(record.label),
                                   ]))])
                // Its packs went with it; if it comes back, adopting it reads their trailers again.
                try packIndex?.forgetPacks(store: id)
                observed.removeAll { $0.record.id == id }
            case .returned(let id):
                guard var record = try catalog.stores().first(where: { $0.id == id }) else { continue }
                // Trusted again, but each copy counts only once it re-verifies.
                record.trust = .trusted
                try catalog.apply([.setCopyWeights(store: id, copies: 0), .saveStore(record),
                                   .event(Event(time: now, kind: .storeRestored, storeID: id, details: [
                                       "label": .text(record.label), "reason": "connected again; copies count once re-verified",
                                   ]))])
                if let index = observed.firstIndex(where: { $0.record.id == id }) { observed[index].record = record }
            }
        }
        try refreshGrids(&observed)
        return observed
    }

    /// Whether each observed store answered, is missing, or was wiped (the lifecycle rules' input).
    static func presence(_ observed: [ObservedStore]) -> [String: Presence] {
        var presence: [String: Presence] = [:]
        for item in observed {
            switch item.observation {
            case .connected: presence[item.record.id] = .connected
            case .missing: presence[item.record.id] = .missing
            case .wiped: presence[item.record.id] = .wiped
            }
        }
        return presence
    }

    /// A connected store's record as the store shows it now: space, the disk it is on (a drive
    /// moved between machines or ports keeps its identity), the machine it was seen on (the
    /// alert for a drive gone says which machine to turn on), and whether it takes writes.
    static func sighting(_ record: StoreRecord, _ store: any Store) -> StoreRecord {
        var record = record
        if let space = try? store.space() {
            record.capacity = space.capacity
            record.free = space.free
        }
        if let disk = store.disk() {
            record.disk = disk.id
            record.diskName = disk.name
            record.removable = disk.removable
        }
        record.machine = store.hostMachine ?? DiskIdentity.machineName()
        record.readOnly = store.isReadOnly()
        return record
    }
}

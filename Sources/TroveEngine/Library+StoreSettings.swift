import Foundation
import TroveCore
import TroveStorage

/// Changes to a store's settings; nil fields stay as they are.
public struct StoreChange: Sendable {
    public var copies: Int?
    public var noNewCopies: Bool?
    /// Trust the store again by hand (after a drive check); its copies count once re-verified.
    public var trust = false
    public var label: String?
    /// A declared disk name (`.some(nil)` clears the declaration: detection decides again).
    public var declaredDisk: String??
    /// A bandwidth limit in bytes per second (`.some(nil)` removes it).
    public var limit: Int64??
    public init(copies: Int? = nil, noNewCopies: Bool? = nil, trust: Bool = false, label: String? = nil,
                declaredDisk: String?? = nil, limit: Int64?? = nil) {
        self.limit = limit
        self.copies = copies
        self.noNewCopies = noNewCopies
        self.trust = trust
        self.label = label
        self.declaredDisk = declaredDisk
    }
}

extension Library {
    /// Applies a hand-made change to a store and records it.
    public func setStore(_ name: String, _ change: StoreChange) throws -> StoreRecord {
        var record = try storeRecord(name)
        var changes: [CatalogChange] = []
        var details: [String: DetailValue] = [:]
        if record.kind == .grid && (change.copies != nil || change.declaredDisk != nil || change.limit != nil) {
            throw TroveError(.usage, "'\(record.label)' is a grid: its copies count what their shares survive, and its disks are its members' (set those on the member stores).")
        }
        if let copies = change.copies {
            guard (0...16).contains(copies) else { throw TroveError(.usage, "--copies must be between 0 and 16.") }
            record.copies = copies
            changes.append(.setCopyWeights(store: record.id, copies: copies))
            details["copies"] = DetailValue(copies)
        }
        if let noNew = change.noNewCopies {
            record.noNewCopies = noNew
            details["no_new_copies"] = .text(noNew ? "yes" : "no")
        }
        if let label = change.label, label != record.label {
            if try catalog.stores().contains(where: { $0.label == label }) {
                throw TroveError(.storeConflict, "A store called '\(label)' already exists; choose another label.")
            }
            details["label"] = .text(label)
            record.label = label
        }
        if let declared = change.declaredDisk {
            record.declaredDisk = declared
            details["disk"] = .text(declared ?? "detected")
        }
        if let limit = change.limit {
            record.config.limit = limit
            details["limit"] = .text(limit.map { "\($0) bytes/s" } ?? "none")
        }
        if change.trust {
            guard record.trust != .purged else {
                throw TroveError(.usage, "Store '\(record.label)' was purged; re-attach its folder with `trove store add` instead.")
            }
            record.trust = .trusted
            if change.noNewCopies == nil { record.noNewCopies = false }
            // Copies count again only once each re-verifies (scrub, verify or heal does that).
            changes.append(.setCopyWeights(store: record.id, copies: 0))
            details["trust"] = "trusted (copies count once re-verified)"
        }
        changes.insert(.saveStore(record), at: 0)
        // A changed store may be what kept files stuck: heal finds out again.
        changes.append(.replaceStuck([]))
        changes.append(.event(Event(time: clock.now(), kind: .storeChanged, storeID: record.id, details: details)))
        try catalog.apply(changes)
        return record
    }
}

extension Library {
    /// Forgets a store (its copy records are dropped; the folder is left untouched). Refused when
    /// some file would be left with no copy anywhere, unless `force`.
    public func removeStore(_ name: String, force: Bool) throws -> (record: StoreRecord, copies: Int) {
        var record = try storeRecord(name)
        if let grid = try catalog.stores().first(where: { $0.trust != .purged && $0.config.grid?.members.contains(record.id) == true }) {
            throw TroveError(.usage, "Store '\(record.label)' is a member of the grid '\(grid.label)', which keeps shares on it; a grid's members cannot be removed yet (remove the grid first).")
        }
        let copies = try catalog.copies(onStore: record.id)
        var orphans = 0
        for copy in copies where try catalog.copies(of: copy.fileID).count == 1 { orphans += 1 }
        if orphans > 0 && !force {
            throw TroveError(.usage, "Store '\(record.label)' holds the only copy of \(orphans) file\(orphans == 1 ? "" : "s"); run `trove heal` with another store connected first, or pass --force to forget them.")
        }
        record.trust = .purged
        try catalog.apply([
            .removeCopies(store: record.id), .saveStore(record), .replaceStuck([]),
            .event(Event(time: clock.now(), kind: .storePurged, storeID: record.id, details: [
                "reason": "removed by the user", "count": DetailValue(copies.count), "label": .text(record.label),
            ])),
        ])
        try packIndex?.forgetPacks(store: record.id)
        return (record, copies.count)
    }
}

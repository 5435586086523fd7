import Foundation
import TroveCore
import TroveStorage
import TroveStores

/// What `grid create` is asked to make.
public struct GridRequest: Sendable {
    public var label: String
    public var k: Int
    public var n: Int
    public var happy: Int?
    public var repairAt: Int?
    /// Labels of the member stores.
    public var members: [String]

    public init(label: String, k: Int, n: Int, happy: Int? = nil, repairAt: Int? = nil, members: [String]) {
        self.label = label
        self.k = k
        self.n = n
        self.happy = happy
        self.repairAt = repairAt
        self.members = members
    }
}

/// What one pass over a grid's copies did.
public struct GridPass: Sendable, Codable, Equatable {
    public var audited = 0
    public var sharesWritten = 0
    public var problems: [String] = []
}

extension Library {
    /// Makes a grid store over existing stores (each gets a share store of its own). Its copies
    /// count what their shares survive.
    public func createGrid(_ request: GridRequest) throws -> StoreRecord {
        let known = try catalog.stores()
        let label = request.label
        guard !label.isEmpty, !label.contains("/"), !label.hasPrefix("-") else { throw TroveError(.usage, "Give the grid a label.") }
        if known.contains(where: { $0.label == label && $0.trust != .purged }) {
            throw TroveError(.storeConflict, "A store called '\(label)' already exists; choose another label.")
        }
        let members = try gridMembers(request.members, known: known)
        let happy = request.happy ?? min(request.n, Set(members.map(\.domain)).count)
        let config = GridConfig(k: request.k, n: request.n, happy: happy, repairAt: request.repairAt, members: members.map(\.id))
        if let problem = GridConfig.problem(k: config.k, n: config.n, happy: config.happy, repairAt: config.repairAt,
                                            members: members.count, domains: Set(members.map(\.domain)).count) {
            throw TroveError(.usage, problem)
        }
        let now = clock.now()
        var record = StoreRecord(id: StoreIdentity.newID(), label: label, kind: .grid, location: "grid:" + label, copies: 0,
                                 created: now, lastSeen: now, config: StoreConfig(grid: config), shareDomains: members.map(\.domain))
        try makeShareStores(for: record, on: members)
        record.copies = Self.newCopyWeight(config, members: members)
        try catalog.apply([
            .saveStore(record), .replaceStuck([]),
            .event(Event(time: now, kind: .storeAdded, storeID: record.id, details: [
                "label": .text(label), "location": .text(record.location), "kind": "grid",
                "k": DetailValue(config.k), "n": DetailValue(config.n), "members": .text(members.map(\.label).joined(separator: ",")),
            ])),
        ])
        return record
    }

    /// Adds member stores to a grid; the next heal rebalances shares onto them (one per store).
    public func addGridMembers(_ label: String, members labels: [String]) throws -> StoreRecord {
        var record = try storeRecord(label)
        guard var config = record.config.grid else { throw TroveError(.usage, "'\(record.label)' is not a grid.") }
        let known = try catalog.stores()
        let added = try gridMembers(labels, known: known)
        if let already = added.first(where: { config.members.contains($0.id) }) {
            throw TroveError(.usage, "'\(already.label)' is already a member of the grid '\(record.label)'.")
        }
        guard config.members.count + added.count <= config.n else {
            throw TroveError(.usage, "The grid '\(record.label)' makes \(config.n) shares of each object and places one per member; it has \(config.members.count) members, so at most \(config.n - config.members.count) more fit.")
        }
        try makeShareStores(for: record, on: added)
        config.members += added.map(\.id)
        config.rebalance = true
        record.config.grid = config
        let members = config.members.compactMap { id in known.first { $0.id == id } }
        record.shareDomains = members.map(\.domain)
        record.copies = Self.newCopyWeight(config, members: members)
        try catalog.apply([.saveStore(record), .replaceStuck([]),
                           .event(Event(time: clock.now(), kind: .storeChanged, storeID: record.id, details: [
                               "label": .text(record.label), "members_added": .text(added.map(\.label).joined(separator: ",")),
                           ]))])
        return record
    }

    /// The catalog records the public half of the library's head-signing key the first time a
    /// grid needs it; from then on every machine must sign with that key (copied to it), never
    /// with one of its own that readers elsewhere would refuse.
    func pinHeadKey() throws {
        if let pinned = try catalog.setting(Self.headKeySetting), let bytes = Data(base64Encoded: pinned) {
            registry.headPublicKey = [UInt8](bytes)
            return
        }
        let key = try storeCall { try registry.headKey() }
        registry.headPublicKey = Array(key.publicKey.rawRepresentation)
        try catalog.apply([.setSetting(key: Self.headKeySetting, value: key.publicKey.rawRepresentation.base64EncodedString())])
    }

    static let headKeySetting = "head_public_key"

    /// The member stores named, checked: known, not grids, not purged, each named once.
    func gridMembers(_ labels: [String], known: [StoreRecord]) throws -> [StoreRecord] {
        var members: [StoreRecord] = []
        for name in labels {
            guard let member = known.first(where: { ($0.label == name || $0.id == name) && $0.trust != .purged }) else {
                throw TroveError(.storeUnknown, "There is no store called '\(name)' to make a grid member of; add it first with `trove store add`.")
            }
            guard member.kind != .grid else { throw TroveError(.usage, "'\(name)' is a grid; a grid's members are stores.") }
            guard !members.contains(where: { $0.id == member.id }) else { throw TroveError(.usage, "'\(name)' is named twice.") }
            members.append(member)
        }
        return members
    }

    /// Makes each member's share store for the grid; every member must be reachable.
    func makeShareStores(for grid: StoreRecord, on members: [StoreRecord]) throws {
        let observed = try observeStores(members)
        if let away = observed.first(where: { !$0.isConnected }) {
            throw TroveError(.storeNotConnected, "The store '\(away.record.label)' is not connected; a grid's members must all be reachable when they join. Plug it in or mount it, then retry.")
        }
        for member in members { _ = try storeCall { try registry.shareStore(of: member, grid: grid, create: true) } }
    }

    /// Works out each grid's weight from its members as just observed (trusted, and holding
    /// their share store when reachable): a member downgraded, purged or wiped lowers the grid
    /// at once, and no copy there counts for more than the members left can hold. A rise counts
    /// copy by copy, once heal has audited them.
    func refreshGrids(_ observed: inout [ObservedStore]) throws {
        for (index, record, changes) in try gridRefresh(observed) {
            observed[index].record = record
            try catalog.apply(changes)
        }
    }

    /// What `refreshGrids` would change: for each grid whose weight or counting members changed,
    /// its record as it should be and the catalog changes that record it.
    func gridRefresh(_ observed: [ObservedStore]) throws -> [(index: Int, record: StoreRecord, changes: [CatalogChange])] {
        guard observed.contains(where: { $0.record.kind == .grid }) else { return [] }
        var result: [(index: Int, record: StoreRecord, changes: [CatalogChange])] = []
        let records = try catalog.stores()
        for index in observed.indices where observed[index].record.kind == .grid {
            guard var record = records.first(where: { $0.id == observed[index].record.id }), let config = record.config.grid else { continue }
            let members = config.members.compactMap { id in records.first { $0.id == id } }.filter { $0.trust != .purged }
            let wiped = Set(((observed[index].store as? PackingStore)?.base as? GridStore ?? observed[index].store as? GridStore)?.members.filter { $0.connected && $0.shares == nil }.map(\.record.id) ?? [])
            let counting = members.filter { $0.trust == .trusted && !wiped.contains($0.id) }.map(\.domain)
            let weight = gridStoreWeight(config, trustedMemberDomains: counting)
            let domains = members.map(\.domain)
            // While some member does not count (downgraded, purged, wiped), no copy counts for
            // more than the members that do could hold; when all count, no audit can have given
            // more, so nothing is written.
            let most = gridWeight(shareDomains: Array(counting.prefix(config.n)), k: config.k)
            var changes: [CatalogChange] = counting.count < config.members.count ? [.capCopyWeights(store: record.id, copies: most)] : []
            if weight != record.copies || domains != record.shareDomains ?? [] {
                record.copies = weight
                record.shareDomains = domains
                changes.insert(.saveStore(record), at: 0)
            }
            if !changes.isEmpty { result.append((index, record, changes)) }
        }
        return result
    }

    /// The event for an audit that wrote shares (or found too few to read the object).
    static func sharesRepaired(_ audit: ShareAudit, of id: ContentID, on record: StoreRecord, at now: Date) -> CatalogChange {
        .event(Event(time: now, kind: .sharesRepaired, storeID: record.id, fileID: id, details: [
            "label": .text(record.label), "good": DetailValue(audit.good), "repaired": .text(audit.repaired.joined(separator: ",")),
            "problems": .text(audit.problems.joined(separator: "; ")),
        ]))
    }

    /// What a new copy on a grid counts for, with the members' trust as it is.
    static func newCopyWeight(_ config: GridConfig, members: [StoreRecord]) -> Int {
        gridStoreWeight(config, trustedMemberDomains: members.filter { $0.trust == .trusted }.map(\.domain))
    }

    /// What a grid copy counts for after an audit: what its shares survive, but never more than
    /// before while some member could not be asked (its share is presumed there, which must not
    /// raise a copy that may never have had one).
    static func gridCopyWeight(_ audit: ShareAudit, before: Int) -> Int {
        audit.unreachable.isEmpty ? audit.weight : min(before, audit.weight)
    }

    /// Audits the shares of a grid's copies that count for less than the grid can give (and
    /// every copy while a rebalance is pending), repairing those whose good shares have fallen
    /// to the repair threshold, and filling new members when rebalancing. Each copy's weight
    /// becomes what its shares survive now.
    func passOverGrid(_ observed: ObservedStore) throws -> GridPass {
        var pass = GridPass()
        guard let grid = observed.store as? ShareStore, var record = Optional(observed.record), let config = record.config.grid else { return pass }
        let full = grid.fullWeight
        let rebalancing = config.rebalance == true
        for copy in try catalog.copies(onStore: record.id) where rebalancing || copy.copies < full {
            guard !unreachable.contains(record.id) else { break }
            let audit: ShareAudit
            do { audit = try grid.audit(copy.fileID, fromMedia: false, repair: rebalancing ? .fill : .atThreshold) } catch let error as StoreError where error.kind == .unavailable {
                unreachable.note(record, reason: error.message)
                break
            } catch {
                // One object's trouble (a member full, a repair that could not decode) never
                // stops the pass: it is reported and the next copy is audited.
                pass.problems.append("\(copy.fileID) on the grid '\(record.label)': \(TroveError.from(any: error).message)")
                continue
            }
            pass.audited += 1
            pass.sharesWritten += audit.repaired.count
            var changes: [CatalogChange] = []
            let weight = Self.gridCopyWeight(audit, before: copy.copies)
            if weight != copy.copies {
                changes.append(.saveCopy(CopyRecord(fileID: copy.fileID, storeID: record.id, copies: weight, mtime: copy.mtime,
                                                    verified: copy.verified)))
            }
            if !audit.repaired.isEmpty || (audit.good < audit.needed && audit.unreachable.isEmpty) {
                pass.problems += audit.problems.map { "\(copy.fileID): \($0)" }
                changes.append(Self.sharesRepaired(audit, of: copy.fileID, on: record, at: clock.now()))
            }
            if !changes.isEmpty { try catalog.apply(changes) }
        }
        if rebalancing && !unreachable.contains(record.id) {
            record = try storeRecord(record.id)
            record.config.grid?.rebalance = nil
            try catalog.apply([.saveStore(record)])
        }
        return pass
    }
}

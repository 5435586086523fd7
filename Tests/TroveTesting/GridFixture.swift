import Foundation
import TroveCore
import TroveStorage
import TroveStores

/// A grid over fresh local folder stores, built the way the registry builds one for a library.
public struct GridFixture: @unchecked Sendable {
    public let folder: TempFolder
    public let record: StoreRecord
    public let memberRecords: [StoreRecord]
    public let registry: StoreRegistry

    /// `members` folder stores (each on a disk of its own) and a k-of-n grid over them.
    public init(k: Int, n: Int, members: Int, happy: Int? = nil, repairAt: Int? = nil) throws {
        folder = try TempFolder()
        registry = StoreRegistry(libraryPath: folder.folder("library"), environment: [:])
        var records: [StoreRecord] = []
        for index in 0..<members {
            let root = folder.folder("member\(index)")
            let store = try LocalStore.create(at: root, label: "m\(index)", copies: 1, now: Date())
            records.append(StoreRecord(id: store.identity.id, label: "m\(index)", kind: .local, location: root, created: Date(),
                                       disk: "test:disk\(index)"))
        }
        memberRecords = records
        let config = GridConfig(k: k, n: n, happy: happy, repairAt: repairAt, members: records.map(\.id))
        record = StoreRecord(id: StoreIdentity.newID(), label: "grid", kind: .grid, location: "grid", copies: 1, created: Date(),
                             config: StoreConfig(grid: config), shareDomains: records.map(\.domain))
        for member in records { _ = try registry.shareStore(of: member, grid: record, create: true) }
    }

    /// The grid as the registry opens it now (members whose folder is gone count as unreachable).
    public func open() throws -> GridStore {
        let observed = memberRecords.map { member -> (record: StoreRecord, observation: StoreObservation) in
            (member, registry.observe(member))
        }
        guard let grid = registry.observeGrid(record, members: observed).store as? GridStore else {
            throw StoreError(.unavailable, "the grid cannot be opened")
        }
        return grid
    }

    /// The grid with some members' share stores replaced (fault injection): `wrap[i]` gets
    /// member i's share store and returns what the grid uses instead.
    public func open(wrapping wrap: [Int: (any Store) -> any Store], members count: Int? = nil) throws -> GridStore {
        let registry = self.registry, original = record
        let members = try memberRecords.prefix(count ?? memberRecords.count).enumerated().map { index, member in
            let shares = try registry.shareStore(of: member, grid: original, create: true)!
            return GridStore.Member(record: member, shares: wrap[index].map { $0(shares) } ?? shares, connected: true)
        }
        var changed = original
        changed.config.grid?.members = members.map(\.record.id)
        changed.config.grid?.happy = min(original.config.grid!.happy, members.count)
        let record = changed
        return try GridStore(record: record, members: members, headKey: { try registry.headKey() }) {
            try registry.shareStore(of: $0, grid: record, create: true)!
        }
    }

    /// Where member `index` keeps this grid's shares.
    public func shareFolder(_ index: Int) -> String { StoreRegistry.shareLocation(of: memberRecords[index], grid: record.id).location }

    /// The path of the share of `id` on member `index`.
    public func sharePath(_ index: Int, _ id: ContentID) throws -> String {
        guard let store = try LocalStore.open(at: shareFolder(index)) else { throw StoreError(.notFound, "no share store on member \(index)") }
        return store.objectPath(id)
    }
}

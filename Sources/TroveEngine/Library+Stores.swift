import Dispatch
import Foundation
import TroveCore
import TroveStorage
import TroveStores

/// What `store add` is asked to attach.
public struct StoreRequest: Sendable {
    /// A folder, or `s3://bucket/prefix`.
    public var location: String
    public var label: String?
    public var copies: Int
    /// A failure domain declared by name.
    public var disk: String?
    /// Endpoint, region, addressing, profile and limit (bucket and prefix come from the location).
    public var config: StoreConfig
    /// Make a new store encrypted.
    public var encrypt: Bool
    /// A key file (mode 0600) that unlocks the store instead of a passphrase.
    public var keyFile: String?

    public init(location: String, label: String? = nil, copies: Int = 1, disk: String? = nil, config: StoreConfig = StoreConfig(),
                encrypt: Bool = false, keyFile: String? = nil) {
        self.location = location
        self.label = label
        self.copies = copies
        self.disk = disk
        self.config = config
        self.encrypt = encrypt
        self.keyFile = keyFile
    }
}

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
    public func addStore(folder: String, label: String?, copies: Int = 1, disk declaredDisk: String? = nil,
                         progress: any ProgressReporter = SilentProgress()) throws -> (record: StoreRecord, adopted: AdoptionReport?) {
        try addStore(StoreRequest(location: folder, label: label, copies: copies, disk: declaredDisk), progress: progress)
    }

    /// Makes a store at a location (a folder, or `s3://bucket/prefix`), or adopts the store
    /// already there. With `encrypt` a new store is encrypted; an encrypted store found there is
    /// unlocked with the key file or passphrase.
    public func addStore(_ request: StoreRequest, progress: any ProgressReporter = SilentProgress()) throws
        -> (record: StoreRecord, adopted: AdoptionReport?) {
        guard request.copies >= 0 && request.copies <= 16 else { throw TroveError(.usage, "--copies must be between 0 and 16.") }
        var config = request.config
        config.keyFile = request.keyFile.map(LibraryLocation.absolute)
        let (kind, location) = try StoreRegistry.resolve(request.location, config: &config, absolute: LibraryLocation.absolute)
        let now = clock.now()
        let known = try catalog.stores()
        if kind == .local { try refuseNesting(location, known: known) }
        let found = try storeCall { try registry.openRaw(kind: kind, location: location, config: config) }
        if kind != .local, found == nil,
           let same = known.first(where: { $0.location == location && $0.config.endpoint == config.endpoint && $0.trust != .purged }) {
            throw TroveError(.storeConflict, "\(location) is where the store '\(same.label)' lives, but it holds no store now; check the endpoint and credentials, or `trove store remove \(same.label)` first.")
        }
        if let existing = found {
            // A store another machine hosts carries that machine's name for it; here it may have its own.
            let label = kind == .peer ? (request.label ?? existing.identity.label) : existing.identity.label
            if kind != .peer, let asked = request.label, asked != existing.identity.label {
                throw TroveError(.storeConflict, "\(location) already holds the store '\(existing.identity.label)'; re-attach it without --label, or under that label.")
            }
            if let other = known.first(where: { $0.label == label && $0.id != existing.identity.id }) {
                throw TroveError(.storeConflict, "Another store is already called '\(other.label)'; rename one with `trove store set`.")
            }
            if existing.identity.encryption != nil {
                config.keyFile = try storeCall { try registry.attachEncrypted(existing, keyFile: config.keyFile) }
            } else if request.encrypt {
                throw TroveError(.storeConflict, "\(location) already holds the unencrypted store '\(existing.identity.label)'; encryption is chosen when a store is made. Add an empty folder or prefix with --encrypt instead.")
            }
            let wrapped = try storeCall { try registry.wrap(existing, config: config) }
            return try adopt(wrapped, kind: kind, label: label, location: location, config: config,
                             fileSystemUUID: registry.filesystemUUID(of: existing),
                             known: known.first { $0.id == existing.identity.id }, now: now, declaredDisk: request.disk, progress: progress)
        }
        let name = request.label ?? (kind == .local ? (location as NSString).lastPathComponent : config.bucket ?? "")
        guard !name.isEmpty, !name.contains("/") else { throw TroveError(.usage, "Give the store a label with --label.") }
        if known.contains(where: { $0.label == name }) {
            throw TroveError(.storeConflict, "A store called '\(name)' already exists; choose another --label.")
        }
        let id = StoreIdentity.newID()
        var encryption: StoreEncryption?
        if request.encrypt {
            let made = try storeCall { try registry.newEncryption(keyFile: config.keyFile, storeID: id) }
            encryption = made.0
            config.keyFile = made.keyFile
        }
        let raw = try storeCall {
            try registry.createRaw(kind: kind, id: id, location: location, config: config, label: name, copies: request.copies, now: now,
                                   library: try catalog.setting("library_id"), encryption: encryption)
        }
        let store = try storeCall { try registry.wrap(raw, config: config) }
        let space = try? store.space()
        let disk = store.disk()
        let record = StoreRecord(id: raw.identity.id, label: name, kind: kind, location: location, copies: request.copies,
                                 filesystemUUID: raw.identity.filesystemUUID, created: now, lastSeen: now,
                                 capacity: space?.capacity, free: space?.free, disk: disk?.id, diskName: disk?.name,
                                 declaredDisk: request.disk, readOnly: store.isReadOnly(), config: config, encrypted: encryption != nil,
                                 machine: DiskIdentity.machineName(), removable: disk?.removable)
        try catalog.apply([
            .saveStore(record),
            // What heal found stuck may be fixed by this store: heal finds out again.
            .replaceStuck([]),
            .event(Event(time: now, kind: .storeAdded, storeID: record.id,
                         details: ["label": .text(name), "location": .text(location), "encrypted": .text(encryption != nil ? "yes" : "no")])),
        ])
        return (record, nil)
    }

    /// Runs a store call, turning a store error into the user-facing error it stands for.
    func storeCall<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as StoreError { throw error.troveError }
    }

    /// Refuses a folder that would make two store records of one place, or nest stores: the
    /// library's folder or one around it, a folder inside a store (or its `.trove`), a folder
    /// holding a store, and a known store's folder reached another way (path, symlink, bind
    /// mount) whose identity file is gone or damaged.
    func refuseNesting(_ folder: String, known: [StoreRecord]) throws {
        let resolved = (folder as NSString).resolvingSymlinksInPath
        let library = (path as NSString).resolvingSymlinksInPath
        func inside(_ a: String, _ b: String) -> Bool { a == b || a.hasPrefix(b == "/" ? "/" : b + "/") }
        if inside(resolved, library) {
            throw TroveError(.usage, "A store cannot live inside the library folder \(path); pick a folder on a drive.")
        }
        if inside(library, resolved) {
            throw TroveError(.usage, "\(folder) holds the library (\(path)); a store must be a folder of its own on a drive, not around the library.")
        }
        let here = try? POSIX.stat(folder)
        for store in known where store.kind == .local && store.trust != .purged {
            let location = (store.location as NSString).resolvingSymlinksInPath
            let there = try? POSIX.stat(store.location)
            let same = location == resolved
                || (here != nil && there != nil && here!.st_dev == there!.st_dev && here!.st_ino == there!.st_ino)
            if same, (try? registry.openRaw(kind: .local, location: folder, config: store.config)) == nil {
                // No .trove at all: most likely the drive is not mounted here right now.
                guard FileManager.default.fileExists(atPath: folder + "/.trove") else {
                    throw TroveError(.storeConflict, "\(folder) is where the store '\(store.label)' lives, but it holds no .trove folder now: its drive is probably not mounted. Plug in or mount that drive (`trove store list` shows it); Trove will not make a second store in its place.")
                }
                throw TroveError(.storeConflict, "\(folder) is already the store '\(store.label)', but its identity file (.trove/store.json) is missing or damaged; adding it again would count one drive twice. Run `trove store remove \(store.label)`, then `trove store add \(folder)` to adopt what it holds.")
            }
            if !same && inside(resolved, location) {
                throw TroveError(.usage, "\(folder) is inside the store '\(store.label)' (\(store.location)); a store inside a store would count one drive twice. Pick a folder outside it.")
            }
            if !same && inside(location, resolved) {
                throw TroveError(.usage, "\(folder) holds the store '\(store.label)' (\(store.location)); a store around a store would count one drive twice. Pick a folder of its own.")
            }
        }
        // A store another library made, somewhere above: still a store.
        var parent = (resolved as NSString).deletingLastPathComponent
        while parent != "/" && !parent.isEmpty {
            if FileManager.default.fileExists(atPath: parent + "/.trove/store.json") || (parent as NSString).lastPathComponent == ".trove" {
                throw TroveError(.usage, "\(folder) is inside the Trove store at \(parent); pick a folder outside it.")
            }
            parent = (parent as NSString).deletingLastPathComponent
        }
    }

    /// Other stores on the same disk as `record` (their copies would not survive that disk together).
    public func storesSharingDisk(with record: StoreRecord) throws -> [StoreRecord] {
        try catalog.stores().filter { $0.id != record.id && $0.trust != .purged && $0.domain == record.domain }
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
    /// With `cleaning`, temporaries a killed Trove left in the stores are removed on the way.
    public func observeStores(_ records: [StoreRecord]? = nil, cleaning: Bool = true) throws -> [ObservedStore] {
        let all = try catalog.stores()
        let records = records ?? all.filter { $0.trust != .purged }
        if records.contains(where: { $0.kind == .grid }) { try pinHeadKey() }
        // A grid is built from its members as they are found: look for those too.
        let memberIDs = Set(records.flatMap { $0.config.grid?.members ?? [] })
        let plain = records.filter { $0.kind != .grid }
        let looked = plain + all.filter { member in
            memberIDs.contains(member.id) && member.trust != .purged && !plain.contains { $0.id == member.id }
        }
        let results = ObservationBox(count: looked.count)
        let group = DispatchGroup()
        let locate = self.locate
        for (index, record) in looked.enumerated() {
            DispatchQueue.global().async(group: group) {
                results.set(index, locate(record))
            }
        }
        _ = group.wait(timeout: .now() + storeTimeout)
        var found: [String: StoreObservation] = [:]
        for (index, record) in looked.enumerated() {
            found[record.id] = results.get(index) ?? .missing(reason: "did not answer within \(Int(storeTimeout)) s")
        }
        let observed = records.map { record in
            guard record.kind == .grid else { return packing(ObservedStore(record: record, observation: found[record.id]!)) }
            let members = (record.config.grid?.members ?? []).compactMap { id in all.first { $0.id == id && $0.trust != .purged } }
            return packing(ObservedStore(record: record, observation: registry.observeGrid(record, members: members.map {
                ($0, found[$0.id] ?? .missing(reason: "not looked for"))
            })))
        }
        // Temporaries a killed Trove left behind (their process is gone) go whenever a store is
        // opened, not only at gc: a crash never leaves space taken for long.
        if cleaning { for item in observed { _ = try? item.store?.cleanTemporary() } }
        return observed
    }

    /// The catalog's pack index, where the library keeps which object lives in which pack.
    var packIndex: (any PackIndex)? { catalog as? any PackIndex }

    /// A connected store as the engine uses it: small objects committed together go into packs
    /// (docs/packs.md), indexed in the catalog.
    func packing(_ observed: ObservedStore) -> ObservedStore {
        guard case .connected(let store) = observed.observation, let index = packIndex else { return observed }
        let packing = (store as? any ShareStore).map { PackingShareStore($0, storeID: observed.record.id, index: index) }
            ?? PackingStore(store, storeID: observed.record.id, index: index)
        return ObservedStore(record: observed.record, observation: .connected(packing))
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

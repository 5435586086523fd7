import Foundation
import Logging
import TroveCore
import TrovePostgres
import TroveStorage
import TroveStores

/// A Trove library: the catalog plus the stores it indexes. Every engine operation hangs off it.
public final class Library: @unchecked Sendable {
    /// The library folder (holds `catalog.sqlite`).
    public let path: String
    public let catalog: any Catalog
    /// The snapshot index (the same SQLite database by default).
    public let snapshotIndex: any SnapshotCatalog
    /// The journal and settings behind the library's records in the stores (the same database).
    public let records: any RecordsCatalog
    public let clock: TroveClock
    public let logger: Logger
    /// Builds stores from their records (kinds, encryption, limits).
    public var registry: StoreRegistry
    private var customLocate: (@Sendable (StoreRecord) -> StoreObservation)?
    /// Finds a store where the catalog last saw it (the registry's answer unless set); tests
    /// inject fault-injecting stores here.
    public var locate: @Sendable (StoreRecord) -> StoreObservation {
        get {
            customLocate ?? { [registry, catalog] record in
                var registry = registry
                registry.libraryID = { try? catalog.setting("library_id") }
                return registry.observe(record)
            }
        }
        set { customLocate = newValue }
    }
    /// How leaves are streamed and hashed.
    public var pipeline = LeafPipeline()
    /// How long opening one store may take before it counts as unreachable.
    public var storeTimeout: TimeInterval = 10
    /// Serialises corruption handling by concurrent workers (one downgrade per store, not one each).
    let corruptionLock = NSLock()
    /// Stores that stopped answering during the current run (cleared when stores are observed).
    public let unreachable = UnreachableStores()
    /// Reads in flight and delivery rates per store, to spread reads over the copies.
    let readLoad = ReadLoad()
    /// The catalog file as opened (device, inode): a lock taken later checks it is still the one
    /// in place (a `catalog rebuild` replaces it).
    let catalogFile: (UInt64, UInt64)?

    static func catalogPath(_ folder: String) -> String { folder + "/catalog.sqlite" }
    /// Where a library whose catalog is in PostgreSQL keeps the catalog's URL (never a password).
    static func catalogURLPath(_ folder: String) -> String { folder + "/catalog.url" }

    /// The PostgreSQL catalog this library folder uses, if any.
    public static func catalogURL(of folder: String) throws -> PostgresURL? {
        guard let text = try? String(contentsOfFile: catalogURLPath(folder), encoding: .utf8) else { return nil }
        return try PostgresURL(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Opens the catalog the library folder names: PostgreSQL when it holds `catalog.url`,
    /// else the embedded SQLite file.
    static func openCatalog(_ folder: String, logger: Logger) throws -> any Catalog & SnapshotCatalog & RecordsCatalog {
        if let url = try catalogURL(of: folder) {
            let catalog = try PostgresCatalog(url: url, logger: logger)
            if let moved = try catalog.setting(movedSetting) {
                throw TroveError(.catalog, "The library's catalog moved from \(url) to \(moved) (`trove catalog migrate`); nothing was done. \(moved.hasPrefix("postgresql://") ? "Write \(moved) into \(catalogURLPath(folder)) to use it from this machine." : "It is a SQLite file on the machine that moved it; move it to PostgreSQL again to share it.")")
            }
            return catalog
        }
        return try SQLiteCatalog(path: catalogPath(folder), logger: logger)
    }

    static func hasCatalog(_ folder: String) -> Bool {
        FileManager.default.fileExists(atPath: catalogPath(folder)) || FileManager.default.fileExists(atPath: catalogURLPath(folder))
    }

    init(path: String, catalog: any Catalog & SnapshotCatalog & RecordsCatalog, clock: TroveClock, logger: Logger) {
        self.path = path
        self.catalog = catalog
        self.snapshotIndex = catalog
        self.records = catalog
        self.catalogFile = Self.fileIdentity(Self.catalogPath(path))
        self.clock = clock
        self.logger = logger
        self.registry = StoreRegistry(libraryPath: path)
    }

    /// Creates a new library in `folder` (made if missing); refuses to touch an existing one.
    /// With `shared`, the catalog is that PostgreSQL database: a new library when it is empty,
    /// else this folder joins the library it already holds (another machine's).
    public static func create(at folder: String, copies: Int = 3, shared: PostgresURL? = nil, clock: TroveClock = .system,
                              logger: Logger = Logger(label: "trove")) throws -> Library {
        // Checked before anything is created: a refused option leaves no library behind.
        try validateTarget(copies)
        if hasCatalog(folder) {
            throw TroveError(.libraryExists, "A Trove library already exists at \(folder); use it as it is, or pass --library to make another.")
        }
        // A server that cannot be reached leaves no folder behind either.
        let sharedCatalog = try shared.map { try PostgresCatalog(url: $0, logger: logger) }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw TroveError(.storeNotWritable, "Cannot create the library folder \(folder) (\(error.localizedDescription)); choose a writable place with --library.")
        }
        let catalog: any Catalog & SnapshotCatalog & RecordsCatalog
        if let shared, let sharedCatalog {
            catalog = sharedCatalog
            try AtomicFile.write(Data((shared.description + "\n").utf8), to: catalogURLPath(folder), in: folder)
            if try catalog.setting("library_id") != nil {
                return Library(path: folder, catalog: catalog, clock: clock, logger: logger)
            }
        } else {
            catalog = try SQLiteCatalog(path: catalogPath(folder), logger: logger)
        }
        let now = clock.now()
        try catalog.apply([
            .setSetting(key: "library_id", value: StoreIdentity.newID()),
            .setSetting(key: "target_copies", value: String(copies)),
            // Automatic backups of the records wait a full interval after creation (the first
            // minutes of a library are mostly setting up).
            .setSetting(key: RecordsSetting.time, value: String(now.timeIntervalSince1970)),
            .event(Event(time: now, kind: .libraryCreated, details: ["path": .text(folder)])),
        ])
        return Library(path: folder, catalog: catalog, clock: clock, logger: logger)
    }

    /// Opens an existing library; a clear error when there is none.
    public static func open(at folder: String, clock: TroveClock = .system,
                            logger: Logger = Logger(label: "trove")) throws -> Library {
        guard hasCatalog(folder) else {
            throw TroveError(.libraryMissing, "There is no Trove library at \(folder); run `trove init` to create one, or pass --library PATH.")
        }
        let catalog = try openCatalog(folder, logger: logger)
        return Library(path: folder, catalog: catalog, clock: clock, logger: logger)
    }

    static func fileIdentity(_ path: String) -> (UInt64, UInt64)? {
        (try? POSIX.stat(path)).flatMap { $0 }.map { (UInt64($0.st_dev), UInt64($0.st_ino)) }
    }

    /// Takes a library lock (see `LibraryLock`); once held, the catalog must still be the file
    /// this library opened: a command that waited while `catalog rebuild` replaced it would
    /// otherwise write to the old file, and its work would be lost from the new catalog.
    func lock(_ kind: LibraryLock.Kind, exclusive: Bool, wait: Bool) throws -> LibraryLock? {
        if let shared = catalog as? SharedLocks {
            return try shared.acquireLock(kind.rawValue, exclusive: exclusive, wait: wait).map(LibraryLock.init(held:))
        }
        guard let lock = try LibraryLock.acquire(kind, in: path, exclusive: exclusive, wait: wait) else { return nil }
        if let opened = catalogFile, let now = Self.fileIdentity(Self.catalogPath(path)), opened != now {
            throw TroveError(.busy, "The catalog was rebuilt while this command waited; nothing was done. Run the command again.")
        }
        return lock
    }

    /// Copies each file should have (sum of store weights on trusted stores). Default 3.
    public func targetCopies() throws -> Int {
        Int(try catalog.setting("target_copies") ?? "") ?? 3
    }

    static func validateTarget(_ copies: Int) throws {
        guard (1...16).contains(copies) else {
            throw TroveError(.usage, "The target must be between 1 and 16 copies, not \(copies).")
        }
    }

    /// Sets the library-wide durability target.
    public func setTargetCopies(_ copies: Int) throws {
        try Self.validateTarget(copies)
        try catalog.apply([.setSetting(key: "target_copies", value: String(copies))])
    }
}

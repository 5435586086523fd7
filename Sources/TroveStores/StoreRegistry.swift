import Crypto
import Foundation
import TroveCore
import TroveStorage
import TrovePeer

/// Builds any store from its record: the kind's own store (a folder, a bucket), unlocked and
/// wrapped as its configuration says (encryption, retries, a bandwidth limit). The engine
/// names no concrete store type; it asks the registry.
public struct StoreRegistry: Sendable {
    /// The library folder (encryption key files live in `keys/` under it).
    public let libraryPath: String
    /// Where credentials and TROVE_PASSPHRASE are read.
    public let environment: [String: String]
    /// Asks the user for a passphrase (the prompt is given); nil when nobody can be asked.
    public let askPassphrase: @Sendable (String) -> String?
    /// The public half of the library's head-signing key as the catalog records it: a machine
    /// whose key file differs (or is missing) must not sign heads with a key of its own.
    public var headPublicKey: [UInt8]?
    /// This library's ID (asked only when a store might be reached through a machine of the
    /// same library).
    public var libraryID: @Sendable () -> String? = { nil }

    public init(libraryPath: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                askPassphrase: @escaping @Sendable (String) -> String? = { _ in nil }) {
        self.libraryPath = libraryPath
        self.environment = environment
        self.askPassphrase = askPassphrase
    }

    /// The kind a location names: `s3://…`, `peer://…` or a folder.
    public static func kind(of location: String) -> StoreKind {
        location.hasPrefix("s3://") ? .s3 : location.hasPrefix("peer://") ? .peer : .local
    }

    /// The kind a location names and its canonical form; an S3 location's bucket and prefix go
    /// into the configuration.
    public static func resolve(_ text: String, config: inout StoreConfig, absolute: (String) -> String) throws -> (StoreKind, String) {
        switch kind(of: text) {
        case .local:
            return (.local, absolute(text))
        case .s3:
            guard let parsed = S3Store.parse(text) else {
                throw TroveError(.usage, "\(text) is not an S3 location; write s3://BUCKET[/PREFIX].")
            }
            config.bucket = parsed.bucket
            config.prefix = parsed.prefix
            return (.s3, S3Store.location(config))
        case .grid:
            throw TroveError(.usage, "A grid is made with `trove grid create`, not `trove store add`.")
        case .peer:
            guard let parsed = PeerStore.parse(text) else {
                throw TroveError(.usage, "\(text) is not a peer store; write peer://PEER/NAME (PEER as `trove peer list` shows it, NAME as that machine's `serve --host-store` names it).")
            }
            config.peer = parsed.peer
            config.hostedStore = parsed.name
            return (.peer, PeerStore.location(peer: parsed.peer, name: parsed.name))
        }
    }

    /// The store at a location as it is (not unlocked or wrapped), or nil when none is there.
    public func openRaw(kind: StoreKind, location: String, config: StoreConfig) throws -> (any Store)? {
        switch kind {
        case .local: return try LocalStore.open(at: location)
        case .s3: return try S3Store.open(config, environment: environment)
        case .grid: throw StoreError(.permissionDenied, "A grid is opened from its members (`StoreRegistry.observeGrid`).")
        case .peer: return try PeerStore.open(client: try peerClient(config), name: config.hostedStore ?? "")
        }
    }

    /// Makes a new store of the kind at the location.
    public func createRaw(kind: StoreKind, id: String, location: String, config: StoreConfig, label: String, copies: Int, now: Date,
                          library: String?, encryption: StoreEncryption?) throws -> any Store {
        switch kind {
        case .local:
            do {
                return try LocalStore.create(at: location, id: id, label: label, copies: copies, now: now, library: library,
                                             encryption: encryption)
            } catch let failure as POSIX.Failure { throw TroveError.from(failure) }
        case .s3:
            let identity = StoreIdentity(id: id, label: label,
                                         created: Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)), kind: .s3,
                                         copies: copies, filesystemUUID: nil, library: library, encryption: encryption)
            return try S3Store.create(config, identity: identity, environment: environment)
        case .grid:
            throw StoreError(.permissionDenied, "A grid is made with `trove grid create`.")
        case .peer:
            throw TroveError(.pathMissing, "'\(config.peer ?? "")' hosts no store named '\(config.hostedStore ?? "")'. Run `trove host add \(config.hostedStore ?? "NAME") FOLDER` on that machine (its `trove serve --listen` picks it up), then add the store again.")
        }
    }

    /// A client for the paired machine a peer store's configuration names.
    func peerClient(_ config: StoreConfig) throws -> PeerClient {
        let label = config.peer ?? ""
        guard let peer = try PeerBookFile(library: libraryPath).load().peer(label: label) else {
            throw StoreError(.permissionDenied, "This library is not paired with '\(label)' (or the pairing was revoked); run `trove peer join` with a code from that machine.")
        }
        guard let identity = try PeerIdentity.load(library: libraryPath) else {
            throw StoreError(.permissionDenied, "This library has no peer identity (keys/peer-cert.pem); pair again with `trove peer join`.")
        }
        return try PeerClient(peer: peer, identity: identity)
    }

    /// Rewrites a store's identity (to add a key that unlocks it).
    func replaceIdentity(of store: any Store, with identity: StoreIdentity) throws {
        switch store {
        case let local as LocalStore: try local.replaceIdentity(identity)
        case let s3 as S3Store: try s3.replaceIdentity(identity)
        default: throw StoreError(.permissionDenied, "\(store.location) cannot record a new key.")
        }
    }

    /// The filesystem UUID a store's folder is on now (local stores only).
    public func filesystemUUID(of store: any Store) -> String? {
        (store as? LocalStore).flatMap { FilesystemUUID.of(path: $0.root) }
    }

    /// Folders a tree walk must never enter: a local store's own `.trove` folder.
    public static func privateFolder(of record: StoreRecord) -> String? {
        record.kind == .local ? record.location + "/.trove" : nil
    }

    /// Wraps a raw store as its configuration says: unlocked when encrypted, retried when remote,
    /// limited when a bandwidth limit is set.
    public func wrap(_ raw: any Store, config: StoreConfig) throws -> any Store {
        // No RetryingStore here: the S3 client retries each request itself (wrapping it would
        // multiply the tries); RetryingStore is for kinds that do not.
        var store: any Store = raw
        if let s3 = raw as? S3Store { s3.spoolFolder = libraryPath + "/tmp" }
        if let encryption = raw.identity.encryption {
            let keys = try unlock(encryption, keyFile: config.keyFile, store: raw)
            store = EncryptedStore(store, keys: keys, chunkSize: encryption.chunkSize)
        }
        if let limit = config.limit, limit > 0 { store = ThrottledStore(store, bytesPerSecond: Double(limit)) }
        return store
    }

    /// The keys of an encrypted store: from its key file when that unlocks it, else from the
    /// passphrase (TROVE_PASSPHRASE, or asked), after which a key file is made for next time.
    func unlock(_ encryption: StoreEncryption, keyFile: String?, store raw: any Store) throws -> StoreKeys {
        var keyFileError: Error?
        if let keyFile {
            do {
                let key = try StoreKeys.readKeyFile(keyFile)
                if let (keys, _) = try? StoreKeys.unlock(encryption, keyFileKey: key, passphrase: nil) { return keys }
                keyFileError = StoreError(.permissionDenied, "The key file \(keyFile) does not unlock \(raw.location).")
            } catch { keyFileError = error }
        }
        guard let passphrase = passphrase(prompt: "Passphrase for the encrypted store '\(raw.identity.label)': ") else {
            throw keyFileError ?? StoreError(.permissionDenied, "The store \(raw.location) is encrypted: give its passphrase (TROVE_PASSPHRASE, or run in a terminal) or --key-file.")
        }
        let (keys, _) = try StoreKeys.unlock(encryption, keyFileKey: nil, passphrase: passphrase)
        return keys
    }

    /// The passphrase from TROVE_PASSPHRASE, else asked.
    public func passphrase(prompt: String) -> String? {
        if let value = environment["TROVE_PASSPHRASE"], !value.isEmpty { return value }
        return askPassphrase(prompt)
    }

    /// Where the library keeps the key file of a store it unlocked with a passphrase.
    public func keyFilePath(storeID: String) -> String { libraryPath + "/keys/\(storeID).key" }

    /// Encryption for a new store: the master key sealed under the user's key file, or under the
    /// passphrase and a key file the library keeps (mode 0600) for unattended runs. Returns the
    /// parameters and the key file the configuration should name.
    public func newEncryption(keyFile: String?, storeID: String) throws -> (StoreEncryption, keyFile: String) {
        if let keyFile {
            let key = try StoreKeys.readKeyFile(keyFile)
            return (try StoreKeys.create(passphrase: nil, keyFileKey: key, chunkSize: ContentHash.leafSize).0, keyFile)
        }
        guard let passphrase = passphrase(prompt: "Passphrase for the new encrypted store: ") else {
            throw TroveError(.usage, "--encrypt needs a passphrase (TROVE_PASSPHRASE, or run in a terminal) or --key-file FILE (mode 0600).")
        }
        guard passphrase.count >= 8 else { throw TroveError(.usage, "Choose a passphrase of at least 8 characters.") }
        let path = keyFilePath(storeID: storeID)
        let key = try StoreKeys.makeKeyFile(path)
        return (try StoreKeys.create(passphrase: passphrase, keyFileKey: key, chunkSize: ContentHash.leafSize).0, path)
    }

    /// For an existing encrypted store being attached: unlocks it (key file, else passphrase) and,
    /// when the passphrase was needed, makes a key file for this library and seals the master
    /// key under it too. Returns the key file the configuration should name.
    public func attachEncrypted(_ raw: any Store, keyFile: String?) throws -> String {
        guard let encryption = raw.identity.encryption else { throw TroveError(.usage, "\(raw.location) is not encrypted.") }
        if let keyFile {
            let key = try StoreKeys.readKeyFile(keyFile)
            _ = try StoreKeys.unlock(encryption, keyFileKey: key, passphrase: nil)
            return keyFile
        }
        let path = keyFilePath(storeID: raw.identity.id)
        if let key = try? StoreKeys.readKeyFile(path), (try? StoreKeys.unlock(encryption, keyFileKey: key, passphrase: nil)) != nil {
            return path
        }
        guard let passphrase = passphrase(prompt: "Passphrase for the encrypted store '\(raw.identity.label)': ") else {
            throw TroveError(.usage, "\(raw.location) is encrypted: give its passphrase (TROVE_PASSPHRASE, or run in a terminal) or --key-file.")
        }
        let (_, master) = try StoreKeys.unlock(encryption, keyFileKey: nil, passphrase: passphrase)
        try? FileManager.default.removeItem(atPath: path)
        let key = try StoreKeys.makeKeyFile(path)
        var identity = raw.identity
        identity.encryption?.wraps.removeAll { $0.kind == .keyFile && $0.keyID == StoreKeys.fingerprint(key) }
        identity.encryption?.wraps.append(try StoreKeys.wrap(master, keyFileKey: key, parameters: encryption))
        try replaceIdentity(of: raw, with: identity)
        return path
    }

    /// Looks for a known store where it was last attached, checks its identity, and wraps it.
    public func observe(_ record: StoreRecord) -> StoreObservation {
        do {
            if let raw = try openRaw(kind: record.kind, location: record.location, config: record.config) {
                guard raw.identity.id == record.id else {
                    return .missing(reason: "\(record.location) now holds a different store ('\(raw.identity.label)')")
                }
                // Whether a store is encrypted is the catalog's word, not the identity file's: a
                // provider that removed the encryption section must not get plaintext.
                guard record.encrypted == (raw.identity.encryption != nil) else {
                    return .missing(reason: "the identity of \(record.location) says it is \(record.encrypted ? "not " : "")encrypted, which it was not when added; it was altered. Trove will not write there.")
                }
                return .connected(try wrap(raw, config: record.config))
            }
        } catch {
            return .missing(reason: "\(error)")
        }
        guard record.kind == .local else { return .missing(reason: "\(record.location) holds no Trove store now") }
        if let shared = throughMachineOfThisLibrary(record) { return shared }
        return StoreLocator.whyNoLocalStore(record)
    }

    /// A folder store of this library attached to another machine of the same library (a shared
    /// catalog), reached through that machine's `trove serve --listen`: the catalog says which
    /// machine it was last seen on, and a paired machine of that name and library serves it under
    /// its store ID. Nil when no such machine is paired (then the folder is simply not here).
    func throughMachineOfThisLibrary(_ record: StoreRecord) -> StoreObservation? {
        guard let machine = record.machine, machine != DiskIdentity.machineName(), !record.encrypted,
              let library = libraryID(),
              let peer = try? PeerBookFile(library: libraryPath).load().peers.first(where: {
                  $0.machine == machine && $0.library == library && $0.address != nil
              }),
              let identity = try? PeerIdentity.load(library: libraryPath) else { return nil }
        do {
            let client = try PeerClient(peer: peer, identity: identity)
            guard let store = try PeerStore.open(client: client, name: record.id, ownStore: true) else {
                return .missing(reason: "\(machine) ('\(peer.label)') does not have it attached now")
            }
            guard store.identity.id == record.id else {
                return .missing(reason: "\(machine) ('\(peer.label)') serves another store under its ID")
            }
            return .connected(try wrap(store, config: record.config))
        } catch {
            return .missing(reason: "it is attached to \(machine), which did not answer (\(error))")
        }
    }
}

import Crypto
import Foundation
import TroveCore
import TroveStorage

extension StoreRegistry {
    /// Where a member keeps a grid's shares: a store of its own inside the member's `.trove`
    /// (a folder, or a key prefix), so the member's objects, listing and gc never see them.
    public static func shareLocation(of member: StoreRecord, grid gridID: String) -> (location: String, config: StoreConfig) {
        var config = member.config
        switch member.kind {
        case .s3:
            let prefix = (config.prefix ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            config.prefix = (prefix.isEmpty ? "" : prefix + "/") + ".trove/grid/" + gridID
            return (S3Store.location(config), config)
        case .local, .grid, .peer:
            return (member.location + "/.trove/grid/" + gridID, config)
        }
    }

    /// Where the library keeps the Ed25519 key that signs its heads on grids (mode 0600).
    public var headKeyPath: String { libraryPath + "/keys/head-signing.key" }

    /// The library's head-signing key, made on first use; refused when the catalog names another
    /// (a library shared between machines signs with one key, copied to each).
    public func headKey() throws -> Curve25519.Signing.PrivateKey {
        if let data = FileManager.default.contents(atPath: headKeyPath) {
            let key: Curve25519.Signing.PrivateKey
            do { key = try Curve25519.Signing.PrivateKey(rawRepresentation: data) } catch {
                throw StoreError(.permissionDenied, "The head-signing key \(headKeyPath) is damaged (\(error)); restore it from a backup of the library folder.")
            }
            if let expected = headPublicKey, Array(key.publicKey.rawRepresentation) != expected {
                throw StoreError(.permissionDenied, "\(headKeyPath) is not the library's head-signing key; copy keys/head-signing.key from a machine that uses this library.")
            }
            return key
        }
        if headPublicKey != nil {
            throw StoreError(.permissionDenied, "This machine does not have the library's head-signing key (needed to write on grids); copy keys/head-signing.key from a machine that uses this library into \((headKeyPath as NSString).deletingLastPathComponent)/ (mode 0600).")
        }
        let key = Curve25519.Signing.PrivateKey()
        let folder = (headKeyPath as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            // Two processes at once: one key wins, the other reads it.
            guard try AtomicFile.create(key.rawRepresentation, at: headKeyPath, in: folder, mode: 0o600) else { return try headKey() }
        } catch let error as StoreError { throw error } catch {
            throw StoreError(.permissionDenied, "Cannot make the head-signing key \(headKeyPath) (\(error)).")
        }
        return key
    }

    /// A member's share store for a grid, unlocked and wrapped like the member (an encrypted
    /// member's shares are sealed under the member's key). With `create`, one is made when the
    /// member holds none; otherwise nil then.
    public func shareStore(of member: StoreRecord, grid: StoreRecord, create: Bool) throws -> (any Store)? {
        guard member.kind != .grid else { throw StoreError(.permissionDenied, "A grid cannot be a member of a grid.") }
        guard member.kind != .peer else {
            throw StoreError(.permissionDenied, "A store on another machine cannot hold grid shares yet; make the grid from stores this machine reaches directly (folders, S3).")
        }
        let (location, config) = Self.shareLocation(of: member, grid: grid.id)
        if let raw = try openRaw(kind: member.kind, location: location, config: config) { return try wrap(raw, config: config) }
        guard create else { return nil }
        guard let host = try openRaw(kind: member.kind, location: member.location, config: member.config), host.identity.id == member.id else {
            throw StoreError(.unavailable, "The grid member '\(member.label)' is not at \(member.location) now.")
        }
        if member.kind == .local {
            do { try FileManager.default.createDirectory(atPath: location, withIntermediateDirectories: true) } catch {
                throw StoreError(.permissionDenied, "Cannot make \(location) for the grid '\(grid.label)' (\(error)).")
            }
        }
        let raw = try createRaw(kind: member.kind, id: grid.id + "-" + member.id, location: location, config: config,
                                label: "\(grid.label) on \(member.label)", copies: 0, now: Date(), library: host.identity.library,
                                encryption: host.identity.encryption)
        return try wrap(raw, config: config)
    }

    /// A grid built from its members as they were just observed: each reachable member's share
    /// store (nil where the member holds none: never had, or lost them). The grid counts as
    /// connected when at least k members answer.
    public func observeGrid(_ record: StoreRecord, members: [(record: StoreRecord, observation: StoreObservation)]) -> StoreObservation {
        guard let config = record.config.grid else { return .missing(reason: "\(record.label) has no grid settings") }
        var list: [GridStore.Member] = []
        for (member, observation) in members {
            switch observation {
            case .connected:
                do {
                    let shares = try shareStore(of: member, grid: record, create: false)
                    list.append(GridStore.Member(record: member, shares: shares, connected: true,
                                                 reason: shares == nil ? "holds none of this grid's shares" : nil))
                } catch {
                    list.append(GridStore.Member(record: member, shares: nil, connected: false, reason: "\(error)"))
                }
            case .missing(let reason), .wiped(let reason):
                list.append(GridStore.Member(record: member, shares: nil, connected: false, reason: reason))
            }
        }
        let reachable = list.filter(\.connected).count
        guard reachable >= config.k else {
            let away = list.filter { !$0.connected }.map { "\($0.record.label) (\($0.reason ?? "not reachable"))" }
            return .missing(reason: "only \(reachable) of its members answer and \(config.k) are needed; out of reach: \(away.joined(separator: ", "))")
        }
        do {
            let registry = self
            let grid = try GridStore(record: record, members: list, headKey: { try registry.headKey() },
                                     headPublicKey: headPublicKey) { member in
                guard let made = try registry.shareStore(of: member, grid: record, create: true) else {
                    throw StoreError(.unavailable, "The grid member '\(member.label)' holds no share store.")
                }
                return made
            }
            return .connected(grid)
        } catch {
            return .missing(reason: "\(error)")
        }
    }
}

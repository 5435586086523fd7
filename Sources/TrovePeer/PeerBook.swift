import Foundation
import TroveCore
import TroveStorage

/// A machine this library paired with, pinned by its certificate.
public struct PinnedPeer: Codable, Sendable, Equatable {
    /// The name this machine knows it by (`nas`, `desktop`).
    public var label: String
    /// SHA-256 of its certificate (hex): the only thing a connection is checked against.
    public var fingerprint: String
    /// Its certificate in PEM (a client needs it as the one trusted root).
    public var certificate: String
    /// What it may do here (nothing, for a server this machine only talks to).
    public var rights: PeerRights
    /// May add objects and records but never delete or replace them.
    public var appendOnly: Bool
    /// Where its `trove serve` listens (`https://nas.local:7860`), when this machine joined it.
    public var address: String?
    public var added: Date
    /// Its machine name (stores record the machine they were last seen on) and its library ID,
    /// as it said when pairing: a machine of this very library may reach this one's own stores.
    public var machine: String?
    public var library: String?

    public init(label: String, fingerprint: String, certificate: String, rights: PeerRights, appendOnly: Bool, address: String?,
                added: Date, machine: String? = nil, library: String? = nil) {
        self.machine = machine
        self.library = library
        self.label = label
        self.fingerprint = fingerprint
        self.certificate = certificate
        self.rights = rights
        self.appendOnly = appendOnly
        self.address = address
        self.added = added
    }

    enum CodingKeys: String, CodingKey {
        case label, fingerprint, certificate, rights, address, added, machine, library
        case appendOnly = "append_only"
    }
}

/// A pairing code not used yet: only its secret's digest is kept.
public struct PendingInvite: Codable, Sendable, Equatable {
    public var label: String
    public var secretDigest: String
    public var rights: PeerRights
    public var appendOnly: Bool
    public var expires: Date

    public init(label: String, secretDigest: String, rights: PeerRights, appendOnly: Bool, expires: Date) {
        self.label = label
        self.secretDigest = secretDigest
        self.rights = rights
        self.appendOnly = appendOnly
        self.expires = expires
    }

    enum CodingKeys: String, CodingKey {
        case label, rights, expires
        case secretDigest = "secret_sha256"
        case appendOnly = "append_only"
    }
}

/// The machines this library trusts, its open invitations and recent wrong pairing codes:
/// `peers.json` in the library folder, replaced atomically under a lock, so `peer revoke` run
/// beside `trove serve` takes effect on the server's next handshake or request.
public struct PeerBook: Codable, Sendable, Equatable {
    public var format = 1
    public var peers: [PinnedPeer] = []
    public var invites: [PendingInvite] = []
    /// When wrong codes were tried (the last 10 minutes' worth).
    public var failures: [Date] = []

    public init() {}

    /// How long a pairing code stays valid.
    public static let inviteLifetime: TimeInterval = 600
    /// Wrong codes allowed in `failureWindow` before pairing is refused until the window passes.
    public static let failureLimit = 5
    public static let failureWindow: TimeInterval = 600

    public func peer(fingerprint: String) -> PinnedPeer? { peers.first { $0.fingerprint == fingerprint } }
    public func peer(label: String) -> PinnedPeer? { peers.first { $0.label == label } }

    /// True while some code is still valid: the server then lets unknown certificates through
    /// the handshake, to the pairing request only.
    public func hasOpenInvite(now: Date) -> Bool { invites.contains { $0.expires > now } }

    /// Whether too many wrong codes were tried lately.
    public func pairingLocked(now: Date) -> Bool {
        failures.filter { now.timeIntervalSince($0) < Self.failureWindow }.count >= Self.failureLimit
    }

    /// The outcome of a pairing request.
    public enum PairOutcome: Sendable, Equatable {
        case paired(PinnedPeer)
        /// Wrong, used or expired code.
        case refused
        /// Too many wrong codes lately.
        case locked
    }

    /// Checks a pairing secret; on success pins `certificate` with the invitation's label and
    /// rights and spends the invitation. A wrong code is counted.
    public mutating func pair(secret: [UInt8], certificatePEM: String, fingerprint: String, now: Date,
                              machine: String? = nil, library: String? = nil) -> PairOutcome {
        failures.removeAll { now.timeIntervalSince($0) >= Self.failureWindow }
        invites.removeAll { $0.expires <= now }
        if pairingLocked(now: now) { return .locked }
        let digest = PairingCode.secretDigest(secret)
        guard let index = invites.firstIndex(where: { $0.secretDigest == digest }) else {
            failures.append(now)
            return .refused
        }
        let invite = invites.remove(at: index)
        let peer = PinnedPeer(label: invite.label, fingerprint: fingerprint, certificate: certificatePEM, rights: invite.rights,
                              appendOnly: invite.appendOnly, address: nil, added: now, machine: machine, library: library)
        return .paired(pin(peer, keepRights: false))
    }

    /// Pins `peer`, replacing any entry for the same machine (fingerprint) or label. Pairing
    /// both ways merges: joining a machine that had joined here keeps the rights it has here
    /// (`keepRights`), and a machine joining by invitation keeps the address this one reaches
    /// it at. Returns the entry as pinned.
    @discardableResult
    public mutating func pin(_ peer: PinnedPeer, keepRights: Bool) -> PinnedPeer {
        var merged = peer
        if let previous = peers.first(where: { $0.fingerprint == peer.fingerprint }) {
            if merged.address == nil { merged.address = previous.address }
            if merged.machine == nil { merged.machine = previous.machine }
            if merged.library == nil { merged.library = previous.library }
            if keepRights {
                merged.rights = previous.rights
                merged.appendOnly = previous.appendOnly
            }
        }
        peers.removeAll { $0.fingerprint == peer.fingerprint || $0.label == peer.label }
        peers.append(merged)
        return merged
    }
}

/// Reads and changes a library's `peers.json` (mode 0600 from the start: it holds invitation digests).
public struct PeerBookFile: Sendable {
    public let library: String
    let file: LockedJSONFile<PeerBook>

    public init(library: String) {
        self.library = library
        file = LockedJSONFile(folder: library, name: "peers.json", mode: 0o600,
                              damagedAdvice: "restore it from a backup, or remove it and pair again.")
    }

    public var path: String { file.path }

    /// The book as it is on disk (empty when there is none yet).
    public func load() throws -> PeerBook { try file.load(empty: PeerBook()) }

    /// Changes the book under an exclusive lock and writes it back atomically.
    @discardableResult
    public func update<T>(_ change: (inout PeerBook) throws -> T) throws -> T { try file.update(empty: PeerBook(), change) }

    /// Changes whenever the file is replaced: a server re-reads the book only then.
    public func stamp() -> String { file.stamp() }
}

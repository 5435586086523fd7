import Foundation

/// `POST /v1/pair`: the secret half of the pairing code and the joining machine's name (for
/// the server's log). Its certificate is the one it presents in the TLS handshake.
public struct PairRequest: Codable, Sendable {
    public var secret: String
    public var name: String
    /// The joining machine's library ID: machines of one library (a shared catalog) may reach
    /// each other's own stores.
    public var library: String?
    public init(secret: String, name: String, library: String? = nil) {
        self.secret = secret
        self.name = name
        self.library = library
    }
}

/// The answer to a pairing: the server's name and fingerprint, and what the new peer may do.
public struct PairReply: Codable, Sendable {
    public var name: String
    public var fingerprint: String
    /// The label the server gave the joining machine.
    public var label: String
    public var rights: PeerRights
    public var appendOnly: Bool
    /// The server's library ID.
    public var library: String?

    public init(name: String, fingerprint: String, label: String, rights: PeerRights, appendOnly: Bool, library: String? = nil) {
        self.library = library
        self.name = name
        self.fingerprint = fingerprint
        self.label = label
        self.rights = rights
        self.appendOnly = appendOnly
    }

    enum CodingKeys: String, CodingKey {
        case name, fingerprint, label, rights, library
        case appendOnly = "append_only"
    }
}

import Crypto

/// A mutable record kept on untrusted stores (the library head on a grid): a name, a sequence
/// number, the payload it carries and an Ed25519 signature by the library's key. Readers take
/// the highest sequence number whose signature checks; a store can hide a newer head (so
/// readers ask several and take the highest) but never forge one. See docs/grid.md.
///
///     "TROVHD01" ‖ name length (1) ‖ name ‖ seq (8) ‖ payload length (4) ‖ payload ‖
///     public key (32) ‖ signature (64) over everything before it
public struct SignedHead: Sendable, Equatable {
    public var name: String
    public var seq: UInt64
    public var payload: [UInt8]
    /// The signer's Ed25519 public key (raw, 32 bytes).
    public var publicKey: [UInt8]
    public var signature: [UInt8]

    static let magic = Array("TROVHD01".utf8)

    /// SHA-256 of the payload: with the sequence number, what orders two heads (`(seq, root)`).
    public var root: [UInt8] { Array(SHA256.hash(data: payload)) }

    /// A head signed with `key`.
    public static func make(name: String, seq: UInt64, payload: [UInt8], key: Curve25519.Signing.PrivateKey) throws -> SignedHead {
        var head = SignedHead(name: name, seq: seq, payload: payload, publicKey: Array(key.publicKey.rawRepresentation), signature: [])
        head.signature = Array(try key.signature(for: head.signed))
        return head
    }

    init(name: String, seq: UInt64, payload: [UInt8], publicKey: [UInt8], signature: [UInt8]) {
        self.name = name
        self.seq = seq
        self.payload = payload
        self.publicKey = publicKey
        self.signature = signature
    }

    /// The bytes the signature covers.
    var signed: [UInt8] {
        let nameBytes = Array(name.utf8)
        var bytes = Self.magic + [UInt8(nameBytes.count)] + nameBytes
        bytes += (0..<8).map { UInt8(truncatingIfNeeded: seq >> (8 * UInt64(7 - $0))) }
        bytes += (0..<4).map { UInt8(truncatingIfNeeded: UInt32(payload.count) >> (8 * UInt32(3 - $0))) }
        return bytes + payload + publicKey
    }

    public var encoded: [UInt8] { signed + signature }

    /// Parses a head; nil when the bytes are not one (the signature is not checked here).
    public init?(decoding bytes: [UInt8]) {
        guard bytes.count >= 8 + 1 + 8 + 4 + 32 + 64, Array(bytes[0..<8]) == Self.magic else { return nil }
        let nameCount = Int(bytes[8])
        var at = 9 + nameCount
        guard bytes.count >= at + 12, let name = String(bytes: bytes[9..<at], encoding: .utf8) else { return nil }
        let seq = bytes[at..<(at + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let length = Int(bytes[(at + 8)..<(at + 12)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        at += 12
        guard bytes.count == at + length + 32 + 64 else { return nil }
        self.init(name: name, seq: seq, payload: Array(bytes[at..<(at + length)]),
                  publicKey: Array(bytes[(at + length)..<(at + length + 32)]), signature: Array(bytes[(at + length + 32)...]))
    }

    /// The signature checks under `publicKey` (the library's) and the head is for `name`.
    public func isValid(name expected: String, publicKey expectedKey: [UInt8]) -> Bool {
        guard name == expected, publicKey == expectedKey,
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: signed)
    }

    /// Of two heads, the one readers take: the higher sequence number, then the higher root.
    public static func newer(_ a: SignedHead, _ b: SignedHead) -> Bool {
        a.seq != b.seq ? a.seq > b.seq : b.root.lexicographicallyPrecedes(a.root)
    }
}

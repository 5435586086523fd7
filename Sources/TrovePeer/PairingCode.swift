import Crypto
import TroveCore

/// The one-time code `peer invite` prints and `peer join` takes: the first 10 bytes of the
/// inviting machine's certificate fingerprint and a 10-byte random secret, in base32, grouped
/// by four (`ABCD-EFGH-…`, 32 letters).
///
/// The fingerprint part lets the joining machine check it reached the right server before it
/// sends anything (a stand-in would need a certificate matching 80 bits of SHA-256); the secret
/// then travels only inside that authenticated TLS connection, so it can be guessed only online,
/// where the server counts and limits wrong tries.
public struct PairingCode: Sendable, Equatable, CustomStringConvertible {
    public static let prefixBytes = 10
    public static let secretBytes = 10
    /// First bytes of the inviting server's certificate fingerprint.
    public let serverPrefix: [UInt8]
    public let secret: [UInt8]

    public init(serverFingerprint: String) {
        serverPrefix = Array(Self.hexBytes(serverFingerprint).prefix(Self.prefixBytes))
        var generator = SystemRandomNumberGenerator()
        secret = (0..<Self.secretBytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    public init(parsing text: String) throws {
        let letters = text.lowercased().filter { $0 != "-" && $0 != " " }
        guard let bytes = Base32.decode(letters), bytes.count == Self.prefixBytes + Self.secretBytes else {
            throw TroveError(.usage, "'\(text)' is not a pairing code; copy the 32-letter code `trove peer invite` printed on the other machine.")
        }
        serverPrefix = Array(bytes.prefix(Self.prefixBytes))
        secret = Array(bytes.suffix(Self.secretBytes))
    }

    public var description: String {
        let letters = Array(Base32.encode(serverPrefix + secret).uppercased())
        return stride(from: 0, to: letters.count, by: 4).map { String(letters[$0..<min($0 + 4, letters.count)]) }
            .joined(separator: "-")
    }

    /// Whether a server certificate's fingerprint is the one the code was made for.
    public func matches(serverFingerprint: String) -> Bool {
        Array(Self.hexBytes(serverFingerprint).prefix(Self.prefixBytes)) == serverPrefix
    }

    /// What the server keeps of the secret: its SHA-256, hex.
    public static func secretDigest(_ secret: [UInt8]) -> String {
        SHA256.hash(data: secret).map { String(format: "%02x", $0) }.joined()
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = hexValue(high), let l = hexValue(low) else { break }
            bytes.append(h << 4 | l)
        }
        return bytes
    }

    static func hexValue(_ char: UInt8) -> UInt8? {
        switch char {
        case 0x30...0x39: char - 0x30
        case 0x61...0x66: char - 0x61 + 10
        case 0x41...0x46: char - 0x41 + 10
        default: nil
        }
    }
}

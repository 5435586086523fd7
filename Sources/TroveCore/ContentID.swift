/// The 32-byte content address of a file (protocol v1), shown as 52 lowercase base32 characters.
public struct ContentID: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// The SHA-256 root hash.
    public let bytes: [UInt8]

    /// Number of characters in the text form.
    public static let textLength = 52

    /// Wraps a 32-byte digest.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// Wraps a digest known to be 32 bytes (a SHA-256 output).
    init(digest: [UInt8]) {
        precondition(digest.count == 32, "a content ID is a 32-byte SHA-256 digest")
        self.bytes = digest
    }

    /// Parses the 52-character text form; nil when it is not a well-formed v1 ID.
    public init?(_ text: String) {
        guard text.utf8.count == Self.textLength, let decoded = Base32.decode(text), decoded.count == 32 else {
            return nil
        }
        self.bytes = decoded
    }

    public var description: String { Base32.encode(bytes) }

    public static func < (lhs: ContentID, rhs: ContentID) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = ContentID(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a content ID: \(text)")
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

import TroveCore

/// What a paired peer may do on this machine. `read`: the JSON API, /metrics and reading hosted
/// stores; `write`: adding objects and records to hosted stores, and deleting them unless the
/// peer is append-only; `admin`: everything, and starting heal or verify here.
public struct PeerRights: OptionSet, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let read = PeerRights(rawValue: 1)
    public static let write = PeerRights(rawValue: 2)
    public static let admin = PeerRights(rawValue: 4)

    static let names: [(String, PeerRights)] = [("read", .read), ("write", .write), ("admin", .admin)]

    /// Parses `read,write,admin` (any subset, commas or spaces).
    public init(parsing text: String) throws {
        var rights: PeerRights = []
        for word in text.split(whereSeparator: { $0 == "," || $0 == " " }) {
            guard let right = Self.names.first(where: { $0.0 == word.lowercased() })?.1 else {
                throw TroveError(.usage, "'\(word)' is not a right; use read, write or admin (e.g. --can read,write).")
            }
            rights.insert(right)
        }
        self = rights
    }

    public var words: [String] { Self.names.filter { contains($0.1) }.map(\.0) }
    public var description: String { words.isEmpty ? "none" : words.joined(separator: ",") }

    public init(from decoder: any Decoder) throws {
        let words = try decoder.singleValueContainer().decode([String].self)
        self = try PeerRights(parsing: words.joined(separator: ","))
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(words)
    }
}

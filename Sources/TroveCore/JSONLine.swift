import Foundation

/// One JSON object written straight into bytes, fields in the order they are given (callers give
/// them sorted, as `JSONEncoder`'s `.sortedKeys` would) and absent optionals left out. It
/// writes what `LibraryRecords.encoder` writes for the same values, at a fraction of the cost:
/// a heal of 100,000 small files wrote 200,000 journal lines, and encoding them through
/// `JSONEncoder` took a sixth of the heal (Benchmarks/RESULTS.md, issue 14).
struct JSONLine {
    private(set) var bytes: [UInt8] = [0x7b]
    private var empty = true

    init() { bytes.reserveCapacity(160) }

    /// The finished object.
    mutating func end() -> [UInt8] {
        bytes.append(0x7d)
        return bytes
    }

    mutating func field(_ key: String, _ value: String?) {
        guard let value else { return }
        self.key(key)
        Self.quote(value, into: &bytes)
    }

    mutating func field(_ key: String, _ value: Int64?) {
        guard let value else { return }
        self.key(key)
        bytes += value.description.utf8
    }

    mutating func field(_ key: String, _ value: UInt64?) {
        guard let value else { return }
        self.key(key)
        bytes += value.description.utf8
    }

    mutating func field(_ key: String, _ value: Int?) { field(key, value.map(Int64.init)) }

    mutating func field(_ key: String, _ value: Bool?) {
        guard let value else { return }
        self.key(key)
        bytes += (value ? "true" : "false").utf8
    }

    /// A date as seconds since 1970 (`.secondsSince1970`): whole seconds without a fraction.
    mutating func field(_ key: String, _ value: Date?) {
        guard let value else { return }
        self.key(key)
        let seconds = value.timeIntervalSince1970
        if seconds.rounded() == seconds, abs(seconds) < 1e15 {
            bytes += Int64(seconds).description.utf8
        } else {
            bytes += seconds.description.utf8
        }
    }

    mutating func field(_ key: String, _ values: [String]?) {
        guard let values else { return }
        self.key(key)
        bytes.append(0x5b)
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(0x2c) }
            Self.quote(value, into: &bytes)
        }
        bytes.append(0x5d)
    }

    mutating func field(_ key: String, _ details: [String: DetailValue]?) {
        guard let details else { return }
        self.key(key)
        var inner = JSONLine()
        for name in details.keys.sorted() {
            switch details[name]! {
            case .text(let text): inner.field(name, text)
            case .number(let number): inner.field(name, number)
            }
        }
        bytes += inner.end()
    }

    private mutating func key(_ key: String) {
        if !empty { bytes.append(0x2c) }
        empty = false
        Self.quote(key, into: &bytes)
        bytes.append(0x3a)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A JSON string: quote and backslash escaped, control characters as `\b \f \n \r \t` (as
    /// `JSONEncoder` writes them; backspace and form feed as `\u00XX` when not short) or
    /// `\u00XX`, everything else (slashes and non-ASCII text included) as its UTF-8 bytes.
    static func quote(_ text: String, into bytes: inout [UInt8], shortBackspaceAndFormFeed: Bool = true) {
        bytes.append(0x22)
        for byte in text.utf8 {
            switch byte {
            case 0x22: bytes += [0x5c, 0x22]
            case 0x5c: bytes += [0x5c, 0x5c]
            case 0x08 where shortBackspaceAndFormFeed: bytes += [0x5c, 0x62]
            case 0x0c where shortBackspaceAndFormFeed: bytes += [0x5c, 0x66]
            case 0x0a: bytes += [0x5c, 0x6e]
            case 0x0d: bytes += [0x5c, 0x72]
            case 0x09: bytes += [0x5c, 0x74]
            case 0..<0x20:
                bytes += [0x5c, 0x75, 0x30, 0x30, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0f)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(0x22)
    }
}

/// The one rule for how a file name's bytes are held, stored, shown and matched.
///
/// On Linux a name is bytes, not text. Trove keeps names as Swift `String`s so that search and
/// sorting work on their readable parts, and maps every byte that is not part of valid UTF-8
/// to the private-use character U+10FF00 + byte (U+10FF80…U+10FFFF). A name that really holds
/// one of those characters has each of its four UTF-8 bytes mapped the same way, so the mapping
/// is one-to-one and `encode(decode(bytes)) == bytes` for every byte string (Python's
/// "surrogateescape" idea, with characters a Swift `String` can hold). Manifests, the catalog
/// and `--json` output carry names in this form (docs/snapshot-format.md); text output shows
/// them escaped the way `ls -b` does.
public enum NameCodec {
    /// First and last of the characters that stand for single bytes.
    static let escapeBase: UInt32 = 0x10FF00
    static let firstEscape: UInt32 = 0x10FF80

    /// The name held as a String (always succeeds, loses nothing).
    public static func decode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let raw = Array(bytes)
        // Fast path: plain ASCII.
        if raw.allSatisfy({ $0 < 0x80 }) { return String(decoding: raw, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        var index = 0
        while index < raw.count {
            guard let (scalar, length) = decodeScalar(raw, at: index) else {
                scalars.append(escape(raw[index]))
                index += 1
                continue
            }
            if scalar.value < firstEscape {
                scalars.append(scalar)
            } else {
                // A genuine U+10FF80…U+10FFFF: escape each of its bytes so decoding stays one-to-one.
                for byte in raw[index..<index + length] { scalars.append(escape(byte)) }
            }
            index += length
        }
        return String(scalars)
    }

    /// The exact bytes of a name held as a String.
    public static func encode(_ name: String) -> [UInt8] {
        guard needsEncoding(name) else { return Array(name.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(name.utf8.count)
        for scalar in name.unicodeScalars {
            if scalar.value >= firstEscape { out.append(UInt8(scalar.value - escapeBase)) } else { out.append(contentsOf: String(scalar).utf8) }
        }
        return out
    }

    /// True when the String holds escaped bytes (its UTF-8 is then not the name's bytes).
    public static func needsEncoding(_ name: String) -> Bool {
        var utf8 = name.utf8.makeIterator()
        // U+10FF80…U+10FFFF are F4 8F BE 80 … F4 8F BF BF in UTF-8.
        while let byte = utf8.next() {
            if byte == 0xF4, utf8.next() == 0x8F, let third = utf8.next(), third == 0xBE || third == 0xBF { return true }
        }
        return false
    }

    /// The name for a terminal, as `ls -b` prints it: backslash, control characters and bytes
    /// that are not UTF-8 escaped (`\\`, `\n`, `\t`, `\xff`), so every name is visible and distinct.
    public static func display(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars {
            switch scalar.value {
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x09: out += "\\t"
            case 0x0D: out += "\\r"
            case 0..<0x20, 0x7F: out += "\\x" + hex(UInt8(scalar.value))
            case firstEscape...0x10FFFF: out += "\\x" + hex(UInt8(scalar.value - escapeBase))
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Calls `body` with the name as a NUL-terminated C string of its exact bytes.
    public static func withCString<R>(_ name: String, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        guard needsEncoding(name) else { return try name.withCString(body) }
        var bytes = encode(name).map { CChar(bitPattern: $0) }
        bytes.append(0)
        return try bytes.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    private static func escape(_ byte: UInt8) -> Unicode.Scalar {
        Unicode.Scalar(escapeBase + UInt32(byte))!
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }

    /// One well-formed UTF-8 scalar at `index` (shortest form, no surrogates), or nil.
    private static func decodeScalar(_ raw: [UInt8], at index: Int) -> (Unicode.Scalar, Int)? {
        let lead = raw[index]
        let length: Int
        let minimum: UInt32
        var value: UInt32
        switch lead {
        case 0x00...0x7F: return (Unicode.Scalar(lead), 1)
        case 0xC2...0xDF: length = 2; minimum = 0x80; value = UInt32(lead & 0x1F)
        case 0xE0...0xEF: length = 3; minimum = 0x800; value = UInt32(lead & 0x0F)
        case 0xF0...0xF4: length = 4; minimum = 0x10000; value = UInt32(lead & 0x07)
        default: return nil
        }
        guard index + length <= raw.count else { return nil }
        for offset in 1..<length {
            let byte = raw[index + offset]
            guard byte & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(byte & 0x3F)
        }
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }
}

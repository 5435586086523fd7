import Foundation

/// A snapshot manifest: a header line, then one JSON line per entry, sorted by path. It is stored
/// in the stores like any file, so snapshots are replicated and healed with the data and the
/// catalog can be rebuilt from the stores (docs/snapshot-format.md).
public struct Manifest: Sendable, Equatable {
    public static let format = "trove-manifest-2"
    static let readable: Set<String> = ["trove-manifest-1", "trove-manifest-2"]

    public struct Header: Codable, Sendable, Equatable {
        public var format: String = Manifest.format
        public var root: String
        public var time: Date
        public var tag: String?
        public var parent: String?
        public var partial: Bool
        public var skipped: [String]
        /// The root folder's own metadata (mode, times, owner, attributes) as an entry line
        /// (`Manifest.entryLine`); absent before manifest format 2 gained it.
        public var rootEntry: String?
        public init(root: String, time: Date, tag: String?, parent: String?, partial: Bool, skipped: [String],
                    rootEntry: String? = nil) {
            self.root = root
            self.time = time
            self.tag = tag
            self.parent = parent
            self.partial = partial
            self.skipped = skipped
            self.rootEntry = rootEntry
        }

        enum CodingKeys: String, CodingKey {
            case format, root, time, tag, parent, partial, skipped, rootEntry = "root_entry"
        }

        /// The header line (without the newline): the manifest's first line.
        public func line() throws -> [UInt8] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .secondsSince1970
            return Array(try encoder.encode(self))
        }
    }

    public var header: Header
    public var entries: [SnapshotEntry]

    public init(header: Header, entries: [SnapshotEntry]) {
        self.header = header
        self.entries = entries.inPathOrder()
    }

    /// The whole manifest as bytes (`ManifestReader` gives the same bytes a piece at a time).
    public func encoded() throws -> [UInt8] {
        var reader = try ManifestReader(self)
        var out = [UInt8](repeating: 0, count: Int(reader.size))
        _ = out.withUnsafeMutableBytes { reader.read(into: $0) }
        return out
    }

    /// One entry as its manifest line (without the newline).
    public static func entryLine(_ entry: SnapshotEntry) -> [UInt8] {
        var out: [UInt8] = []
        appendEntry(entry, to: &out)
        return out
    }

    /// An entry from its manifest line, under `path`.
    public static func entry(fromLine line: [UInt8], path: String) throws -> SnapshotEntry {
        try decodeLine(line, path: path)
    }

    /// Appends an entry's whole line, newline included: every line after the header is one entry.
    public static func appendLine(_ entry: SnapshotEntry, to out: inout [UInt8]) {
        appendEntry(entry, to: &out)
        out.append(0x0A)
    }

    /// Appends an entry's line without the newline.
    static func appendEntry(_ entry: SnapshotEntry, to out: inout [UInt8]) {
        out.append(0x7B)
        if let gid = entry.gid { out.append(contentsOf: #""g":"#.utf8); Self.appendDecimal(UInt64(gid), to: &out); out.append(0x2C) }
        out.append(contentsOf: #""i":"#.utf8)
        Self.appendDecimal(entry.inode, to: &out)
        if let id = entry.fileID {
            out.append(contentsOf: #","id":""#.utf8)
            Base32.append(id.bytes, to: &out)
            out.append(0x22)
        }
        if let target = entry.target { out.append(contentsOf: #","l":"#.utf8); Self.appendJSONString(target, to: &out) }
        out.append(contentsOf: #","m":"#.utf8)
        Self.appendDecimal(UInt64(entry.mode), to: &out)
        out.append(contentsOf: #","mn":"#.utf8)
        Self.appendDecimal(UInt64(entry.mtime.nanoseconds), to: &out)
        out.append(contentsOf: #","ms":"#.utf8)
        Self.appendSigned(entry.mtime.seconds, to: &out)
        out.append(contentsOf: #","p":"#.utf8)
        Self.appendJSONString(entry.path, to: &out)
        out.append(contentsOf: #","s":"#.utf8)
        Self.appendDecimal(entry.size, to: &out)
        out.append(contentsOf: #","t":""#.utf8)
        out.append(contentsOf: entry.type.rawValue.utf8)
        out.append(0x22)
        if let uid = entry.uid { out.append(contentsOf: #","u":"#.utf8); Self.appendDecimal(UInt64(uid), to: &out) }
        Self.appendExtras(entry, to: &out, leadingComma: true)
        out.append(0x7D)
    }

    /// The optional keys `hl`, `rd`, `sp` and `x` (xattr values in base64).
    static func appendExtras(_ entry: SnapshotEntry, to out: inout [UInt8], leadingComma: Bool) {
        var first = !leadingComma
        func key(_ name: String) {
            if !first { out.append(0x2C) }
            first = false
            out.append(0x22); out.append(contentsOf: name.utf8); out.append(contentsOf: "\":".utf8)
        }
        if let link = entry.hardLink { key("hl"); appendJSONString(link, to: &out) }
        if let device = entry.device { key("rd"); appendDecimal(device, to: &out) }
        if entry.sparse { key("sp"); out.append(contentsOf: "true".utf8) }
        if !entry.xattrs.isEmpty {
            key("x")
            out.append(0x7B)
            for (index, attribute) in entry.xattrs.enumerated() {
                if index > 0 { out.append(0x2C) }
                appendJSONString(attribute.name, to: &out)
                out.append(0x3A)
                out.append(0x22)
                out.append(contentsOf: Data(attribute.value).base64EncodedString().utf8)
                out.append(0x22)
            }
            out.append(0x7D)
        }
    }

    static func appendSigned(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(0x2D) }
        appendDecimal(value.magnitude, to: &out)
    }

    /// Appends a number's decimal digits without building a String.
    static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 20 digits, filled from the end
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                count += 1
                buffer[24 - count] = UInt8(truncatingIfNeeded: 0x30 + rest % 10)
                rest /= 10
            } while rest > 0
            out.append(contentsOf: buffer[(24 - count)...])
        }
    }

    /// Appends a JSON string literal (quotes, backslashes and control characters escaped). A
    /// manifest's bytes are its ID, so they never change: backspace and form feed stay `\u00XX`.
    static func appendJSONString(_ text: String, to out: inout [UInt8]) {
        JSONLine.quote(text, into: &out, shortBackspaceAndFormFeed: false)
    }

    public static func decode(_ bytes: [UInt8]) throws -> Manifest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        let lines = bytes.split(separator: 0x0A)
        guard let first = lines.first else { throw TroveError(.corruptData, "The snapshot manifest is empty.") }
        let header = try decoder.decode(Header.self, from: Data(first))
        guard readable.contains(header.format) else {
            throw TroveError(.corruptData, "Unknown snapshot manifest format '\(header.format)'; upgrade Trove.")
        }
        let entries = try lines.dropFirst().map { try decodeLine(Array($0), path: nil) }
        return Manifest(header: header, entries: entries)
    }

    /// An entry line as JSON: every key optional, so manifest-1 lines (`mt` in nanoseconds, no
    /// owner) and catalog `extras` objects decode too.
    private struct Line: Decodable {
        var p: String?
        var t: String?
        var s: UInt64?
        var m: UInt32?
        var mt: Int64?
        var ms: Int64?
        var mn: Int32?
        var i: UInt64?
        var id: String?
        var l: String?
        var u: UInt32?
        var g: UInt32?
        var x: [String: String]?
        var hl: String?
        var rd: UInt64?
        var sp: Bool?
    }

    /// One entry line (or a catalog `extras` object, when `path` is given).
    static func decodeLine(_ line: [UInt8], path: String?) throws -> SnapshotEntry {
        let parsed = try JSONDecoder().decode(Line.self, from: Data(line))
        guard let entryPath = path ?? parsed.p else {
            throw TroveError(.corruptData, "A snapshot manifest entry has no path.")
        }
        guard let type = EntryType(rawValue: parsed.t ?? "f") else {
            throw TroveError(.corruptData, "The snapshot entry \(entryPath) has an unknown type '\(parsed.t ?? "")'; upgrade Trove.")
        }
        let mtime = parsed.ms.map { FileTime(seconds: $0, nanoseconds: parsed.mn ?? 0) }
            ?? FileTime(nanosecondsSince1970: parsed.mt ?? 0)
        var xattrs: [ExtendedAttribute] = []
        for (name, value) in parsed.x ?? [:] {
            guard let bytes = Data(base64Encoded: value) else {
                throw TroveError(.corruptData, "The extended attribute \(name) of \(entryPath) is not base64.")
            }
            xattrs.append(ExtendedAttribute(name: name, value: Array(bytes)))
        }
        xattrs.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return SnapshotEntry(path: entryPath, type: type, size: parsed.s ?? 0, mode: parsed.m ?? 0, mtime: mtime, inode: parsed.i ?? 0,
                             fileID: parsed.id.flatMap(ContentID.init), target: parsed.l, uid: parsed.u, gid: parsed.g,
                             xattrs: xattrs, hardLink: parsed.hl, device: parsed.rd, sparse: parsed.sp ?? false)
    }
}

/// A manifest's bytes produced a line at a time: the header, then one line per entry, each
/// ending in a newline. A snapshot of millions of entries is stored without its manifest ever
/// being whole in memory. Entries are written by hand: Foundation's encoder costs ~2 µs an
/// entry, too slow for big trees (keys in sorted order, as a sorted-keys encoder writes them).
public struct ManifestReader {
    private let manifest: Manifest
    private let header: [UInt8]
    /// The next line: -1 for the header, then entry indices.
    private var next = -1
    private var line: [UInt8] = []
    private var offset = 0
    /// The manifest's length in bytes (measured by encoding each line once, keeping none).
    public let size: UInt64

    public init(_ manifest: Manifest) throws {
        self.manifest = manifest
        header = try manifest.header.line() + [0x0A]
        var size = UInt64(header.count)
        var scratch: [UInt8] = []
        for entry in manifest.entries {
            scratch.removeAll(keepingCapacity: true)
            Manifest.appendLine(entry, to: &scratch)
            size += UInt64(scratch.count)
        }
        self.size = size
    }

    /// Fills `buffer` with the next bytes; returns how many (0 at the end).
    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var written = 0
        while written < buffer.count {
            if offset == line.count {
                guard next < manifest.entries.count else { break }
                line.removeAll(keepingCapacity: true)
                if next < 0 { line.append(contentsOf: header) } else { Manifest.appendLine(manifest.entries[next], to: &line) }
                next += 1
                offset = 0
            }
            let take = min(buffer.count - written, line.count - offset)
            line.withUnsafeBytes { bytes in
                (buffer.baseAddress! + written).copyMemory(from: bytes.baseAddress! + offset, byteCount: take)
            }
            written += take
            offset += take
        }
        return written
    }
}

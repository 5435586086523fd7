import Foundation

/// What a snapshot entry is.
public enum EntryType: String, Codable, Sendable {
    case file = "f"
    case directory = "d"
    case symlink = "l"
}

/// One path in a snapshot: its metadata, and for files the content ID.
public struct SnapshotEntry: Codable, Sendable, Equatable {
    /// Relative to the snapshot's root, `/`-separated, never empty, never `..`.
    public var path: String
    public var type: EntryType
    public var size: UInt64
    /// Permission bits (e.g. 0o644).
    public var mode: UInt32
    /// Modification time in nanoseconds since 1970.
    public var mtimeNs: Int64
    /// Inode number when snapshotted, to spot unchanged files without reading them.
    public var inode: UInt64
    public var fileID: ContentID?
    /// Where a symbolic link points.
    public var target: String?

    public init(path: String, type: EntryType, size: UInt64 = 0, mode: UInt32 = 0o644, mtimeNs: Int64 = 0,
                inode: UInt64 = 0, fileID: ContentID? = nil, target: String? = nil) {
        self.path = path
        self.type = type
        self.size = size
        self.mode = mode
        self.mtimeNs = mtimeNs
        self.inode = inode
        self.fileID = fileID
        self.target = target
    }

    enum CodingKeys: String, CodingKey {
        case path = "p", type = "t", size = "s", mode = "m", mtimeNs = "mt", inode = "i", fileID = "id", target = "l"
    }

    public var mtime: Date { Date(timeIntervalSince1970: Double(mtimeNs) / 1e9) }
    public var name: String { String(path.split(separator: "/").last ?? Substring(path)) }

    /// Same content and metadata (what "unchanged" means for a diff).
    public func sameAs(_ other: SnapshotEntry) -> Bool {
        type == other.type && size == other.size && fileID == other.fileID && target == other.target
            && mode == other.mode && mtimeNs == other.mtimeNs
    }
}

/// A snapshot manifest: a header line, then one JSON line per entry, sorted by path. It is stored
/// in the stores like any file, so snapshots are replicated and healed with the data and the
/// catalog can be rebuilt from the stores (docs/snapshot-format.md).
public struct Manifest: Sendable, Equatable {
    public struct Header: Codable, Sendable, Equatable {
        public var format: String = "trove-manifest-1"
        public var root: String
        public var time: Date
        public var tag: String?
        public var parent: String?
        public var partial: Bool
        public var skipped: [String]
        public init(root: String, time: Date, tag: String?, parent: String?, partial: Bool, skipped: [String]) {
            self.root = root
            self.time = time
            self.tag = tag
            self.parent = parent
            self.partial = partial
            self.skipped = skipped
        }
    }

    public var header: Header
    public var entries: [SnapshotEntry]

    public init(header: Header, entries: [SnapshotEntry]) {
        self.header = header
        self.entries = entries.sorted { $0.path < $1.path }
    }

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .secondsSince1970
        var out = Array(try encoder.encode(header))
        out.append(0x0A)
        // Entries are written by hand: Foundation's encoder costs ~2 µs an entry, too slow for
        // 100,000-file trees. The output is plain JSON that `decode` (JSONDecoder) reads back.
        out.reserveCapacity(out.count + entries.count * 120)
        for entry in entries {
            out.append(contentsOf: #"{"i":"#.utf8)
            Self.appendDecimal(entry.inode, to: &out)
            if let id = entry.fileID {
                out.append(contentsOf: #","id":""#.utf8)
                out.append(contentsOf: id.description.utf8)
                out.append(0x22)
            }
            if let target = entry.target { out.append(contentsOf: #","l":"#.utf8); Self.appendJSONString(target, to: &out) }
            out.append(contentsOf: #","m":"#.utf8)
            Self.appendDecimal(UInt64(entry.mode), to: &out)
            out.append(contentsOf: #","mt":"#.utf8)
            if entry.mtimeNs < 0 { out.append(0x2D) }
            Self.appendDecimal(entry.mtimeNs.magnitude, to: &out)
            out.append(contentsOf: #","p":"#.utf8)
            Self.appendJSONString(entry.path, to: &out)
            out.append(contentsOf: #","s":"#.utf8)
            Self.appendDecimal(entry.size, to: &out)
            out.append(contentsOf: #","t":""#.utf8)
            out.append(contentsOf: entry.type.rawValue.utf8)
            out.append(contentsOf: "\"}\n".utf8)
        }
        return out
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

    /// Appends a JSON string literal (quotes, backslashes and control characters escaped).
    static func appendJSONString(_ text: String, to out: inout [UInt8]) {
        out.append(0x22)
        for byte in text.utf8 {
            switch byte {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }

    public static func decode(_ bytes: [UInt8]) throws -> Manifest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        let lines = bytes.split(separator: 0x0A)
        guard let first = lines.first else { throw TroveError(.corruptData, "The snapshot manifest is empty.") }
        let header = try decoder.decode(Header.self, from: Data(first))
        guard header.format == "trove-manifest-1" else {
            throw TroveError(.corruptData, "Unknown snapshot manifest format '\(header.format)'; upgrade Trove.")
        }
        let entries = try lines.dropFirst().map { try decoder.decode(SnapshotEntry.self, from: Data($0)) }
        return Manifest(header: header, entries: entries)
    }
}

/// Rules for paths that come out of a manifest (which may be hostile).
public enum SafePath {
    /// True when `path` is a plain relative path: no `..`, `.`, empty component, leading `/` or NUL.
    /// Works on bytes, as the filesystem does: a combining mark after `/` must not hide a `..`.
    public static func isSafeRelative(_ path: String) -> Bool {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.first != 0x2F, !bytes.contains(0) else { return false }
        return bytes.split(separator: 0x2F, omittingEmptySubsequences: false).allSatisfy { part in
            !part.isEmpty && !part.elementsEqual([0x2E]) && !part.elementsEqual([0x2E, 0x2E])
        }
    }

    /// `path` without its first `count` UTF-8 bytes (for cutting a known prefix off a path;
    /// Character-based counting would merge a combining mark with the `/` before it).
    public static func dropping(_ count: Int, from path: String) -> String {
        String(decoding: path.utf8.dropFirst(count), as: UTF8.self)
    }
}

/// A path compared and hashed by its UTF-8 bytes. Swift's String equality treats the NFC and
/// NFD spellings of a name as equal, but a filesystem holds them as two different files.
public struct PathKey: Hashable, Sendable {
    public let path: String
    public init(_ path: String) { self.path = path }

    public static func == (a: PathKey, b: PathKey) -> Bool { a.path.utf8.elementsEqual(b.path.utf8) }

    public func hash(into hasher: inout Hasher) {
        var path = path
        path.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

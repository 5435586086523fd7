import Foundation

/// What a snapshot entry is.
public enum EntryType: String, Codable, Sendable {
    case file = "f"
    case directory = "d"
    case symlink = "l"
    case fifo = "p"
    case charDevice = "c"
    case blockDevice = "b"
}

/// A file time to the nanosecond, for any value a filesystem holds (before 1970 and after
/// 2262, where nanoseconds no longer fit 64 bits).
public struct FileTime: Sendable, Hashable, Comparable, Codable {
    public var seconds: Int64
    /// 0 ..< 1,000,000,000.
    public var nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// From nanoseconds since 1970 (the manifest-1 and catalog-v4 form).
    public init(nanosecondsSince1970 ns: Int64) {
        let seconds = ns >= 0 ? ns / 1_000_000_000 : (ns - 999_999_999) / 1_000_000_000
        self.init(seconds: seconds, nanoseconds: Int32(ns - seconds * 1_000_000_000))
    }

    public var date: Date { Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1e9) }

    public static func < (a: FileTime, b: FileTime) -> Bool { (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds) }
}

/// One extended attribute (`user.*`, POSIX ACLs as `system.posix_acl_*`, …): name and value bytes.
public struct ExtendedAttribute: Sendable, Hashable {
    public var name: String
    public var value: [UInt8]
    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }
}

/// One path in a snapshot: its metadata, and for files the content ID.
public struct SnapshotEntry: Sendable, Equatable {
    /// Relative to the snapshot's root, `/`-separated, never empty, never `..` (bytes as NameCodec holds them).
    public var path: String
    public var type: EntryType
    public var size: UInt64
    /// Permission bits with setuid, setgid and sticky (e.g. 0o644, 0o4755).
    public var mode: UInt32
    public var mtime: FileTime
    /// Inode number when snapshotted, to spot unchanged files without reading them.
    public var inode: UInt64
    public var fileID: ContentID?
    /// Where a symbolic link points (bytes as NameCodec holds them).
    public var target: String?
    /// Owner and group; nil in snapshots taken before manifest format 2.
    public var uid: UInt32?
    public var gid: UInt32?
    /// Extended attributes, sorted by name.
    public var xattrs: [ExtendedAttribute]
    /// For the second and later names of a hard-linked file: the path of the first one in this snapshot.
    public var hardLink: String?
    /// Device number of a character or block device.
    public var device: UInt64?
    /// The file has holes (found with SEEK_HOLE); restore re-creates them.
    public var sparse: Bool

    public init(path: String, type: EntryType, size: UInt64 = 0, mode: UInt32 = 0o644, mtime: FileTime = FileTime(seconds: 0),
                inode: UInt64 = 0, fileID: ContentID? = nil, target: String? = nil, uid: UInt32? = nil, gid: UInt32? = nil,
                xattrs: [ExtendedAttribute] = [], hardLink: String? = nil, device: UInt64? = nil, sparse: Bool = false) {
        self.path = path
        self.type = type
        self.size = size
        self.mode = mode
        self.mtime = mtime
        self.inode = inode
        self.fileID = fileID
        self.target = target
        self.uid = uid
        self.gid = gid
        self.xattrs = xattrs
        self.hardLink = hardLink
        self.device = device
        self.sparse = sparse
    }

    /// The last part of the path (after its last `/` byte, as the filesystem sees it).
    public var name: String {
        guard let slash = path.utf8.lastIndex(of: 0x2F) else { return path }
        return String(decoding: path.utf8[path.utf8.index(after: slash)...], as: UTF8.self)
    }

    /// Same mode, times, owner, attributes and links (content aside).
    public func sameMetadata(_ other: SnapshotEntry) -> Bool {
        mode == other.mode && mtime == other.mtime && uid == other.uid && gid == other.gid && xattrs == other.xattrs
            && hardLink == other.hardLink && device == other.device
    }

    /// The metadata beyond the classic columns, as one JSON object (nil when there is none):
    /// how the catalog stores it, with the manifest's keys.
    public var extras: [UInt8]? {
        guard !xattrs.isEmpty || hardLink != nil || device != nil || sparse else { return nil }
        var out: [UInt8] = [0x7B]
        Manifest.appendExtras(self, to: &out, leadingComma: false)
        out.append(0x7D)
        return out
    }

    /// Sets the metadata held by `extras`.
    public mutating func setExtras(_ json: [UInt8]) throws {
        let parsed = try Manifest.decodeLine(json, path: path)
        xattrs = parsed.xattrs
        hardLink = parsed.hardLink
        device = parsed.device
        sparse = parsed.sparse
    }
}

extension Array where Element == SnapshotEntry {
    /// These entries in path order (`PathKey.precedes`): the same array, not a copy, when they
    /// already are (a snapshot's own entries are).
    public func inPathOrder() -> [SnapshotEntry] {
        let ordered = zip(self, dropFirst()).allSatisfy { !PathKey.precedes($1.path, $0.path) }
        return ordered ? self : sorted { PathKey.precedes($0.path, $1.path) }
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

    /// Byte order of two paths (as `sort` in the C locale), with one memcmp.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { pa in
            b.withUTF8 { pb in
                let shared = min(pa.count, pb.count)
                let order = shared == 0 ? 0 : memcmp(pa.baseAddress!, pb.baseAddress!, shared)
                return order != 0 ? order < 0 : pa.count < pb.count
            }
        }
    }

    public func hash(into hasher: inout Hasher) {
        var path = path
        path.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

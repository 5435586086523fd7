#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTroveSystem
import Foundation
import TroveCore

/// Calls for walking and re-creating trees with every attribute: names as bytes (NameCodec),
/// links, special files, owners, times and extended attributes. Paths are Strings in
/// NameCodec's form; every call passes their exact bytes to the kernel.
extension POSIX {
    /// The names in an open folder (without `.` and `..`), in byte order, as NameCodec holds them.
    public static func names(inFolder stream: OpaquePointer) -> [String] {
        var raw: [[UInt8]] = []
        while let item = readdir(stream) {
            let bytes = withUnsafeBytes(of: item.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if bytes != [0x2E] && bytes != [0x2E, 0x2E] { raw.append(bytes) }
        }
        // Byte order, like `sort` in the C locale, so manifests are the same on every machine.
        raw.sort { $0.lexicographicallyPrecedes($1) }
        return raw.map { NameCodec.decode($0) }
    }

    /// Opens a folder for reading its names; nil when it cannot be read.
    public static func openFolder(_ path: String) -> (fd: Int32, stream: OpaquePointer)? {
        let fd = NameCodec.withCString(path) { Glibc.open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        guard let stream = fdopendir(fd) else { Glibc.close(fd); return nil }
        return (fd, stream)
    }

    /// access(2) on a path's exact bytes.
    public static func canAccess(_ path: String, _ mode: Int32) -> Bool {
        NameCodec.withCString(path) { Glibc.access($0, mode) } == 0
    }

    /// Where a symbolic link points, byte for byte.
    public static func readLink(_ path: String) throws -> String {
        var size = 256
        while true {
            var buffer = [UInt8](repeating: 0, count: size)
            let n = NameCodec.withCString(path) { name in buffer.withUnsafeMutableBytes { readlink(name, $0.baseAddress!.assumingMemoryBound(to: CChar.self), size) } }
            if n < 0 { throw fail("readlink", path) }
            if n < size { return NameCodec.decode(buffer[0..<n]) }
            size *= 4
        }
    }

    public static func symlink(_ target: String, at path: String) throws {
        let rc = NameCodec.withCString(target) { content in NameCodec.withCString(path) { Glibc.symlink(content, $0) } }
        if rc != 0 { throw fail("symlink", path) }
    }

    /// A second name for an existing file.
    public static func link(_ existing: String, as path: String) throws {
        let rc = NameCodec.withCString(existing) { old in NameCodec.withCString(path) { Glibc.link(old, $0) } }
        if rc != 0 { throw fail("link", path) }
    }

    public static func makeFIFO(_ path: String, mode: mode_t) throws {
        if NameCodec.withCString(path, { mkfifo($0, mode) }) != 0 { throw fail("mkfifo", path) }
    }

    /// A character or block device node (root only).
    public static func makeDevice(_ path: String, character: Bool, mode: mode_t, device: UInt64) throws {
        let kind = character ? S_IFCHR : S_IFBLK
        if NameCodec.withCString(path, { mknod($0, kind | mode, dev_t(device)) }) != 0 { throw fail("mknod", path) }
    }

    public static func removeFolder(_ path: String) throws {
        if NameCodec.withCString(path, { rmdir($0) }) != 0 { throw fail("rmdir", path) }
    }

    /// True when the regular file at `path` has a hole before its end (SEEK_HOLE).
    public static func hasHoles(_ path: String, size: UInt64) -> Bool {
        #if os(Linux)
        guard let fd = try? open(path, O_RDONLY | O_NOFOLLOW) else { return false }
        defer { Glibc.close(fd) }
        let seekHole: Int32 = 4
        let hole = lseek(fd, 0, seekHole)
        return hole >= 0 && UInt64(hole) < size
        #else
        return false
        #endif
    }

    /// Every extended attribute of a path (not following a link), sorted by name. Attributes
    /// that vanish or cannot be read in between are left out; a filesystem without them gives [].
    public static func extendedAttributes(_ path: String) throws -> [ExtendedAttribute] {
        try NameCodec.withCString(path) { file in
            var needed = trove_list_xattrs(file, nil, 0)
            if needed < 0 {
                if errno == ENOTSUP || errno == ENOENT { return [] }
                throw fail("listxattr", path)
            }
            guard needed > 0 else { return [] }
            var names = [CChar](repeating: 0, count: needed)
            needed = names.withUnsafeMutableBufferPointer { trove_list_xattrs(file, $0.baseAddress, needed) }
            if needed < 0 { throw fail("listxattr", path) }
            var result: [ExtendedAttribute] = []
            for raw in names[0..<needed].split(separator: 0) {
                let name = raw + [0]
                // A value that grows between the two calls is asked for again (ERANGE).
                for _ in 0..<3 {
                    let size = name.withUnsafeBufferPointer { trove_get_xattr(file, $0.baseAddress!, nil, 0) }
                    if size < 0 { break }
                    var value = [UInt8](repeating: 0, count: size)
                    let got = name.withUnsafeBufferPointer { key in value.withUnsafeMutableBytes { trove_get_xattr(file, key.baseAddress!, $0.baseAddress, size) } }
                    if got >= 0 {
                        value.removeSubrange(got...)
                        result.append(ExtendedAttribute(name: NameCodec.decode(raw.map { UInt8(bitPattern: $0) }), value: value))
                        break
                    }
                    if errno != ERANGE { break }
                }
            }
            return result.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        }
    }

    /// `extendedAttributes(_:)` of `name` in the folder open as `folder`. Most files have none,
    /// and learning that costs no path lookup from the root; `path` is spelled out only for
    /// the rest (and where the kernel lacks listxattrat).
    public static func extendedAttributes(name: String, inFolder folder: Int32, path: () -> String) throws -> [ExtendedAttribute] {
        let listed = NameCodec.withCString(name) { trove_list_xattrs_at(folder, $0, nil, 0) }
        if listed == 0 { return [] }
        return try extendedAttributes(path())
    }

    /// Sets one extended attribute on a path (not following a link).
    public static func setExtendedAttribute(_ path: String, _ attribute: ExtendedAttribute) throws {
        let rc = NameCodec.withCString(path) { name in
            NameCodec.withCString(attribute.name) { key in
                attribute.value.withUnsafeBytes { trove_set_xattr(name, key, $0.baseAddress, $0.count) }
            }
        }
        if rc != 0 { throw fail("setxattr \(attribute.name)", path) }
    }

    /// Sets one extended attribute on an open file.
    public static func setExtendedAttribute(_ fd: Int32, _ attribute: ExtendedAttribute, path: String) throws {
        let rc = NameCodec.withCString(attribute.name) { key in
            attribute.value.withUnsafeBytes { trove_fset_xattr(fd, key, $0.baseAddress, $0.count) }
        }
        if rc != 0 { throw fail("setxattr \(attribute.name)", path) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The mounts this process sees (/proc/self/mountinfo): where each filesystem is mounted, its
/// type and its source. One parser for every question about mounts (filesystem type, source
/// device, the mount around a path).
enum MountTable {
    struct Entry {
        /// `MAJ:MIN` of the mounted filesystem.
        var device: String
        var point: String
        var type: String
        var source: String
    }

    static func entries() -> [Entry] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count else { return nil }
            return Entry(device: String(fields[2]), point: unescape(String(fields[4])), type: String(fields[dash + 1]),
                         source: unescape(String(fields[dash + 2])))
        }
    }

    /// The mount of the filesystem with this device number.
    static func entry(device: dev_t) -> Entry? {
        let wanted = "\(FilesystemUUID.major(device)):\(FilesystemUUID.minor(device))"
        return entries().first { $0.device == wanted }
    }

    /// The mount a path lies in (the longest mount point above it): for nested Btrfs subvolumes,
    /// whose device numbers mountinfo does not list.
    static func entry(containing path: String) -> Entry? {
        entries().filter { path == $0.point || path.hasPrefix($0.point == "/" ? "/" : $0.point + "/") }
            .max { $0.point.utf8.count < $1.point.utf8.count }
    }

    /// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
    static func unescape(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == 0x5C, utf8.count >= 3, let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Finds the filesystem UUID of the drive holding a path, so a reformatted or wiped drive
/// can be recognised when it comes back without its store.
public enum FilesystemUUID {
    /// The UUID, or nil when none can be read (tmpfs, overlay, no udev and no permission).
    public static func of(path: String) -> String? {
        guard let info = try? POSIX.stat(path) else { return nil }
        let device = info.st_dev
        // The superblock first (it is the truth, where it can be read: ext2/3/4 as root); udev's
        // links can lag behind a reformat of the same device.
        if let source = mountSource(device: device), let uuid = fromSuperblock(devicePath: source) { return uuid }
        return fromDiskByUUID(device: device)
    }

    /// udev's /dev/disk/by-uuid links, matched by device number.
    static func fromDiskByUUID(device: dev_t) -> String? {
        let folder = "/dev/disk/by-uuid"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        for name in names {
            if let target = try? POSIX.stat(folder + "/" + name), target.st_rdev == device { return name.lowercased() }
        }
        return nil
    }

    /// The block device mounted with this device number.
    static func mountSource(device: dev_t) -> String? {
        MountTable.entry(device: device).map(\.source).flatMap { $0.hasPrefix("/dev/") ? $0 : nil }
    }

    /// The filesystem type mounted with this device number ("ext4", "fuseblk", "nfs4", …).
    static func mountType(device: dev_t) -> String? {
        MountTable.entry(device: device)?.type
    }

    /// Reads the UUID of an ext2/3/4 superblock (magic 0xEF53 at 1024+56, UUID at 1024+104).
    static func fromSuperblock(devicePath: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: devicePath) else { return nil }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: 1024)) != nil,
              let block = try? handle.read(upToCount: 1024), block.count == 1024 else { return nil }
        let bytes = [UInt8](block)
        guard bytes[56] == 0x53, bytes[57] == 0xEF else { return nil }
        let uuid = bytes[104..<120].map { String(format: "%02x", $0) }.joined()
        let parts = [uuid.prefix(8), uuid.dropFirst(8).prefix(4), uuid.dropFirst(12).prefix(4),
                     uuid.dropFirst(16).prefix(4), uuid.dropFirst(20)]
        return parts.joined(separator: "-")
    }

    static func major(_ device: dev_t) -> UInt32 { UInt32((device >> 8) & 0xfff) | UInt32((device >> 32) & ~0xfff) }
    static func minor(_ device: dev_t) -> UInt32 { UInt32(device & 0xff) | UInt32((device >> 12) & ~0xff) }
}

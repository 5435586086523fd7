#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The physical disk a folder lives on: its failure domain. Copies on two folders of one disk
/// are one copy as far as a dying disk is concerned.
///
/// Found through sysfs: the folder's device (or, for Btrfs and other filesystems with anonymous
/// device numbers, the block device /proc/self/mountinfo names) → /sys/dev/block/MAJ:MIN → the
/// whole disk (a partition's parent; a device-mapper volume's single underlying disk) → its
/// WWN where readable, else kernel name and serial (virtual disks share serials), its backing
/// image for a loop device (an image stands for a drive of its own). ZFS datasets are their
/// pool; network shares group by server; other filesystems without a block device (tmpfs,
/// FUSE) are their own device number.
public enum DiskIdentity {
    public struct Disk: Sendable, Equatable {
        /// Stable identity, e.g. `wwid:naa.5000…`, `disk:sda:WD-XYZ`, `loop:/images/usb1.img`,
        /// `zfs:tank`, `net:nas`.
        public var id: String
        /// Short name to show (`sda`, `loop3`, `pool tank`, `nas`).
        public var name: String
        /// A drive that can be unplugged and taken to another machine (the kernel's removable
        /// flag, or a disk on USB); false for one inside the machine; nil when not a local disk.
        public var removable: Bool?

        public init(id: String, name: String, removable: Bool? = nil) {
            self.id = id
            self.name = name
            self.removable = removable
        }
    }

    public static func of(path: String) -> Disk? {
        guard let info = try? POSIX.stat(path) else { return nil }
        let device = info.st_dev
        let major = FilesystemUUID.major(device), minor = FilesystemUUID.minor(device)
        if major != 0, let disk = blockDisk(major: major, minor: minor) { return disk }
        // Anonymous device numbers (Btrfs subvolumes, ZFS, network and virtual filesystems):
        // what is mounted there says which disk, pool or server it is.
        let resolved = realPath(path) ?? path
        if let mount = MountTable.entry(device: device) ?? MountTable.entry(containing: resolved) {
            if mount.type == "zfs", let pool = mount.source.split(separator: "/").first {
                return Disk(id: "zfs:\(pool)", name: "pool \(pool)")
            }
            if mount.source.hasPrefix("/dev/"), let block = try? POSIX.stat(mount.source), (block.st_mode & S_IFMT) == S_IFBLK,
               let disk = blockDisk(major: FilesystemUUID.major(block.st_rdev), minor: FilesystemUUID.minor(block.st_rdev)) {
                return disk
            }
            // Network shares group by server: two exports of one NAS may share its disks.
            if mount.source.hasPrefix("//"), let server = mount.source.dropFirst(2).split(separator: "/").first {
                return Disk(id: "net:\(server)", name: String(server))
            }
            if let colon = mount.source.firstIndex(of: ":"), colon != mount.source.startIndex {
                let server = String(mount.source[..<colon])
                return Disk(id: "net:\(server)", name: server)
            }
        }
        return Disk(id: "dev:\(major):\(minor)", name: "device \(major):\(minor)")
    }

    /// The whole disk behind block device MAJ:MIN.
    static func blockDisk(major: UInt32, minor: UInt32, depth: Int = 0) -> Disk? {
        guard var folder = realPath("/sys/dev/block/\(major):\(minor)") else { return nil }
        if FileManager.default.fileExists(atPath: folder + "/partition") { folder = (folder as NSString).deletingLastPathComponent }
        let name = (folder as NSString).lastPathComponent
        // A device-mapper or md volume on exactly one disk is that disk; on several, its own domain.
        if depth < 4, let slaves = try? FileManager.default.contentsOfDirectory(atPath: folder + "/slaves"), slaves.count == 1,
           let numbers = read(folder + "/slaves/\(slaves[0])/dev")?.split(separator: ":"), numbers.count == 2,
           let slaveMajor = UInt32(numbers[0]), let slaveMinor = UInt32(numbers[1]),
           let disk = blockDisk(major: slaveMajor, minor: slaveMinor, depth: depth + 1) {
            return disk
        }
        // Removable: the kernel's flag (card readers, some sticks) or a disk reached over USB.
        let removable = read(folder + "/removable") == "1" || folder.contains("/usb")
        if name.hasPrefix("loop"), let backing = read(folder + "/loop/backing_file") {
            return Disk(id: "loop:\(backing)", name: name, removable: false)
        }
        // A WWN is unique by design; a serial is not always (virtual disks share one), so it
        // goes with the kernel name. Wrongly merging two disks only under-counts: never reassures.
        for file in ["device/wwid", "wwid"] {
            if let value = read(folder + "/" + file), !value.isEmpty { return Disk(id: "wwid:\(value)", name: name, removable: removable) }
        }
        for file in ["device/serial", "serial"] {
            if let value = read(folder + "/" + file), !value.isEmpty { return Disk(id: "disk:\(name):\(value)", name: name, removable: removable) }
        }
        if let uuid = read(folder + "/dm/uuid"), !uuid.isEmpty { return Disk(id: "dm:\(uuid)", name: name, removable: removable) }
        return Disk(id: "disk:\(name)", name: name, removable: removable)
    }

    /// realpath(3): sysfs links are relative and must be resolved by the kernel's rules.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// This machine's name, as alerts name where a drive was last seen.
    public static func machineName() -> String {
        // TROVE_MACHINE_NAME names it when the host name says nothing (containers, test nodes).
        if let name = ProcessInfo.processInfo.environment["TROVE_MACHINE_NAME"], !name.isEmpty { return name }
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "this machine" }
        let name = String(cString: buffer)
        return name.isEmpty ? "this machine" : name
    }

    static func read(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

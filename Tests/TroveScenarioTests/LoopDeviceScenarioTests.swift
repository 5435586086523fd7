import Foundation
import Testing
import TroveTesting

/// Real drives: ext4 images on loop devices (root only). Unplug = unmount; reformat = mkfs
/// with the same filesystem UUID. Skips cleanly when not root or loop devices are unavailable.
/// Serialized: tests attaching loop devices at once can race for the same free device.
@Suite(.enabled(if: LoopDrives.available, "needs root, losetup and mkfs.ext4"), .serialized)
struct LoopDeviceScenarioTests {
    let dir = TempFolder("loop")
    var lib: String { dir.at("library") }
    let start = 1_800_000_000.0

    func at(_ days: Double, _ args: [String]) throws -> TroveRun {
        try trove(args, library: lib, environment: ["TROVE_NOW": String(start + days * 86_400)])
    }

    @Test func unplugDowngradesReplugRestoresReformatPurges() throws {
        let drives = try LoopDrives(count: 3, in: dir)
        defer { drives.detach() }
        #expect(try at(0, ["init"]).status == 0)
        for i in 0..<3 { #expect(try at(0, ["store", "add", drives.mounts[i], "--label", "disk\(i)"]).status == 0) }
        let identity = try String(contentsOfFile: drives.mounts[2] + "/.trove/store.json", encoding: .utf8)
        #expect(identity.contains(drives.uuids[2]), "the store records its drive's filesystem UUID")
        for i in 0..<3 { dir.file("photos/p\(i).jpg", testBytes(500_000, seed: UInt64(i))) }
        #expect(try at(0, ["add", dir.at("photos")]).status == 0)
        #expect(try at(0, ["heal"]).status == 0)
        #expect(try at(0, ["status"]).status == 0)

        // Unplug disk2: after 4 days its copies stop counting.
        try drives.unmount(2)
        _ = try at(4, ["status"])
        #expect(try at(4, ["events", "--json", "--kind", "store_downgraded"]).jsonLines().count == 1)

        // Plug it back: it is trusted again once its copies re-verify.
        try drives.mount(2)
        _ = try at(4.5, ["status"])
        #expect(try at(4.5, ["events", "--json", "--kind", "store_restored"]).jsonLines().count == 1)
        #expect(try at(4.5, ["heal"]).status == 0)
        #expect(try at(4.5, ["status"]).status == 0)

        // Reformat disk2 with the same UUID: the store is gone, so it is purged at once.
        try drives.unmount(2)
        try drives.reformat(2)
        try drives.mount(2)
        let status = try at(5, ["status", "--json"])
        let purged = try at(5, ["events", "--json", "--kind", "store_purged"]).jsonLines()
        #expect(purged.count == 1)
        #expect(((purged.first?["details"] as? [String: Any])?["reason"] as? String)?.contains("reformatted") == true)
        #expect(status.status == 2)  // two drives cannot hold three copies
    }

    @Test func verifyReadsTheDriveNotThePageCache() throws {
        let drives = try LoopDrives(count: 1, in: dir)
        defer { drives.detach() }
        _ = try at(0, ["init", "--copies", "1"])
        _ = try at(0, ["store", "add", drives.mounts[0], "--label", "disk0"])
        dir.file("in/large.bin", testBytes(2_000_000, seed: 1))
        dir.file("in/small.bin", testBytes(100_000, seed: 2))
        #expect(try at(0, ["add", dir.at("in")]).status == 0)
        let objects = try LoopDrives.sh("find \(drives.mounts[0])/.trove/objects -type f").split(separator: "\n").map(String.init)
        #expect(objects.count == 2)
        for object in objects {
            // The object's pages are cached, then one byte rots on the drive underneath.
            _ = try LoopDrives.sh("cat \(object) > /dev/null")
            try drives.flipByte(of: object, at: 1000)
            let cached = try trove(["hash", object]).stdout
            #expect(cached.contains((object as NSString).lastPathComponent), "the page cache still holds the good bytes")
        }
        let run = try at(0, ["verify"])
        #expect(run.status != 0)
        #expect(try at(0, ["events", "--json", "--kind", "corrupt_copy"]).jsonLines().count == 2)
    }

    @Test func restoreToAFullDriveFailsCleanly() throws {
        let drives = try LoopDrives(count: 1, in: dir, megabytes: 8)
        defer { drives.detach() }
        _ = try at(0, ["init", "--copies", "1"])
        _ = try at(0, ["store", "add", dir.folder("store"), "--label", "s"])
        // Large files (written directly to the drive) and small ones, more than the drive holds.
        for i in 0..<5 { dir.file("photos/big\(i).raw", testBytes(2_000_000, seed: UInt64(i))) }
        for i in 0..<20 { dir.file("photos/small\(i).txt", testBytes(3_000, seed: UInt64(100 + i))) }
        #expect(try at(0, ["snapshot", dir.at("photos")]).status == 0)
        let run = try at(0, ["restore", "latest", "--to", drives.mounts[0] + "/photos"])
        #expect(run.status == 74)
        #expect(run.stderr.contains("no space"))
        // No half-written file is left behind: whatever is there is whole and correct.
        let left = try LoopDrives.sh("find \(drives.mounts[0])/photos -type f").split(separator: "\n").map(String.init)
        #expect(!left.contains { $0.contains(".trove-") }, "temporary files are removed")
        for path in left {
            let name = (path as NSString).lastPathComponent
            let original = try Data(contentsOf: URL(fileURLWithPath: dir.at("photos/\(name)")))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == original, "\(name) is complete")
        }
        // With room, the same restore succeeds and every byte matches.
        let roomy = dir.folder("roomy")
        #expect(try at(0, ["restore", "latest", "--to", roomy + "/photos"]).status == 0)
        #expect((try? LoopDrives.sh("diff -r \(roomy)/photos \(dir.at("photos"))")) != nil, "the restored tree matches the original")
    }

    @Test func twoStoresOnOneDriveCountOnceASecondDriveCountsAgain() throws {
        let drives = try LoopDrives(count: 2, in: dir)
        defer { drives.detach() }
        #expect(try at(0, ["init", "--copies", "2"]).status == 0)
        let a = drives.mounts[0] + "/a", b = drives.mounts[0] + "/b"
        for folder in [a, b] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        #expect(try at(0, ["store", "add", a, "--label", "a"]).status == 0)
        let second = try at(0, ["store", "add", b, "--label", "b"])
        #expect(second.stderr.contains("same disk as 'a'"), "\(second.stderr)")
        dir.file("photos/p.jpg", testBytes(300_000, seed: 4))
        // --mirror counts disks: two stores on one drive cannot acknowledge two copies.
        let mirrored = try at(0, ["add", dir.at("photos"), "--mirror", "2"])
        #expect(mirrored.status == 64 && mirrored.stderr.contains("different disks"), "\(mirrored.stderr)")
        #expect(try at(0, ["add", dir.at("photos")]).status == 0)
        _ = try at(0, ["heal"])
        // Two stores on one drive: one copy as far as that drive's failure goes.
        let one = try at(0, ["status", "--json"])
        #expect(one.status == 2)
        #expect((try one.json()["durability"] as? [[String: Any]])?.first?["durability"] as? Int == 1)
        // A store on the second drive adds a real copy.
        #expect(try at(0, ["store", "add", drives.mounts[1], "--label", "c"]).status == 0)
        #expect(try at(0, ["heal"]).status == 0)
        let two = try at(0, ["status", "--json"])
        #expect(two.status == 0, "\(two.stdout)")
        #expect((try two.json()["durability"] as? [[String: Any]])?.first?["durability"] as? Int == 2)
        let stores = try at(0, ["store", "list", "--json"]).json()["stores"] as? [[String: Any]] ?? []
        let disks = Dictionary(uniqueKeysWithValues: stores.map { ($0["label"] as? String ?? "", $0["disk"] as? String ?? "") })
        #expect(disks["a"] == disks["b"] && disks["a"] != disks["c"], "\(disks)")
        #expect(disks["a"]?.hasPrefix("loop:") == true, "a loop device is known by its image: \(disks)")
    }

    @Test func fullDriveStopsImportCleanly() throws {
        let drives = try LoopDrives(count: 1, in: dir, megabytes: 8)
        defer { drives.detach() }
        _ = try at(0, ["init"])
        _ = try at(0, ["store", "add", drives.mounts[0], "--label", "tiny"])
        for i in 0..<6 { dir.file("big/f\(i)", testBytes(2_000_000, seed: UInt64(i))) }
        let run = try at(0, ["add", dir.at("big")])
        #expect(run.status == 74)
        #expect(run.stderr.contains("full"))
        #expect(try at(0, ["check"]).status == 0)
        #expect(try at(0, ["verify"]).status == 0)
    }
}

/// ext4 images attached to loop devices and mounted under a temporary folder.
final class LoopDrives {
    static var available: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/losetup")
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.ext4")
            && (try? LoopDrives.sh("losetup -f")) != nil
    }

    var images: [String] = []
    var devices: [String] = []
    var mounts: [String] = []
    var uuids: [String] = []

    init(count: Int, in folder: TempFolder, megabytes: Int = 32) throws {
        for i in 0..<count {
            let image = folder.at("disk\(i).img")
            try Self.sh("truncate -s \(megabytes)M \(image) && mkfs.ext4 -q -F \(image)")
            let device = try Self.sh("losetup -f --show \(image)").trimmingCharacters(in: .whitespacesAndNewlines)
            images.append(image)
            devices.append(device)
            uuids.append(try Self.sh("blkid -p -s UUID -o value \(device)").trimmingCharacters(in: .whitespacesAndNewlines))
            mounts.append(folder.folder("mnt\(i)"))
            try mount(i)
        }
    }

    func mount(_ i: Int) throws { try Self.sh("mount \(devices[i]) \(mounts[i])") }
    func unmount(_ i: Int) throws { try Self.sh("umount \(mounts[i])") }
    func reformat(_ i: Int) throws { try Self.sh("mkfs.ext4 -q -F -U \(uuids[i]) \(devices[i])") }

    /// Inverts one byte of a file on the drive image itself, behind the filesystem and its cache.
    func flipByte(of file: String, at offset: UInt64) throws {
        let map = try Self.sh("filefrag -v -b1 \(file)")
        // The first extent's line: "0: 0.. N: PHYSICAL.. END: LENGTH: ..."
        guard let line = map.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("0:") }),
              let physical = UInt64(line.split(separator: ":")[2].split(separator: ".").first?.trimmingCharacters(in: .whitespaces) ?? ""),
              let drive = mounts.firstIndex(where: { file.hasPrefix($0 + "/") }),
              let handle = FileHandle(forUpdatingAtPath: images[drive]) else { throw CocoaError(.fileReadUnknown) }
        defer { try? handle.close() }
        try handle.seek(toOffset: physical + offset)
        let byte = try handle.read(upToCount: 1) ?? Data([0])
        try handle.seek(toOffset: physical + offset)
        try handle.write(contentsOf: Data([byte[byte.startIndex] ^ 0xFF]))
        try handle.synchronize()
    }

    func detach() {
        for i in devices.indices {
            _ = try? Self.sh("umount \(mounts[i]) 2>/dev/null; true")
            _ = try? Self.sh("losetup -d \(devices[i])")
        }
    }

    @discardableResult
    static func sh(_ command: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = "/usr/sbin:/sbin:/usr/bin:/bin"
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        return String(decoding: data, as: UTF8.self)
    }
}

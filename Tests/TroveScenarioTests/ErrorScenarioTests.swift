import Foundation
import Testing
import TroveTesting

/// Every bad input gets one clear sentence, a documented exit code, and loses nothing.
struct ErrorScenarioTests {
    let dir = TempFolder("errors")
    var lib: String { dir.at("library") }

    func setUp() throws {
        _ = try trove(["init"], library: lib)
        _ = try trove(["store", "add", dir.folder("usb0")], library: lib)
    }

    @Test func libraryThatDoesNotExist() throws {
        let run = try trove(["status"], library: dir.at("nowhere"))
        #expect(run.status == 66)
        #expect(run.stderr.contains("trove init"))
        #expect(run.stdout.isEmpty)
    }

    @Test func initTwiceRefuses() throws {
        try setUp()
        let run = try trove(["init"], library: lib)
        #expect(run.status == 73)
        #expect(run.stderr.contains("already exists"))
    }

    @Test func missingPath() throws {
        try setUp()
        let run = try trove(["add", dir.at("typo")], library: lib)
        #expect(run.status == 66)
        #expect(run.stderr.contains("does not exist"))
        #expect(try trove(["status", "--json"], library: lib).json()["files"] as? Int == 0)
    }

    @Test(.enabled(if: !isRoot, "root reads everything"))
    func unreadablePath() throws {
        try setUp()
        let secret = dir.file("secret.txt", text: "x")
        chmod(secret, 0)
        let run = try trove(["add", secret], library: lib)
        #expect(run.status == 77)
        #expect(run.stderr.contains("permission"))
    }

    @Test(.enabled(if: !isRoot, "root writes everywhere"))
    func storeFolderNotWritable() throws {
        _ = try trove(["init"], library: lib)
        let ro = dir.folder("ro")
        chmod(ro, 0o555)
        let run = try trove(["store", "add", ro], library: lib)
        #expect(run.status == 73)
        #expect(run.stderr.contains("permissions"))
    }

    @Test(.enabled(if: isRoot, "needs root to mount a read-only tmpfs"))
    func readOnlyDriveAsRoot() throws {
        _ = try trove(["init"], library: lib)
        let ro = dir.folder("ro")
        let mount = try Process.run(URL(fileURLWithPath: "/bin/mount"), arguments: ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro])
        mount.waitUntilExit()
        try #require(mount.terminationStatus == 0, "tmpfs mount not permitted here")
        defer { _ = try? Process.run(URL(fileURLWithPath: "/bin/umount"), arguments: [ro]).waitUntilExit() }
        let run = try trove(["store", "add", ro], library: lib)
        #expect(run.status == 73)
        #expect(run.stderr.contains("read-write"))
    }

    @Test func storeFolderMissing() throws {
        _ = try trove(["init"], library: lib)
        let run = try trove(["store", "add", dir.at("not-mounted")], library: lib)
        #expect(run.status == 66)
        #expect(run.stderr.contains("mounted"))
    }

    @Test func malformedAndUnknownIDs() throws {
        try setUp()
        let malformed = try trove(["get", "hello!", "--to", dir.at("x")], library: lib)
        #expect(malformed.status == 64)
        #expect(malformed.stderr.contains("not a Trove ID"))
        let unknown = try trove(["get", "tcih4jrrwbzh6m5ed6dojtyd36ztwcdgbq6mql6wqmx66kyhi27q", "--to", dir.at("x")], library: lib)
        #expect(unknown.status == 66)
        #expect(unknown.stderr.contains("No file"))
        let whereis = try trove(["whereis", "zzzzzz"], library: lib)
        #expect(whereis.status == 66)
    }

    @Test func noStoreYet() throws {
        _ = try trove(["init"], library: lib)
        let run = try trove(["add", dir.file("a", text: "a")], library: lib)
        #expect(run.status == 75)
        #expect(run.stderr.contains("trove store add"))
    }

    @Test(.enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/bin/mount"), "needs root to mount a small tmpfs"))
    func fullDiskDuringImport() throws {
        try setUp()
        let small = dir.folder("small")
        let mount = try Process.run(URL(fileURLWithPath: "/bin/mount"), arguments: ["-t", "tmpfs", "-o", "size=3m", "tmpfs", small])
        mount.waitUntilExit()
        try #require(mount.terminationStatus == 0, "tmpfs mount not permitted here")
        defer { _ = try? Process.run(URL(fileURLWithPath: "/bin/umount"), arguments: [small]).waitUntilExit() }
        #expect(try trove(["store", "add", small, "--label", "small"], library: lib).status == 0)
        for i in 0..<4 { dir.file("big/f\(i)", testBytes(1_000_000, seed: UInt64(i))) }
        let run = try trove(["add", dir.at("big"), "--store", "small"], library: lib)
        #expect(run.status == 74)
        #expect(run.stderr.contains("full"))
        let check = try trove(["check"], library: lib)
        #expect(check.status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: small + "/.trove/tmp").isEmpty)
        let files = try trove(["status", "--json"], library: lib).json()["files"] as? Int ?? -1
        let objects = try FileManager.default.subpathsOfDirectory(atPath: small + "/.trove/objects").filter { $0.contains("/") }
        #expect(files == objects.count)
        #expect(files >= 1)
    }
}

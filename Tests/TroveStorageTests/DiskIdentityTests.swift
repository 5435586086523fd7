import Foundation
import Testing
@testable import TroveStorage
import TroveTesting

struct DiskIdentityTests {
    @Test func foldersOnOneFilesystemAreOneDisk() throws {
        let folder = TempFolder("disk")
        let a = try #require(DiskIdentity.of(path: folder.folder("a")))
        let b = try #require(DiskIdentity.of(path: folder.folder("b/c")))
        #expect(a == b)
        #expect(!a.id.isEmpty && !a.name.isEmpty)
        #expect(DiskIdentity.of(path: folder.at("missing")) == nil)
    }

    @Test func mountinfoEscapesAreUndone() {
        #expect(MountTable.unescape("/mnt/my\\040disk") == "/mnt/my disk")
        #expect(MountTable.unescape("/plain") == "/plain")
        #expect(MountTable.unescape("a\\134b") == "a\\b")
    }

    @Test func theMountAroundAPathIsTheLongestPrefix() {
        // "/" is always mounted; a path below it finds at least that.
        #expect(MountTable.entry(containing: "/usr/share/doc") != nil)
    }
}

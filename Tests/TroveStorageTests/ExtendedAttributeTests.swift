#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing
import TroveCore
import TroveStorage
import TroveTesting

/// A snapshot's walk lists attributes relative to the open folder (listxattrat); what it finds
/// must be what the path-based listing finds, links not followed.
struct ExtendedAttributeTests {
    func inFolder(_ folder: String, _ name: String) throws -> (attributes: [ExtendedAttribute], pathAsked: Bool) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY)
        #expect(fd >= 0)
        defer { close(fd) }
        var asked = false
        let attributes = try POSIX.extendedAttributes(name: name, inFolder: fd) {
            asked = true
            return folder + "/" + name
        }
        return (attributes, asked)
    }

    @Test func theFolderRelativeListingFindsWhatThePathFinds() throws {
        let folder = TempFolder()
        let tagged = folder.file("tagged.jpg", [1, 2, 3])
        let plain = folder.file("plain.txt", [4])
        let attributes = [ExtendedAttribute(name: "user.b.rating", value: [5]), ExtendedAttribute(name: "user.a.comment", value: Array("sunset".utf8))]
        for attribute in attributes { try POSIX.setExtendedAttribute(tagged, attribute) }
        #expect(symlink("tagged.jpg", folder.at("link")) == 0)

        let found = try inFolder(folder.path, "tagged.jpg")
        #expect(found.attributes == attributes.sorted { $0.name < $1.name })
        #expect(found.attributes == (try POSIX.extendedAttributes(tagged)))
        #expect(try inFolder(folder.path, "plain.txt").attributes == [] && (try POSIX.extendedAttributes(plain)) == [])
        // The link's own attributes (none), not its target's.
        #expect(try inFolder(folder.path, "link").attributes == [])
        // A name gone since the folder was read has none, as with the path.
        #expect(try inFolder(folder.path, "vanished").attributes == [])
    }

    /// Linux 6.13 or later (listxattrat).
    static var kernelListsInFolders: Bool {
        #if os(Linux)
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let version = release.split(separator: ".").prefix(2).compactMap { Int($0.prefix { $0.isNumber }) }
        return version.count == 2 && (version[0], version[1]) >= (6, 13)
        #else
        return false
        #endif
    }

    @Test(.enabled(if: kernelListsInFolders))
    func aFileWithoutAttributesNeverSpellsOutItsPath() throws {
        // The common case costs no path lookup from the root.
        let folder = TempFolder()
        _ = folder.file("plain.txt", [4])
        #expect(try inFolder(folder.path, "plain.txt").pathAsked == false)
        _ = folder.file("tagged.txt", [5])
        try POSIX.setExtendedAttribute(folder.at("tagged.txt"), ExtendedAttribute(name: "user.x", value: [1]))
        #expect(try inFolder(folder.path, "tagged.txt").pathAsked == true, "values are read by path")
    }
}

import Foundation
import Testing
import TroveCore
import TroveStorage
import TroveTesting

struct LocalStoreTests {
    let folder = TempFolder("store")

    func makeStore() throws -> LocalStore {
        try LocalStore.create(at: folder.path, label: "usb1", copies: 1, now: Date())
    }

    func put(_ bytes: [UInt8], in store: LocalStore) throws -> ContentID {
        let (id, _) = ContentHash.hash(bytes)
        let writer = try store.makeWriter(expectedSize: UInt64(bytes.count))
        try bytes.withUnsafeBytes { try writer.write($0) }
        try writer.commit(as: id)
        return id
    }

    @Test func createWritesIdentityAndLayout() throws {
        let store = try makeStore()
        let reopened = try #require(try LocalStore.open(at: folder.path))
        #expect(reopened.identity == store.identity)
        #expect(store.identity.kind == .local)
        #expect(store.identity.id.count == 24)
        for dir in ["objects", "tmp", "partial", "corrupt"] {
            #expect(FileManager.default.fileExists(atPath: folder.at(".trove/\(dir)")))
        }
        let json = try String(contentsOfFile: folder.at(".trove/store.json"), encoding: .utf8)
        for key in ["\"id\"", "\"label\"", "\"created\"", "\"kind\"", "\"copies\""] { #expect(json.contains(key)) }
    }

    @Test func objectsFanOutByIDPrefix() throws {
        let store = try makeStore()
        let id = try put(testBytes(1000), in: store)
        let text = id.description
        let path = folder.at(".trove/objects/\(text.prefix(2))/\(text.dropFirst(2))")
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(try store.objectIDs() == [id])
        #expect(try store.objectSize(id) == 1000)
    }

    @Test func uncommittedWriteLeavesNoObject() throws {
        let store = try makeStore()
        let bytes = testBytes(5000)
        let writer = try store.makeWriter(expectedSize: 5000)
        try bytes.withUnsafeBytes { try writer.write($0) }
        // Crash before commit: nothing under a real ID; the temporary file is an orphan.
        #expect(try store.objectIDs().isEmpty)
        writer.abort()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.at(".trove/tmp")).isEmpty)
    }

    @Test func crashLeftoversInTmpAreIgnoredAndCleaned() throws {
        let store = try makeStore()
        // A leftover of a dead process on this host, one of another host a day old, a fresh one
        // of another host (maybe still writing), and our own live writer.
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let host = try hostName(store)
        folder.file(".trove/tmp/\(host)-\(dead.processIdentifier)-abc.tmp", testBytes(100))
        let old = folder.file(".trove/tmp/otherhost-1-old.tmp", testBytes(100))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -2 * 86_400)], ofItemAtPath: old)
        folder.file(".trove/tmp/otherhost-1-fresh.tmp", testBytes(100))
        let live = try store.makeWriter(expectedSize: 10)
        #expect(try store.objectIDs().isEmpty)
        #expect(try store.cleanTemporary() == 2)
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.at(".trove/tmp")).sorted()
        #expect(left.count == 2)
        #expect(left.contains("otherhost-1-fresh.tmp"))
        live.abort()
    }

    /// The host part of this machine's temporary names.
    func hostName(_ store: LocalStore) throws -> String {
        let writer = try store.makeWriter(expectedSize: nil)
        defer { writer.abort() }
        let name = try FileManager.default.contentsOfDirectory(atPath: folder.at(".trove/tmp"))[0]
        return String(name.split(separator: "-")[0])
    }

    @Test func quarantineMovesTheCopyAside() throws {
        let store = try makeStore()
        let id = try put(testBytes(300), in: store)
        let moved = try store.quarantine(id)
        #expect(moved.hasPrefix(folder.at(".trove/corrupt/")))
        #expect(FileManager.default.fileExists(atPath: moved))
        #expect(try store.objectSize(id) == nil)
    }

    @Test func duplicateCommitKeepsOneObject() throws {
        let store = try makeStore()
        let bytes = testBytes(777)
        let first = try put(bytes, in: store)
        let second = try put(bytes, in: store)
        #expect(first == second)
        #expect(try store.objectIDs() == [first])
    }

    @Test func missingFolderIsAClearError() {
        #expect(throws: TroveError.self) {
            try LocalStore.create(at: folder.at("not-there"), label: "x", copies: 1, now: Date())
        }
        do {
            _ = try LocalStore.create(at: folder.at("not-there"), label: "x", copies: 1, now: Date())
        } catch let error as TroveError {
            #expect(error.code == .pathMissing)
            #expect(error.message.contains("mounted"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test(.enabled(if: !isRoot, "root can write anywhere"))
    func readOnlyFolderIsNotWritable() throws {
        let ro = folder.folder("ro")
        chmod(ro, 0o555)
        do {
            _ = try LocalStore.create(at: ro, label: "ro", copies: 1, now: Date())
            Issue.record("expected an error")
        } catch let error as TroveError {
            #expect(error.code == .storeNotWritable)
        }
    }
}

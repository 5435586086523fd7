import Foundation
import TroveCore
import TroveStorage
import TrovePeer

/// The stores this machine keeps for paired peers (`trove serve --host-store tank=/tank/trove`).
/// They belong to no library's catalog: this machine checks their objects against their
/// content IDs, which needs no catalog, and never deletes from them by itself; only a peer with
/// the right to delete does.
public final class HostedStores: @unchecked Sendable {
    private let lock = NSLock()
    /// Each hosted store by name, with what commits its small objects together.
    private var stores: [String: (store: LocalStore, committer: GroupCommit)] = [:]
    /// Following `hosted.json`: its stamp when last read, the stores it lists, and why a listed
    /// store is not open (its drive is not mounted), retried every few seconds.
    private var list: HostedListFile?
    private var listStamp = ""
    private var listed: [String: String] = [:]
    private var missing: [String: String] = [:]
    private var retryAfter = Date.distantPast
    private let refreshing = NSLock()

    public init() {}

    /// Opens the store in `folder` as `name`; with `create`, makes one there when there is none
    /// (the folder is created). Without, a folder holding no store is an error: a drive that is
    /// not mounted leaves an empty mount point, and a new store there would hide that.
    @discardableResult
    public func host(name: String, folder: String, create: Bool = true, now: Date = Date()) throws -> LocalStore {
        let store = try Self.open(name: name, folder: folder, create: create, now: now)
        let committer = GroupCommit(store: store, pool: FileWork.pool)
        lock.withLock { stores[name] = (store, committer) }
        return store
    }

    /// Stops hosting `name` (its folder is left as it is).
    public func unhost(_ name: String) {
        _ = lock.withLock { stores.removeValue(forKey: name) }
    }

    /// The store in `folder` (made there with `create`).
    public static func open(name: String, folder: String, create: Bool, now: Date = Date()) throws -> LocalStore {
        guard HostedName.isValid(name) else {
            throw TroveError(.usage, "'\(name)' cannot name a hosted store: use 1-64 of a-z, 0-9, - and _.")
        }
        let store: LocalStore
        do {
            if let existing = try LocalStore.open(at: folder) {
                store = existing
            } else if create {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                store = try LocalStore.create(at: folder, label: name, copies: 1, now: now, library: nil)
            } else {
                throw TroveError(.storeNotConnected, "\(folder) holds no Trove store now: is its drive mounted?")
            }
        } catch let failure as POSIX.Failure {
            throw TroveError.from(failure)
        }
        try? FileManager.default.createDirectory(atPath: store.uploadsDir, withIntermediateDirectories: true)
        return store
    }

    /// Hosts the stores `file` lists as well, and follows its changes: a store added there is
    /// hosted, and one removed is no longer, while the server runs.
    public func follow(_ file: HostedListFile) {
        lock.withLock { list = file }
        refresh()
    }

    /// Reads `hosted.json` again when it changed (a stat per call), and retries listed stores
    /// that could not be opened every few seconds.
    func refresh() {
        guard refreshing.try() else { return }
        defer { refreshing.unlock() }
        let (file, stamp, due) = lock.withLock { (list, listStamp, !missing.isEmpty && Date() >= retryAfter) }
        guard let file else { return }
        let current = file.stamp()
        guard current != stamp || due else { return }
        // A damaged list changes nothing: the stores hosted stay hosted.
        guard let entries = try? file.load().stores else { return }
        let (before, open) = lock.withLock { (listed, Set(stores.keys)) }
        // A store hosted by `--host-store` for this run keeps its name.
        let wanted = Dictionary(entries.filter { before[$0.name] != nil || !open.contains($0.name) }.map { ($0.name, $0.folder) },
                                uniquingKeysWith: { first, _ in first })
        for (name, folder) in before where wanted[name] != folder && open.contains(name) { unhost(name) }
        var failed: [String: String] = [:]
        for (name, folder) in wanted where before[name] != folder || !open.contains(name) {
            do { try host(name: name, folder: folder, create: false) } catch {
                failed[name] = (error as? TroveError)?.message ?? "\(error)"
            }
        }
        lock.withLock {
            listed = wanted
            missing = failed
            listStamp = current
            retryAfter = Date() + 5
        }
    }

    /// Why a store this machine should host cannot be reached now (nil: it is open, or not hosted).
    public func unavailable(_ name: String) -> String? {
        refresh()
        return lock.withLock { missing[name] }
    }

    public func store(_ name: String) -> LocalStore? {
        refresh()
        return lock.withLock { stores[name]?.store }
    }
    /// Commits the objects of requests to `store` together (nil: no longer hosted).
    func committer(for store: LocalStore) -> GroupCommit? {
        lock.withLock { stores.values.first { $0.store === store }?.committer }
    }
    public var names: [String] {
        refresh()
        return lock.withLock { stores.keys.sorted() }
    }

    /// Parses `NAME=FOLDER`.
    public static func parseSpec(_ text: String) throws -> (name: String, folder: String) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, HostedName.isValid(parts[0]), !parts[1].isEmpty else {
            throw TroveError(.usage, "'\(text)' is not NAME=FOLDER (e.g. --host-store tank=/tank/trove; names use a-z, 0-9, - and _).")
        }
        return (parts[0], parts[1])
    }
}

/// Uploads a peer sends in parts (`.trove/uploads/<upload>` in the hosted store): appended
/// only at the byte the server holds, cut back to it when a part's connection drops, and taken
/// as an object only when its bytes hash to the ID the peer names.
enum Uploads {
    /// A fresh upload name (a UUID in lowercase).
    static func create(in store: LocalStore) throws -> String {
        let name = UUID().uuidString.lowercased()
        let path = store.uploadsDir + "/" + name
        try? FileManager.default.createDirectory(atPath: store.uploadsDir, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError(.noSpace, "Cannot start an upload in \(store.uploadsDir): \(String(cString: strerror(errno))).") }
        close(fd)
        return name
    }

    /// Whether `text` can name an upload (a UUID): nothing else reaches the file system.
    static func isValid(_ text: String) -> Bool {
        text.utf8.count == 36 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || $0 == 0x2d }
    }

    static func path(_ store: LocalStore, _ upload: String) -> String { store.uploadsDir + "/" + upload }

    /// Bytes received so far, or nil when there is no such upload.
    static func received(_ store: LocalStore, _ upload: String) -> UInt64? {
        var info = stat()
        guard stat(path(store, upload), &info) == 0 else { return nil }
        return UInt64(info.st_size)
    }

    /// Checks the finished upload against `id` (from the leaves hashed as its parts arrived, or
    /// by reading it again); when it is `id`, it becomes that object. False when its bytes are
    /// something else (the upload is then deleted).
    static func commit(_ store: LocalStore, _ upload: String, as id: ContentID) throws -> Bool {
        let file = path(store, upload)
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError(.notFound, "No upload \(upload).") }
        defer { close(fd) }
        // Held until the rename: no part can be appended or cut away meanwhile.
        try lock(fd, file)
        defer { UploadLeaves.remove(store, upload) }
        var info = stat()
        fstat(fd, &info)
        let matches = try UploadLeaves.id(store, upload, size: UInt64(info.st_size)).map { $0 == id } ?? hashes(fd, upload, to: id)
        guard matches else {
            unlink(file)
            return false
        }
        // Replaces a copy already held (the same content, verified just now).
        try store.adopt(file, as: id)
        return true
    }

    /// Reads the upload from the start and tells whether it hashes to `id`.
    private static func hashes(_ fd: Int32, _ upload: String, to id: ContentID) throws -> Bool {
        var hasher = ContentHasher()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                throw StoreError(.media, "Cannot read the upload \(upload): \(String(cString: strerror(errno))).")
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return hasher.finish() == id
    }

    /// Takes the upload's lock (a part being appended and a commit exclude each other) and
    /// checks the name still refers to the file opened: a commit may have renamed it meanwhile.
    static func lock(_ fd: Int32, _ path: String) throws {
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            throw APIError(.conflict, "The upload is busy (a part is still arriving or it is being committed); ask for its state and try again.")
        }
        var opened = stat(), named = stat()
        guard fstat(fd, &opened) == 0, stat(path, &named) == 0, opened.st_ino == named.st_ino, opened.st_dev == named.st_dev else {
            throw APIError(.notFound, "The upload is gone (committed or abandoned).")
        }
    }

    /// Deletes uploads untouched for a day (a peer that never came back).
    static func cleanStale(_ store: LocalStore, now: Date = Date()) -> Int {
        var removed = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: store.uploadsDir)) ?? []
        where isValid(name.hasSuffix(".leaves") ? String(name.dropLast(7)) : name) {
            var info = stat()
            let file = store.uploadsDir + "/" + name
            if stat(file, &info) == 0, now.timeIntervalSince1970 - Double(info.st_mtim.tv_sec) > 86_400 {
                unlink(file)
                removed += 1
            }
        }
        return removed
    }
}

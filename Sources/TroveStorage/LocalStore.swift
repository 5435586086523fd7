#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import TroveCore

/// A FileStore: a folder on a drive holding objects under `.trove/objects/<2 chars>/<50 chars>`.
/// See docs/store-format.md for the layout and crash-safety rules.
public final class LocalStore: Store, @unchecked Sendable {
    public private(set) var identity: StoreIdentity
    /// The folder the store lives in.
    public let root: String
    public var location: String { root }

    var meta: String { root + "/.trove" }
    var objectsDir: String { meta + "/objects" }
    var tmpDir: String { meta + "/tmp" }
    var corruptDir: String { meta + "/corrupt" }
    static func identityPath(_ root: String) -> String { root + "/.trove/store.json" }

    init(root: String, identity: StoreIdentity) {
        self.root = root
        self.identity = identity
    }

    /// Opens the store in `folder`; nil when the folder holds no store.
    public static func open(at folder: String) throws -> LocalStore? {
        let path = identityPath(folder)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TroveError(.pathUnreadable, "Cannot read \(path); check its permissions.")
        }
        do {
            let identity = try JSONCoding.decoder.decode(StoreIdentity.self, from: data)
            return LocalStore(root: folder, identity: identity)
        } catch {
            throw TroveError(.catalog, "The store identity file \(path) is damaged (\(error)); restore it from another copy or move it aside to re-create the store.")
        }
    }

    /// Makes a new store in an existing, writable folder.
    public static func create(at folder: String, id: String = StoreIdentity.newID(), label: String, copies: Int, now: Date, library: String? = nil,
                              encryption: StoreEncryption? = nil) throws -> LocalStore {
        guard let info = try POSIX.stat(folder), POSIX.isDirectory(info) else {
            throw TroveError(.pathMissing, "The folder \(folder) does not exist; create it, or check that the drive is mounted.")
        }
        let identity = StoreIdentity(id: id, label: label,
                                     created: Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)), kind: .local,
                                     copies: copies, filesystemUUID: FilesystemUUID.of(path: folder), library: library,
                                     encryption: encryption)
        let store = LocalStore(root: folder, identity: identity)
        do {
            for dir in [store.meta, store.objectsDir, store.tmpDir, store.meta + "/partial", store.corruptDir] {
                try POSIX.mkdir(dir)
            }
            // All 1,024 fan-out folders up front: no folder creation (and its sync) per new object.
            let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
            for first in alphabet { for second in alphabet { try POSIX.mkdir("\(store.objectsDir)/\(first)\(second)") } }
            try POSIX.fsyncDirectory(store.objectsDir)
            try store.writeIdentity()
            try POSIX.fsyncDirectory(folder)
        } catch let failure as POSIX.Failure {
            throw store.translate(failure)
        }
        return store
    }

    func writeIdentity() throws {
        let data = try JSONCoding.prettyEncoder.encode(identity)
        try AtomicFile.write(data, to: Self.identityPath(root), in: meta)
    }

    /// Replaces the identity file (atomically), e.g. to add a key that unlocks the store.
    public func replaceIdentity(_ identity: StoreIdentity) throws {
        self.identity = identity
        do { try writeIdentity() } catch let failure as POSIX.Failure { throw translate(failure) }
    }

    var recordsDir: String { meta + "/records" }

    public func readRecord(_ name: RecordName) throws -> [UInt8]? {
        let path = recordsDir + "/" + name.description
        do {
            let fd = try POSIX.open(path, O_RDONLY)
            defer { Glibc.close(fd) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try POSIX.readFully(fd, into: $0, path: path) }
                if n == 0 { return bytes }
                bytes += buffer[0..<n]
            }
        } catch let failure as POSIX.Failure where failure.errno == ENOENT && (try? POSIX.stat(objectsDir)) != nil {
            return nil
        } catch let failure as POSIX.Failure {
            throw translate(failure)
        }
    }

    public func writeRecord(_ name: RecordName, _ bytes: [UInt8]) throws {
        do {
            if (try POSIX.stat(recordsDir)) == nil {
                try POSIX.mkdir(recordsDir)
                try POSIX.fsyncDirectory(meta)
            }
            try AtomicFile.write(Data(bytes), to: recordsDir + "/" + name.description, in: recordsDir)
        } catch let failure as POSIX.Failure {
            throw translate(failure)
        }
    }

    public func createRecord(_ name: RecordName, _ bytes: [UInt8]) throws -> Bool {
        do {
            if (try POSIX.stat(recordsDir)) == nil {
                try? POSIX.mkdir(recordsDir)
                try POSIX.fsyncDirectory(meta)
            }
            return try AtomicFile.create(Data(bytes), at: recordsDir + "/" + name.description, in: recordsDir)
        } catch let failure as POSIX.Failure {
            throw translate(failure)
        }
    }

    public func removeRecord(_ name: RecordName) throws {
        do { try POSIX.unlink(recordsDir + "/" + name.description) } catch let failure as POSIX.Failure {
            if failure.errno == ENOENT && (try? POSIX.stat(objectsDir)) != nil { return }
            throw translate(failure)
        }
    }

    /// Where uploads from peers wait until complete (`.trove/uploads`): beside the objects, on
    /// the same drive, so a finished upload becomes an object by a rename.
    public var uploadsDir: String { meta + "/uploads" }

    /// Takes a complete file in `uploadsDir` as the object `id`: made read-only, synced, renamed
    /// into place and the folder synced. The caller has checked its bytes against `id`.
    public func adopt(_ path: String, as id: ContentID) throws {
        do {
            let target = objectPath(id)
            let fan = (target as NSString).deletingLastPathComponent
            let fd = try POSIX.open(path, O_RDONLY)
            defer { Glibc.close(fd) }
            fchmod(fd, 0o444)
            try POSIX.fsync(fd, path: path)
            do { try POSIX.rename(path, target) } catch let failure as POSIX.Failure where failure.isMissing {
                try POSIX.mkdir(fan)
                try POSIX.fsyncDirectory(objectsDir)
                try POSIX.rename(path, target)
            }
            try POSIX.fsyncDirectory(fan)
        } catch let failure as POSIX.Failure { throw translate(failure) }
    }

    public func objectPath(_ id: ContentID) -> String {
        let text = id.description
        return "\(objectsDir)/\(text.prefix(2))/\(text.dropFirst(2))"
    }

    public func objectSize(_ id: ContentID) throws -> UInt64? {
        do {
            guard let info = try POSIX.stat(objectPath(id)) else {
                // No object, or no store at all (the drive is gone): only the first is an answer.
                if try POSIX.stat(objectsDir) == nil { throw POSIX.Failure(errno: ENOENT, operation: "stat", path: objectsDir) }
                return nil
            }
            return UInt64(info.st_size)
        } catch let failure as POSIX.Failure { throw translate(failure, object: true) }
    }

    public func makeWriter(for id: ContentID?, expectedSize: UInt64?) throws -> ObjectWriter {
        // Named by its ID only at the rename: a writer never shows a partial object under a real name.
        // The name carries host and PID so cleanTemporary() can tell a live writer from an orphan.
        let path = "\(tmpDir)/\(WriterTag.make()).tmp"
        do {
            // Created read-only (the open descriptor may still write): objects are never edited in place.
            // Blocks of zeros are holes: a sparse file takes only its data's space on a store.
            let file = try SequentialFileWriter.create(path, flags: O_CREAT | O_EXCL, mode: 0o444, size: expectedSize, in: tmpDir,
                                                       sparse: true)
            return LocalObjectWriter(store: self, file: file)
        } catch let failure as POSIX.Failure { throw translate(failure) }
    }

    public func openReader(_ id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws -> ObjectReader {
        let path = objectPath(id)
        do {
            let fd = try POSIX.open(path, O_RDONLY)
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                let failure = POSIX.Failure(errno: errno, operation: "fstat", path: path)
                Glibc.close(fd)
                throw failure
            }
            let size = UInt64(info.st_size)
            let range = range.map { $0.clamped(to: 0..<size) } ?? 0..<size
            return LocalObjectReader(fd: fd, path: path, size: size, range: range, fromMedia: fromMedia, folder: objectsDir,
                                     translate: translate)
        } catch let failure as POSIX.Failure { throw translate(failure, object: true) }
    }

    public func quarantine(_ id: ContentID) throws -> String {
        let stamp = Int(Date().timeIntervalSince1970)
        let target = "\(corruptDir)/\(id).\(stamp)"
        do {
            try POSIX.mkdir(corruptDir)
            try POSIX.rename(objectPath(id), target)
            try POSIX.fsyncDirectory(corruptDir)
            return target
        } catch let failure as POSIX.Failure { throw translate(failure, object: true) }
    }

    public func remove(_ id: ContentID) throws {
        do {
            let path = objectPath(id)
            try POSIX.unlink(path)
            try POSIX.fsyncDirectory((path as NSString).deletingLastPathComponent)
        } catch let failure as POSIX.Failure {
            if failure.errno == ENOENT, (try? POSIX.stat(objectsDir)) != nil { return }
            throw translate(failure)
        }
    }

    public func listObjects(_ body: (ContentID) throws -> Bool) throws {
        let fm = FileManager.default
        guard let fans = try? fm.contentsOfDirectory(atPath: objectsDir) else {
            throw StoreError(.unavailable, "Cannot list \(objectsDir) of store '\(identity.label)'; check that the drive is mounted and readable.")
        }
        for fan in fans.sorted() where fan.utf8.count == 2 {
            for name in (try? fm.contentsOfDirectory(atPath: objectsDir + "/" + fan)) ?? [] {
                if let id = ContentID(fan + name), try !body(id) { return }
            }
        }
    }

    /// Up to `limit` object IDs after `after`, in sorted order: a page of a listing that can be
    /// continued from its last ID (what a hosting server answers a peer with).
    public func objectPage(after: ContentID?, limit: Int) throws -> [ContentID] {
        let fm = FileManager.default
        guard let fans = try? fm.contentsOfDirectory(atPath: objectsDir) else {
            throw StoreError(.unavailable, "Cannot list \(objectsDir) of store '\(identity.label)'; check that the drive is mounted and readable.")
        }
        let afterText = after?.description ?? ""
        var page: [ContentID] = []
        for fan in fans.sorted() where fan.utf8.count == 2 && fan >= String(afterText.prefix(2)) {
            let names = ((try? fm.contentsOfDirectory(atPath: objectsDir + "/" + fan)) ?? []).sorted()
            for name in names {
                guard let id = ContentID(fan + name), id.description > afterText else { continue }
                page.append(id)
                if page.count == limit { return page }
            }
        }
        return page
    }

    public func space() throws -> StoreSpace? {
        do {
            let space = try POSIX.space(root)
            return StoreSpace(capacity: space.capacity, free: space.free)
        } catch let failure as POSIX.Failure { throw translate(failure) }
    }

    public func isReadOnly() -> Bool {
        var info = statvfs()
        if statvfs(root, &info) == 0 && (info.f_flag & UInt(ST_RDONLY)) != 0 { return true }
        return !POSIX.canAccess(tmpDir, W_OK) || !POSIX.canAccess(objectsDir, W_OK)
    }

    public func disk() -> DiskIdentity.Disk? { DiskIdentity.of(path: root) }

    public func cleanTemporary() throws -> Int {
        var removed = 0
        let now = Date()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmpDir)) ?? [] {
            let path = tmpDir + "/" + name
            if Self.isOrphan(name: name, info: try? POSIX.stat(path), now: now) {
                try? POSIX.unlink(path)
                removed += 1
            }
        }
        return removed
    }

    /// A temporary file is an orphan when the process that wrote it (same host) is gone, or when
    /// it has not been touched for a day (another host's leftover).
    static func isOrphan(name: String, info: stat?, now: Date) -> Bool {
        if let gone = WriterTag.writerIsGone(name.hasSuffix(".tmp") ? name.dropLast(4) : Substring(name)) { return gone }
        guard let info else { return false }
        return now.timeIntervalSince(POSIX.mtime(info)) > 86_400
    }

    public func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws {
        let writers = items.compactMap { $0.writer as? LocalObjectWriter }
        guard writers.count == items.count, let first = writers.first else {
            for item in items { try item.writer.commit(as: item.id) }
            return
        }
        do {
            // A per-file fsync costs a device cache flush each (~0.3 ms); a batch shares them:
            // one syncfs for every file's data, the renames, one syncfs for the folders. Where
            // syncfs is unavailable, fsync each file (concurrently) and each folder.
            for writer in writers { try writer.seal() }
            if !POSIX.syncFilesystem(first.fd) { try Self.fsyncConcurrently(writers.map { ($0.fd, $0.path) }) }
            var folders = Set<String>()
            for (writer, item) in zip(writers, items) { folders.insert(try writer.publish(as: item.id)) }
            let folderFD = try POSIX.open(objectsDir, O_RDONLY | O_DIRECTORY)
            let synced = POSIX.syncFilesystem(folderFD)
            Glibc.close(folderFD)
            if !synced { for folder in folders.sorted() { try POSIX.fsyncDirectory(folder) } }
        } catch let failure as POSIX.Failure {
            for writer in writers { writer.abort() }
            throw translate(failure)
        }
    }

    /// fsyncs many files from several threads: the drive then sees many writes at once instead
    /// of one round trip per file (measured ~2x faster for small files).
    static func fsyncConcurrently(_ files: [(fd: Int32, path: String)]) throws {
        guard files.count > 1 else {
            for file in files { try POSIX.fsync(file.fd, path: file.path) }
            return
        }
        let queue = DispatchQueue(label: "trove.fsync", attributes: .concurrent)
        let group = DispatchGroup()
        let failure = FirstError()
        let lanes = min(8, files.count)
        for lane in 0..<lanes {
            queue.async(group: group) {
                for index in stride(from: lane, to: files.count, by: lanes) {
                    do { try POSIX.fsync(files[index].fd, path: files[index].path) } catch { failure.record(error) }
                }
            }
        }
        group.wait()
        if let error = failure.value { throw error }
    }

    /// Turns an errno into one of the store error kinds, with a sentence that names the store
    /// and says what to do. `object`: the call was about one object, so a missing path means the
    /// object is not there (unless the whole store has gone).
    func translate(_ failure: POSIX.Failure, object: Bool = false) -> StoreError {
        let name = "store '\(identity.label)' at \(root)"
        if failure.isNoSpace || failure.errno == EFBIG {
            return StoreError(.noSpace, "The drive holding \(name) is full; free some space there or add another store with `trove store add`.")
        }
        if failure.isPermission {
            return StoreError(.permissionDenied, "Trove may not write to \(name) (\(failure)); fix the folder's permissions or remount the drive read-write.")
        }
        let storeGone = (try? POSIX.stat(objectsDir)) == nil
        if failure.errno == ENOENT && object && !storeGone {
            return StoreError(.notFound, "The \(name) does not hold \(failure.path.split(separator: "/").suffix(2).joined()).")
        }
        if failure.isMissing || storeGone || [ENODEV, ENXIO, ESTALE, ENOTCONN, ETIMEDOUT].contains(failure.errno) {
            return StoreError(.unavailable, "The \(name) is not reachable (\(failure)); check that the drive is plugged in and mounted.")
        }
        if [EMFILE, ENFILE, ENOMEM, EAGAIN, EINTR].contains(failure.errno) {
            return StoreError(.unavailable, "The \(name) could not be used just now (\(failure)); Trove retries on its next run.")
        }
        if [EIO, EBADMSG, 117 /* EUCLEAN: filesystem corruption */].contains(failure.errno) {
            return StoreError(.media, "Input/output error on \(name): \(failure); the drive may be failing, run `trove verify --store \(identity.label)`.")
        }
        // Anything else (a name too long, an operation the filesystem refuses): the store refuses
        // this, which says nothing about the medium.
        return StoreError(.permissionDenied, "The \(name) refused an operation (\(failure)); check the filesystem it is on.")
    }
}

/// The first error reported by concurrent workers.
public final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Error?
    public init() {}
    public func record(_ error: Error) { lock.lock(); if stored == nil { stored = error }; lock.unlock() }
    public var value: Error? { lock.lock(); defer { lock.unlock() }; return stored }
}

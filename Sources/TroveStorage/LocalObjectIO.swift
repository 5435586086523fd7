#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TroveCore

/// Direct I/O (O_DIRECT): large objects go from Trove's buffers to the drive without a copy
/// into the page cache. That copy is most of an import's CPU time (on the benchmark VM,
/// buffered writes ran at ~300 MB/s of pure kernel time, direct ones at the drive's speed),
/// a backup should not evict the user's working set, and a later verify then reads what the
/// drive holds rather than what the cache remembers.
public enum DirectIO {
    /// Buffer address, length and file offset alignment that every local drive accepts.
    public static let alignment = 4096

    #if os(Linux) && arch(x86_64)
    static let flag: Int32 = 0o40000
    #elseif os(Linux) && (arch(arm64) || arch(arm))
    static let flag: Int32 = 0o200000
    #else
    static let flag: Int32 = 0
    #endif

    /// Filesystems whose O_DIRECT writes are known to be safe and fast; others write through
    /// the page cache (FUSE and network filesystems give O_DIRECT their own meanings).
    public static func supported(at folder: String) -> Bool {
        guard flag != 0, let info = try? POSIX.stat(folder) else { return false }
        lock.lock()
        if let known = byDevice[info.st_dev] { lock.unlock(); return known }
        lock.unlock()
        let type = FilesystemUUID.mountType(device: info.st_dev)
        let answer = ["ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs"].contains(type ?? "")
        lock.lock(); byDevice[info.st_dev] = answer; lock.unlock()
        return answer
    }

    nonisolated(unsafe) private static var byDevice: [dev_t: Bool] = [:]
    private static let lock = NSLock()

    /// Objects and files at least this large are written (and read) directly; smaller ones are
    /// better served by the page cache and batched syncs.
    public static let minimumSize: UInt64 = 1 << 20

    static func isAligned(_ pointer: UnsafeRawPointer) -> Bool { Int(bitPattern: pointer) % alignment == 0 }

    /// Turns O_DIRECT off on an open descriptor.
    static func clear(_ fd: Int32, path: String) throws {
        let flags = fcntl(fd, F_GETFL)
        if flags < 0 || fcntl(fd, F_SETFL, flags & ~flag) != 0 {
            throw POSIX.Failure(errno: errno, operation: "fcntl", path: path)
        }
    }
}

/// Writes a file front to back, with O_DIRECT when the descriptor was opened with it: whole
/// aligned blocks straight from the caller's buffer, the last partial block padded through a
/// small bounce buffer and the file then truncated to its size. Anything else (an unaligned
/// buffer, a second short write, a filesystem that refuses) falls back to ordinary writes for
/// the rest of the file, so callers never need to know.
public final class SequentialFileWriter {
    public let fd: Int32
    public let path: String
    /// The file's size so far (bytes accepted, including any held in `tail`).
    public private(set) var written: off_t = 0
    /// Still writing with O_DIRECT.
    public private(set) var direct: Bool
    /// The last partial block of a direct write, waiting for `finish()`.
    private var tail: UnsafeMutableRawBufferPointer?
    private var tailCount = 0
    /// Whole blocks of zeros are left as holes (not written, not allocated).
    public let sparse: Bool

    private init(fd: Int32, path: String, direct: Bool, sparse: Bool) {
        self.fd = fd
        self.path = path
        self.direct = direct
        self.sparse = sparse
    }

    deinit { tail?.deallocate() }

    /// Opens `path` for writing (flags as for open(2), e.g. O_CREAT | O_EXCL), with O_DIRECT when
    /// `size` is large and the filesystem takes it, reserving `size` bytes when large. With
    /// `sparse`, blocks of zeros become holes (a sparse file's holes take no space) and nothing
    /// is reserved: a 100 GiB image holding 2 GiB of data must fit where 2 GiB are free.
    public static func create(_ path: String, flags: Int32, mode: mode_t, size: UInt64?, in folder: String,
                              sparse: Bool = false) throws -> SequentialFileWriter {
        let large = (size ?? 0) >= DirectIO.minimumSize
        let fd = try POSIX.open(path, O_WRONLY | flags, mode: mode)
        // O_DIRECT is switched on after the file exists: a filesystem that refuses it then
        // refuses cleanly (EINVAL from fcntl) and the file is simply written through the cache.
        var direct = false
        if large && DirectIO.supported(at: folder) {
            let current = fcntl(fd, F_GETFL)
            direct = current >= 0 && fcntl(fd, F_SETFL, current | DirectIO.flag) == 0
        }
        // Reserving space up front catches a full drive early; not worth a syscall for small files.
        if large && !sparse, let size, POSIX.reserve(fd, bytes: size) == ENOSPC {
            Glibc.close(fd)
            try? POSIX.unlink(path)
            throw POSIX.Failure(errno: ENOSPC, operation: "allocate", path: path)
        }
        return SequentialFileWriter(fd: fd, path: path, direct: direct, sparse: sparse)
    }

    /// Appends bytes; with `sparse`, whole aligned blocks of zeros are skipped as holes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard sparse, tailCount == 0, written % off_t(DirectIO.alignment) == 0, let base = bytes.baseAddress else {
            return try writeData(bytes)
        }
        let block = DirectIO.alignment
        var start = 0
        while start < bytes.count {
            var end = start
            let zero = start + block <= bytes.count && Self.isZero(base + start, block)
            while end + block <= bytes.count && Self.isZero(base + end, block) == zero { end += block }
            if end == start { end = bytes.count }  // a last partial block: data
            if zero { try skip(end - start) } else { try writeData(UnsafeRawBufferPointer(rebasing: bytes[start..<end])) }
            start = end
        }
    }

    nonisolated(unsafe) private static let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: DirectIO.alignment, alignment: DirectIO.alignment)
        .initializeMemory(as: UInt8.self, repeating: 0)

    private static func isZero(_ pointer: UnsafeRawPointer, _ count: Int) -> Bool {
        memcmp(pointer, UnsafeRawPointer(zeros.baseAddress!), count) == 0
    }

    /// Leaves `count` bytes (whole blocks) as a hole.
    private func skip(_ count: Int) throws {
        if lseek(fd, off_t(count), SEEK_CUR) < 0 { throw POSIX.Failure(errno: errno, operation: "seek", path: path) }
        written += off_t(count)
    }

    private func writeData(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        if direct, tailCount == 0, let base = bytes.baseAddress, DirectIO.isAligned(base) {
            let whole = bytes.count - bytes.count % DirectIO.alignment
            if whole > 0 {
                let done = try writeDirect(UnsafeRawBufferPointer(rebasing: bytes[0..<whole]))
                rest = UnsafeRawBufferPointer(rebasing: bytes[done...])
            }
            if direct && !rest.isEmpty {
                stash(rest)
                rest = UnsafeRawBufferPointer(start: nil, count: 0)
            }
        } else if direct {
            try leaveDirect()
        }
        if !rest.isEmpty { try POSIX.writeFully(fd, rest, path: path) }
        written += off_t(bytes.count)
    }

    /// Writes any held partial block and sets the file's size to what was written (which also
    /// trims space reserved beyond it). Call once, after the last write.
    public func finish() throws {
        if direct, tailCount > 0, let tail, let base = tail.baseAddress {
            (base + tailCount).initializeMemory(as: UInt8.self, repeating: 0, count: DirectIO.alignment - tailCount)
            let done = try writeDirect(UnsafeRawBufferPointer(tail))
            if done == DirectIO.alignment { tailCount = 0 } else if done != 0 {
                throw POSIX.Failure(errno: EIO, operation: "write", path: path)
            }
            if tailCount > 0 { try POSIX.writeFully(fd, UnsafeRawBufferPointer(rebasing: tail[0..<tailCount]), path: path) }
            tailCount = 0
        }
        if ftruncate(fd, written) != 0 { throw POSIX.Failure(errno: errno, operation: "truncate", path: path) }
    }

    /// Writes whole blocks with O_DIRECT; returns how many bytes went. A filesystem that refuses
    /// (EINVAL) switches the writer to ordinary writes, leaving the rest to the caller.
    private func writeDirect(_ chunk: UnsafeRawBufferPointer) throws -> Int {
        guard let base = chunk.baseAddress else { return 0 }
        var done = 0
        while done < chunk.count {
            let n = Glibc.write(fd, base + done, chunk.count - done)
            if n > 0 {
                done += n
                if n % DirectIO.alignment != 0 { try leaveDirect(); return done }
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && errno == EINVAL {
                try leaveDirect()
                return done
            } else {
                throw POSIX.Failure(errno: n == 0 ? EIO : errno, operation: "write", path: path)
            }
        }
        return done
    }

    private func stash(_ bytes: UnsafeRawBufferPointer) {
        let buffer = tail ?? .allocate(byteCount: DirectIO.alignment, alignment: DirectIO.alignment)
        tail = buffer
        buffer.copyMemory(from: bytes)
        tailCount = bytes.count
    }

    /// Switches to ordinary writes, first writing any held partial block.
    private func leaveDirect() throws {
        direct = false
        try DirectIO.clear(fd, path: path)
        if tailCount > 0, let tail {
            try POSIX.writeFully(fd, UnsafeRawBufferPointer(rebasing: tail[0..<tailCount]), path: path)
            tailCount = 0
        }
    }
}

/// Writes one object to `tmp/` and renames it into place on commit.
final class LocalObjectWriter: ObjectWriter {
    let store: LocalStore
    let file: SequentialFileWriter
    private var open = true
    var path: String { file.path }
    var fd: Int32 { file.fd }
    var direct: Bool { file.direct }

    init(store: LocalStore, file: SequentialFileWriter) {
        self.store = store
        self.file = file
    }

    deinit { if open { abort() } }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        do { try file.write(bytes) } catch let failure as POSIX.Failure { throw store.translate(failure) }
    }

    func commit(as id: ContentID) throws {
        do {
            try seal()
            try POSIX.fsync(fd, path: path)
            let fan = try publish(as: id)
            try POSIX.fsyncDirectory(fan)
        } catch let failure as POSIX.Failure {
            abort()
            throw store.translate(failure)
        }
    }

    /// Completes the file's bytes and size (not yet durable).
    func seal() throws { try file.finish() }

    /// Closes the (already durable) file and renames it into place; returns its fan-out folder,
    /// which the caller must fsync.
    func publish(as id: ContentID) throws -> String {
        let target = store.objectPath(id)
        let fan = (target as NSString).deletingLastPathComponent
        close()
        do {
            try POSIX.rename(path, target)
        } catch let failure as POSIX.Failure where failure.isMissing {
            // A fan-out folder someone removed: make it again (and make that durable).
            try POSIX.mkdir(fan)
            try POSIX.fsyncDirectory(store.objectsDir)
            try POSIX.rename(path, target)
        }
        return fan
    }

    private func close() {
        if open { Glibc.close(fd); open = false }
    }

    func abort() {
        close()
        try? POSIX.unlink(path)
    }
}

/// Reads one object (or a range of it) sequentially. Reads `fromMedia` go to the drive: with
/// O_DIRECT where the filesystem takes it (and the caller's buffers and the range are aligned),
/// else after dropping the file's cached pages; so a verify checks what the drive holds, not
/// what the page cache remembers.
final class LocalObjectReader: ObjectReader {
    let fd: Int32
    let path: String
    let size: UInt64
    /// Bytes of the range still to read.
    private var remaining: UInt64
    private let translate: (POSIX.Failure, Bool) -> StoreError
    private var direct = false
    private var closed = false

    init(fd: Int32, path: String, size: UInt64, range: Range<UInt64>, fromMedia: Bool, folder: String,
         translate: @escaping (POSIX.Failure, Bool) -> StoreError) {
        self.fd = fd
        self.path = path
        self.size = size
        self.remaining = UInt64(range.count)
        self.translate = translate
        if range.lowerBound > 0 { lseek(fd, off_t(range.lowerBound), SEEK_SET) }
        if fromMedia && DirectIO.supported(at: folder) && range.lowerBound % UInt64(DirectIO.alignment) == 0 {
            let flags = fcntl(fd, F_GETFL)
            direct = flags >= 0 && fcntl(fd, F_SETFL, flags | DirectIO.flag) == 0
        }
        if fromMedia && !direct { posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED)) }
        if !direct { posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL)) }
    }

    deinit { close() }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        do { return try readRange(into: buffer) } catch let failure as POSIX.Failure { throw translate(failure, true) }
    }

    private func readRange(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, remaining > 0 else { return 0 }
        // Never past the range's end; an aligned read that would run past it goes buffered.
        let wanted = Int(min(UInt64(buffer.count), remaining))
        if direct && !(DirectIO.isAligned(base) && wanted % DirectIO.alignment == 0) {
            try buffered()
            posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        }
        var done = 0
        while done < wanted {
            let n = Glibc.read(fd, base + done, wanted - done)
            if n > 0 {
                done += n
            } else if n == 0 {
                break
            } else if errno == EINVAL && direct {
                // A short read left the next one unaligned: go on through the page cache,
                // dropped first so the rest still comes from the drive.
                try buffered()
                posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
            } else if errno != EINTR {
                throw POSIX.Failure(errno: errno, operation: "read", path: path)
            }
        }
        remaining -= UInt64(done)
        return done
    }

    private func buffered() throws {
        direct = false
        try DirectIO.clear(fd, path: path)
    }

    func close() {
        if !closed { Glibc.close(fd); closed = true }
    }
}

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
enum DirectIO {
    /// Buffer address, length and file offset alignment that every local drive accepts.
    static let alignment = 4096

    #if os(Linux) && arch(x86_64)
    static let flag: Int32 = 0o40000
    #elseif os(Linux) && (arch(arm64) || arch(arm))
    static let flag: Int32 = 0o200000
    #else
    static let flag: Int32 = 0
    #endif

    /// Filesystems whose O_DIRECT writes are known to be safe and fast; others write through
    /// the page cache (FUSE and network filesystems give O_DIRECT their own meanings).
    static func supported(at folder: String) -> Bool {
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

    static func isAligned(_ pointer: UnsafeRawPointer) -> Bool { Int(bitPattern: pointer) % alignment == 0 }
}

/// Writes one object to `tmp/` and renames it into place on commit.
///
/// Large objects are written with O_DIRECT when the filesystem allows it: whole aligned blocks
/// straight from the caller's buffer, the last partial block padded through a small bounce
/// buffer and the file then truncated to its size. Anything else (an unaligned buffer, a
/// second short write, a filesystem that refuses) falls back to ordinary writes for the rest
/// of the object, so callers never need to know.
final class LocalObjectWriter: ObjectWriter {
    let store: LocalStore
    var fd: Int32
    let path: String
    /// The object's size so far (bytes accepted, including any held in `tail`).
    private(set) var written: off_t = 0
    private(set) var direct: Bool
    /// The last partial block of a direct write, waiting for `seal()`.
    private var tail: UnsafeMutableRawBufferPointer?
    private var tailCount = 0

    init(store: LocalStore, fd: Int32, path: String, direct: Bool) {
        self.store = store
        self.fd = fd
        self.path = path
        self.direct = direct
    }

    deinit {
        if fd >= 0 { abort() }
        tail?.deallocate()
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        do {
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
        } catch let failure as POSIX.Failure {
            throw store.translate(failure)
        }
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
        if tail == nil { tail = .allocate(byteCount: DirectIO.alignment, alignment: DirectIO.alignment) }
        tail!.copyMemory(from: bytes)
        tailCount = bytes.count
    }

    /// Switches to ordinary writes, first writing any held partial block.
    private func leaveDirect() throws {
        direct = false
        let flags = fcntl(fd, F_GETFL)
        if flags < 0 || fcntl(fd, F_SETFL, flags & ~DirectIO.flag) != 0 {
            throw POSIX.Failure(errno: errno, operation: "fcntl", path: path)
        }
        if tailCount > 0, let tail {
            try POSIX.writeFully(fd, UnsafeRawBufferPointer(rebasing: tail[0..<tailCount]), path: path)
            tailCount = 0
        }
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

    /// Writes any held partial block and sets the file's size to what was written (which also
    /// trims space reserved beyond it).
    func seal() throws {
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

    /// Closes the (already durable) file and renames it into place; returns its fan-out folder,
    /// which the caller must fsync.
    func publish(as id: ContentID) throws -> String {
        let target = store.objectPath(id)
        let fan = (target as NSString).deletingLastPathComponent
        Glibc.close(fd)
        fd = -1
        if try POSIX.stat(fan) == nil {
            try POSIX.mkdir(fan)
            try POSIX.fsyncDirectory(store.objectsDir)
        }
        try POSIX.rename(path, target)
        return fan
    }

    func abort() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
        try? POSIX.unlink(path)
    }
}

/// Reads one object sequentially.
final class LocalObjectReader: ObjectReader {
    let fd: Int32
    let path: String
    let size: UInt64
    var closed = false

    init(fd: Int32, path: String, size: UInt64) {
        self.fd = fd
        self.path = path
        self.size = size
    }

    deinit { close() }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try POSIX.readFully(fd, into: buffer, path: path)
    }

    func close() {
        if !closed { Glibc.close(fd); closed = true }
    }
}

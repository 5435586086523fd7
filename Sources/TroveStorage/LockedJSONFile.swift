import Foundation
import TroveCore

/// A small JSON document in a library's folder that several processes change (`peers.json`,
/// `hosted.json`): every change happens under an exclusive lock on a sibling `.lock` file and
/// is written back atomically, created with `mode` from the start.
public struct LockedJSONFile<Value: Codable & Equatable & Sendable>: Sendable {
    public let path: String
    public let folder: String
    public let mode: mode_t
    /// Said when the file cannot be read: what to do about it.
    let damagedAdvice: String

    public init(folder: String, name: String, mode: mode_t = 0o644, damagedAdvice: String) {
        self.folder = folder
        path = folder + "/" + name
        self.mode = mode
        self.damagedAdvice = damagedAdvice
    }

    /// The document as it is on disk (`empty` when there is none yet).
    public func load(empty: Value) throws -> Value {
        guard let data = FileManager.default.contents(atPath: path) else { return empty }
        do { return try JSONCoding.decoder.decode(Value.self, from: data) } catch {
            throw TroveError(.io, "\(path) is damaged (\(error)); \(damagedAdvice)")
        }
    }

    /// Changes the document under the lock and writes it back when it changed.
    @discardableResult
    public func update<T>(empty: Value, _ change: (inout Value) throws -> T) throws -> T {
        let lockPath = (path as NSString).deletingPathExtension + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, mode)
        guard fd >= 0 else { throw TroveError(.io, "Cannot open \(lockPath): \(String(cString: strerror(errno))).") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw TroveError(.io, "Cannot lock \(lockPath).") }
        var value = try load(empty: empty)
        let before = value
        let result = try change(&value)
        if value != before {
            try AtomicFile.write(try JSONCoding.prettyEncoder.encode(value), to: path, in: folder, mode: mode)
        }
        return result
    }

    /// A stamp that changes whenever the file is replaced (inode, modification time, size), so
    /// a server can keep the parsed document and read it again only when it changed.
    public func stamp() -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { return "none" }
        return "\(info.st_ino)-\(info.st_mtim.tv_sec)-\(info.st_mtim.tv_nsec)-\(info.st_size)"
    }
}

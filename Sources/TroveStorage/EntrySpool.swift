#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import TroveCore

/// Bytes written once to a nameless temporary file, then read back from the start (as many
/// times as needed): how work on millions of entries keeps them on disk instead of in memory.
/// The file is unlinked as soon as it is made, so a crash leaves nothing behind.
public final class SpoolFile {
    private let fd: Int32
    private let folder: String
    private var pending: [UInt8] = []
    /// Bytes appended so far.
    public private(set) var size: UInt64 = 0
    private static let bufferSize = 1 << 20

    /// A spool in `folder` (on the same disk as the work it serves).
    public init(in folder: String) throws {
        var template = Array((folder + "/.spool-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw TroveError(.pathUnreadable, "A working file cannot be made in \(folder) (\(String(cString: strerror(errno)))); check that it is writable.")
        }
        _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
        self.fd = fd
        self.folder = folder
        pending.reserveCapacity(Self.bufferSize)
    }

    deinit { close(fd) }

    /// Appends bytes (written to the file a megabyte at a time).
    public func append(_ bytes: some Collection<UInt8>) throws {
        pending.append(contentsOf: bytes)
        size += UInt64(bytes.count)
        if pending.count >= Self.bufferSize { try flush() }
    }

    /// Appends text as its length and UTF-8 bytes (nil as a length no text has).
    public func appendText(_ text: String?) throws {
        guard let text else { return try appendRaw(UInt32.max) }
        try appendRaw(UInt32(text.utf8.count))
        try append(text.utf8)
    }

    /// Appends a value's bytes as they lie in memory (little-endian on every platform Trove runs on).
    public func appendRaw<T>(_ value: T) throws {
        try withUnsafeBytes(of: value) { try append($0) }
    }

    private func flush() throws {
        guard !pending.isEmpty else { return }
        let at = off_t(size) - off_t(pending.count)
        try pending.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, at + off_t(done))
                if n >= 0 { done += n } else if errno != EINTR { throw Self.failure("written", folder) }
            }
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// A reader from the first byte; everything appended so far is readable.
    public func reader() throws -> Reader {
        try flush()
        return Reader(spool: self)
    }

    static func failure(_ verb: String, _ folder: String) -> TroveError {
        let reason = String(cString: strerror(errno))
        let hint = errno == ENOSPC || errno == EDQUOT ? "free some space there and try again" : "check the disk"
        return TroveError(errno == ENOSPC || errno == EDQUOT ? .diskFull : .pathUnreadable,
                          "A working file in \(folder) could not be \(verb) (\(reason)); \(hint).")
    }

    /// Reads a spool's bytes in order.
    public struct Reader {
        private let spool: SpoolFile
        private var offset: UInt64 = 0
        private var buffer: [UInt8] = []
        private var start = 0

        init(spool: SpoolFile) { self.spool = spool }

        /// Fills `into` with the next bytes; returns how many (0 at the end).
        public mutating func read(into target: UnsafeMutableRawBufferPointer) throws -> Int {
            if start == buffer.count { try refill(atLeast: 1) }
            let count = min(target.count, buffer.count - start)
            guard count > 0 else { return 0 }
            buffer.withUnsafeBytes { target.baseAddress!.copyMemory(from: $0.baseAddress! + start, byteCount: count) }
            start += count
            return count
        }

        /// The next `count` bytes, or nil at the end; a spool cut short mid-value is an error.
        public mutating func take(_ count: Int) throws -> ArraySlice<UInt8>? {
            if count == 0 { return [] }
            if buffer.count - start < count { try refill(atLeast: count) }
            if buffer.count == start { return nil }
            guard buffer.count - start >= count else {
                throw TroveError(.corruptData, "A working file in \(spool.folder) ended early; run the command again.")
            }
            defer { start += count }
            return buffer[start..<start + count]
        }

        /// True when every byte has been read.
        public mutating func atEnd() throws -> Bool {
            if start == buffer.count { try refill(atLeast: 1) }
            return start == buffer.count
        }

        /// Text appended with `appendText`.
        public mutating func takeText() throws -> String? {
            let count = try takeRaw(UInt32.self)
            guard count != UInt32.max else { return nil }
            guard let bytes = try take(Int(count)) else {
                throw TroveError(.corruptData, "A working file in \(spool.folder) ended early; run the command again.")
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        public mutating func takeRaw<T>(_ type: T.Type) throws -> T {
            let count = MemoryLayout<T>.size
            if buffer.count - start < count { try refill(atLeast: count) }
            guard buffer.count - start >= count else {
                throw TroveError(.corruptData, "A working file in \(spool.folder) ended early; run the command again.")
            }
            defer { start += count }
            return buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start, as: T.self) }
        }

        private mutating func refill(atLeast count: Int) throws {
            buffer.removeSubrange(0..<start)
            start = 0
            let want = max(count - buffer.count, SpoolFile.bufferSize)
            let old = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: want))
            let got = try buffer.withUnsafeMutableBytes { all -> Int in
                var done = 0
                while done < want {
                    let n = pread(spool.fd, all.baseAddress! + old + done, want - done, off_t(offset) + off_t(done))
                    if n > 0 { done += n } else if n == 0 { break } else if errno != EINTR { throw SpoolFile.failure("read", spool.folder) }
                }
                return done
            }
            buffer.removeLast(want - got)
            offset += UInt64(got)
        }
    }
}

/// Snapshot entries spooled to a temporary file in a compact binary form, and read back in the
/// order written (a `SnapshotEntrySource`). The form is private to this file and never stored.
public final class EntrySpool {
    private let file: SpoolFile
    private var scratch: [UInt8] = []
    /// Entries appended so far.
    public private(set) var count = 0

    public init(in folder: String) throws { file = try SpoolFile(in: folder) }

    private static let types: [EntryType] = [.file, .directory, .symlink, .fifo, .charDevice, .blockDevice]

    private struct Flags: OptionSet {
        let rawValue: UInt8
        static let fileID = Flags(rawValue: 1)
        static let target = Flags(rawValue: 2)
        static let uid = Flags(rawValue: 4)
        static let gid = Flags(rawValue: 8)
        static let extras = Flags(rawValue: 16)
        static let link = Flags(rawValue: 32)
        static let linkOpen = Flags(rawValue: 64)
        static let linkSame = Flags(rawValue: 128)
    }

    /// Appends an entry, with its version in the parent snapshot when known.
    public func append(_ entry: SnapshotEntry, link: ParentLink? = nil) throws {
        let extras = entry.extras
        var flags: Flags = []
        if entry.fileID != nil { flags.insert(.fileID) }
        if entry.target != nil { flags.insert(.target) }
        if entry.uid != nil { flags.insert(.uid) }
        if entry.gid != nil { flags.insert(.gid) }
        if extras != nil { flags.insert(.extras) }
        if let link {
            flags.insert(.link)
            if link.open { flags.insert(.linkOpen) }
            if link.same { flags.insert(.linkSame) }
        }
        // One record built in a reused buffer, then one append: a dozen small appends to the
        // spool cost more than the whole record.
        var out = scratch
        scratch = []
        defer { out.removeAll(keepingCapacity: true); scratch = out }
        Self.put(entry.path, &out)
        out.append(UInt8(Self.types.firstIndex(of: entry.type) ?? 0))
        out.append(flags.rawValue)
        Self.put(entry.size, &out)
        Self.put(entry.mode, &out)
        Self.put(entry.mtime.seconds, &out)
        Self.put(entry.mtime.nanoseconds, &out)
        Self.put(entry.inode, &out)
        if let id = entry.fileID { out.append(contentsOf: id.bytes) }
        if let target = entry.target { Self.put(target, &out) }
        if let uid = entry.uid { Self.put(uid, &out) }
        if let gid = entry.gid { Self.put(gid, &out) }
        if let extras {
            Self.put(UInt32(extras.count), &out)
            out.append(contentsOf: extras)
        }
        if let link {
            Self.put(link.versionID, &out)
            Self.put(link.pathID, &out)
        }
        try file.append(out)
        count += 1
    }

    /// An integer as `SpoolFile.appendRaw` lays it out (little-endian).
    private static func put<T: FixedWidthInteger>(_ value: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    /// Text as `SpoolFile.appendText` lays it out (its length, then its UTF-8 bytes).
    private static func put(_ text: String, _ out: inout [UInt8]) {
        put(UInt32(text.utf8.count), &out)
        out.append(contentsOf: text.utf8)
    }

    /// The entries from the first, in the order appended.
    public func reader() throws -> Reader { Reader(bytes: try file.reader()) }

    public struct Reader: SnapshotEntrySource {
        private var bytes: SpoolFile.Reader
        public private(set) var link: ParentLink?

        init(bytes: SpoolFile.Reader) { self.bytes = bytes }

        public mutating func next() throws -> SnapshotEntry? {
            guard let length = try bytes.take(4) else { return nil }
            let path = try text(length)
            let type = EntrySpool.types[min(Int(try bytes.takeRaw(UInt8.self)), EntrySpool.types.count - 1)]
            let flags = Flags(rawValue: try bytes.takeRaw(UInt8.self))
            var entry = SnapshotEntry(path: path, type: type)
            entry.size = try bytes.takeRaw(UInt64.self)
            entry.mode = try bytes.takeRaw(UInt32.self)
            entry.mtime = FileTime(seconds: try bytes.takeRaw(Int64.self), nanoseconds: try bytes.takeRaw(Int32.self))
            entry.inode = try bytes.takeRaw(UInt64.self)
            if flags.contains(.fileID) { entry.fileID = ContentID(bytes: Array(try required(32))) }
            if flags.contains(.target) { entry.target = try text(try required(4)) }
            if flags.contains(.uid) { entry.uid = try bytes.takeRaw(UInt32.self) }
            if flags.contains(.gid) { entry.gid = try bytes.takeRaw(UInt32.self) }
            if flags.contains(.extras) {
                let count = try required(4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                try entry.setExtras(Array(try required(Int(count))))
            }
            link = nil
            if flags.contains(.link) {
                link = ParentLink(versionID: try bytes.takeRaw(Int64.self), pathID: try bytes.takeRaw(Int64.self),
                                  open: flags.contains(.linkOpen), same: flags.contains(.linkSame))
            }
            return entry
        }

        private mutating func required(_ count: Int) throws -> ArraySlice<UInt8> {
            guard let slice = try bytes.take(count) else {
                throw TroveError(.corruptData, "A working file ended early; run the command again.")
            }
            return slice
        }

        private mutating func text(_ length: ArraySlice<UInt8>) throws -> String {
            let count = length.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            return String(decoding: try required(Int(count)), as: UTF8.self)
        }
    }
}

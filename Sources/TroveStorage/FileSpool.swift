import Foundation
import TroveCore

/// File records (each with a number beside it, such as heal's durability) spooled to a temporary
/// file and read back in the order written: a work list of a million files (heal's queue, gc's
/// doomed files) without holding it in memory. The form is private to this file and never stored.
public final class FileSpool {
    private let file: SpoolFile
    /// Records appended so far.
    public private(set) var count = 0
    /// The sum of the records' sizes.
    public private(set) var bytes: UInt64 = 0

    public init(in folder: String) throws { file = try SpoolFile(in: folder) }

    public func append(_ record: FileRecord, _ number: Int = 0) throws {
        try file.append(record.id.bytes)
        try file.appendRaw(record.size)
        try file.appendRaw(record.firstSeen.timeIntervalSince1970)
        try file.appendRaw(Int64(number))
        try file.appendRaw(UInt32(record.leafHashes.count))
        for leaf in record.leafHashes {
            // Each with its length: a catalog row with a malformed leaf comes back as it was.
            try file.appendRaw(UInt32(leaf.bytes.count))
            try file.append(leaf.bytes)
        }
        count += 1
        bytes += record.size
    }

    /// The records from the first, in the order appended.
    public func reader() throws -> Reader { Reader(bytes: try file.reader()) }

    public struct Reader {
        private var bytes: SpoolFile.Reader

        init(bytes: SpoolFile.Reader) { self.bytes = bytes }

        static func id(_ bytes: ArraySlice<UInt8>) throws -> ContentID {
            guard let id = ContentID(bytes: Array(bytes)) else {
                throw TroveError(.corruptData, "A working file holds a malformed content ID; run the command again.")
            }
            return id
        }

        /// The next record and its number, or nil after the last.
        public mutating func next() throws -> (record: FileRecord, number: Int)? {
            guard let id = try bytes.take(32) else { return nil }
            let size = try bytes.takeRaw(UInt64.self)
            let firstSeen = Date(timeIntervalSince1970: try bytes.takeRaw(Double.self))
            let number = Int(try bytes.takeRaw(Int64.self))
            let leaves = try bytes.takeRaw(UInt32.self)
            var hashes: [LeafHash] = []
            hashes.reserveCapacity(Int(leaves))
            for _ in 0..<leaves {
                let length = try bytes.takeRaw(UInt32.self)
                guard let leaf = try bytes.take(Int(length)) else {
                    throw TroveError(.corruptData, "A working file ended early; run the command again.")
                }
                hashes.append(LeafHash(bytes: Array(leaf)))
            }
            return (FileRecord(id: try Self.id(id), size: size, leafHashes: hashes, firstSeen: firstSeen), number)
        }
    }
}

/// Files heal left below target, and why, spooled until the pass records them all at once.
public final class StuckSpool {
    private let file: SpoolFile

    public init(in folder: String) throws { file = try SpoolFile(in: folder) }

    public func append(_ stuck: StuckFile) throws {
        try file.append(stuck.fileID.bytes)
        try file.appendRaw(UInt8(StuckKind.allCases.firstIndex(of: stuck.kind) ?? 0))
        try file.appendText(stuck.storeLabel)
        try file.appendText(stuck.detail)
    }

    /// The files from the first, in the order appended.
    public func reader() throws -> Reader { Reader(bytes: try file.reader()) }

    public struct Reader {
        private var bytes: SpoolFile.Reader

        init(bytes: SpoolFile.Reader) { self.bytes = bytes }

        /// Up to `limit` more files, or nil after the last.
        public mutating func next(_ limit: Int) throws -> [StuckFile]? {
            var chunk: [StuckFile] = []
            while chunk.count < limit, let id = try bytes.take(32) {
                let kind = StuckKind.allCases[min(Int(try bytes.takeRaw(UInt8.self)), StuckKind.allCases.count - 1)]
                chunk.append(StuckFile(fileID: try FileSpool.Reader.id(id), kind: kind,
                                       storeLabel: try bytes.takeText(), detail: try bytes.takeText()))
            }
            return chunk.isEmpty ? nil : chunk
        }
    }
}

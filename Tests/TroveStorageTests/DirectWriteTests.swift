import Foundation
import Testing
import TroveCore
@testable import TroveStorage
import TroveTesting

/// Large objects are written with O_DIRECT where the filesystem allows it; whatever the sizes,
/// alignment and order of the caller's writes, the object must come out byte for byte.
struct DirectWriteTests {
    let folder = TempFolder("direct")

    /// Writes `bytes` in chunks of the given sizes, copying each chunk into a buffer that starts
    /// `misalign` bytes past a page boundary; returns whether the writer was still direct before
    /// the commit, and the object's bytes as stored.
    func write(_ bytes: [UInt8], chunks: [Int], misalign: Int = 0, batch: Bool = false) throws -> (direct: Bool, read: [UInt8]) {
        let store = try LocalStore.create(at: folder.folder("s\(UUID().uuidString.prefix(6))"), label: "s", copies: 1, now: Date())
        let writer = try #require(try store.makeWriter(expectedSize: UInt64(bytes.count)) as? LocalObjectWriter)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: (chunks.max() ?? 0) + misalign + 1, alignment: 4096)
        defer { buffer.deallocate() }
        var offset = 0
        var turn = 0
        while offset < bytes.count {
            // The chunk sizes repeat until the bytes run out.
            let size = min(chunks[turn % chunks.count], bytes.count - offset)
            turn += 1
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[misalign..<(misalign + size)])
            bytes[offset..<(offset + size)].withUnsafeBytes { target.copyMemory(from: $0) }
            try writer.write(UnsafeRawBufferPointer(target))
            offset += size
        }
        let direct = writer.direct
        let (id, _) = ContentHash.hash(bytes)
        if batch { try store.commitBatch([(writer: writer, id: id)]) } else { try writer.commit(as: id) }
        let read = try #require(FileManager.default.contents(atPath: store.objectPath(id)))
        #expect(try store.objectSize(id) == UInt64(bytes.count))
        return (direct, [UInt8](read))
    }

    var directPossible: Bool { DirectIO.supported(at: folder.path) }

    @Test(arguments: [1 << 20, (1 << 20) + 1, (1 << 20) + 4095, 3 * (1 << 20) - 17, ContentHash.leafSize + 5])
    func leafSizedWritesComeOutExact(size: Int) throws {
        let bytes = testBytes(size, seed: UInt64(size))
        let (direct, read) = try write(bytes, chunks: [ContentHash.leafSize])
        #expect(read == bytes)
        if directPossible { #expect(direct, "aligned leaf buffers should be written with O_DIRECT") }
    }

    @Test func batchedCommitWritesTheHeldTail() throws {
        let bytes = testBytes((2 << 20) + 123, seed: 4)
        let (_, read) = try write(bytes, chunks: [ContentHash.leafSize], batch: true)
        #expect(read == bytes)
    }

    @Test func unalignedBuffersFallBackToOrdinaryWrites() throws {
        let bytes = testBytes((1 << 20) + 999, seed: 5)
        let (direct, read) = try write(bytes, chunks: [64 * 1024], misalign: 1)
        #expect(read == bytes)
        #expect(!direct)
    }

    @Test func shortWriteFollowedByMoreFallsBackMidway() throws {
        // 5,000 bytes leave a held partial block; the next write must put it first.
        let bytes = testBytes((1 << 20) + 10_000, seed: 6)
        let (direct, read) = try write(bytes, chunks: [8192, 5000, 1 << 20, 4096])
        #expect(read == bytes)
        #expect(!direct)
    }

    @Test func mismatchedExpectedSizeStillExact() throws {
        let store = try LocalStore.create(at: folder.folder("m"), label: "m", copies: 1, now: Date())
        let bytes = testBytes(1 << 20, seed: 7)
        // Told 4 MiB, given 1 MiB: the reserved space is trimmed.
        let writer = try store.makeWriter(expectedSize: 4 << 20)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 4096)
        defer { buffer.deallocate() }
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        try writer.write(UnsafeRawBufferPointer(buffer))
        let (id, _) = ContentHash.hash(bytes)
        try writer.commit(as: id)
        #expect(try store.objectSize(id) == UInt64(bytes.count))
        #expect([UInt8](try #require(FileManager.default.contents(atPath: store.objectPath(id)))) == bytes)
    }
}

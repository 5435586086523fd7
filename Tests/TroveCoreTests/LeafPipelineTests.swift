import Foundation
import Testing
import TroveCore
import TroveTesting

/// The parallel pipeline must give exactly the sequential reference's IDs.
struct LeafPipelineTests {
    static let leaf = ContentHash.leafSize
    static let sizes = [0, 1, leaf - 1, leaf, leaf + 1, 2 * leaf, 3 * leaf + 5]

    /// Feeds bytes in reads of the given sizes (cycled).
    static func source(_ data: [UInt8], chunks: [Int]) -> (UnsafeMutableRawBufferPointer) throws -> Int {
        let box = Cursor()
        return { buffer in
            let want = min(buffer.count, chunks[box.calls % chunks.count], data.count - box.offset)
            box.calls += 1
            guard want > 0 else { return 0 }
            data.withUnsafeBytes { all in
                buffer.baseAddress!.copyMemory(from: all.baseAddress! + box.offset, byteCount: want)
            }
            box.offset += want
            return want
        }
    }

    final class Cursor: @unchecked Sendable { var offset = 0; var calls = 0 }

    @Test(arguments: sizes, [1, 2, 4])
    func parallelMatchesSequential(size: Int, parallelism: Int) throws {
        let data = testBytes(size, seed: UInt64(size))
        let reference = ContentHash.hash(data)
        let result = try LeafPipeline(parallelism: parallelism).run(source: Self.source(data, chunks: [Self.leaf]))
        #expect(result.id == reference.id)
        #expect(result.leaves == reference.leaves)
        #expect(result.size == UInt64(size))
    }

    @Test func anySplitOfReadsGivesTheSameID() throws {
        let data = testBytes(2 * Self.leaf + 12345, seed: 42)
        let reference = ContentHash.hash(data).id
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<6 {
            let chunks = (0..<5).map { _ in Int.random(in: 1...(3 * Self.leaf), using: &generator) }
            let result = try LeafPipeline(parallelism: 2).run(source: Self.source(data, chunks: chunks))
            #expect(result.id == reference, "chunks \(chunks)")
        }
    }

    @Test func sinkSeesEveryByteInOrder() throws {
        let data = testBytes(2 * Self.leaf + 99, seed: 3)
        let collected = Collected()
        _ = try LeafPipeline(parallelism: 2).run(source: Self.source(data, chunks: [65536]), sink: { _, bytes in
            collected.bytes.append(contentsOf: bytes)
        })
        #expect(collected.bytes == data)
    }

    final class Collected: @unchecked Sendable { var bytes: [UInt8] = [] }

    @Test func onLeafFailureStopsTheRun() {
        struct Stop: Error {}
        let data = testBytes(3 * Self.leaf, seed: 5)
        #expect(throws: Stop.self) {
            try LeafPipeline(parallelism: 2).run(source: Self.source(data, chunks: [Self.leaf]), onLeaf: { index, _ in
                if index == 1 { throw Stop() }
            })
        }
    }

    @Test func sourceErrorsPropagate() {
        struct ReadFailed: Error {}
        #expect(throws: ReadFailed.self) {
            try LeafPipeline().run(source: { _ in throw ReadFailed() })
        }
    }
}

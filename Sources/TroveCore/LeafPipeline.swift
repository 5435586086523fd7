import Dispatch
import Foundation

/// Streams a file's bytes leaf by leaf: leaves are hashed concurrently on all cores while an
/// optional sink receives them in order, and memory stays at `buffers × 8 MiB` whatever the size.
public struct LeafPipeline: Sendable {
    /// Leaves hashed at once.
    public var parallelism: Int
    /// Leaf buffers in flight (bounds memory).
    public var buffers: Int

    public init(parallelism: Int = ProcessInfo.processInfo.activeProcessorCount, buffers: Int? = nil) {
        self.parallelism = max(1, parallelism)
        self.buffers = max(2, buffers ?? self.parallelism + 2)
    }

    /// What the pipeline learned: the size, leaf hashes and the ID they make.
    public struct Result: Sendable {
        public let size: UInt64
        public let leaves: [LeafHash]
        /// The content ID, hashed once here: batched imports ask for it many times per file.
        public let id: ContentID

        init(size: UInt64, leaves: [LeafHash]) {
            self.size = size
            self.leaves = leaves
            self.id = ContentHash.root(size: size, leafHashes: leaves)
        }
    }

    /// Runs the pipeline.
    /// - Parameters:
    ///   - source: reads the next bytes into the buffer and returns how many; 0 at the end. Short
    ///     reads are fine: the pipeline keeps asking until each leaf is whole.
    ///   - sink: receives each leaf in order on one serial queue (e.g. to write a copy).
    ///   - onLeaf: called with each leaf hash as soon as it is known, in any order and from any
    ///     thread; throwing stops the run
    ///     (e.g. a leaf that does not match the catalog).
    ///   - progress: bytes read so far, called on the reading thread.
    public func run(
        source: @escaping (UnsafeMutableRawBufferPointer) throws -> Int,
        sink: ((Int, UnsafeRawBufferPointer) throws -> Void)? = nil,
        onLeaf: ((Int, LeafHash) throws -> Void)? = nil,
        progress: ((UInt64) -> Void)? = nil
    ) throws -> Result {
        let state = PipelineState(buffers: max(2, min(buffers, LaneBudget.current ?? buffers)), sink: sink, onLeaf: onLeaf)
        defer { state.deallocate() }
        let hashQueue = DispatchQueue(label: "trove.hash", attributes: .concurrent)
        let sinkQueue = DispatchQueue(label: "trove.sink")
        let limiter = DispatchSemaphore(value: parallelism)
        let group = DispatchGroup()
        var total: UInt64 = 0
        var index = 0
        while state.firstError == nil {
            let slot = state.takeSlot()
            var count = 0
            do {
                // Sources may return short reads; keep filling until the leaf is whole or input ends.
                let buffer = state.buffer(slot)
                while count < buffer.count {
                    let n = try source(UnsafeMutableRawBufferPointer(rebasing: buffer[count...]))
                    if n <= 0 { break }
                    count += n
                }
            } catch {
                state.fail(error)
                state.release(slot, times: 1)
                break
            }
            if count == 0 {
                state.release(slot, times: 1)
                break
            }
            total += UInt64(count)
            progress?(total)
            let leaf = index, length = count
            state.prepare(slot, users: sink == nil ? 1 : 2)
            if index == 0 && count < ContentHash.leafSize {
                // A one-leaf file: hashing and writing here beats two thread hops.
                state.hash(slot: slot, index: 0, count: length)
                if sink != nil { state.sink(slot: slot, index: 0, count: length) }
                index = 1
                break
            }
            group.enter()
            limiter.wait()
            hashQueue.async {
                state.hash(slot: slot, index: leaf, count: length)
                limiter.signal()
                group.leave()
            }
            if sink != nil {
                group.enter()
                sinkQueue.async {
                    state.sink(slot: slot, index: leaf, count: length)
                    group.leave()
                }
            }
            index += 1
            if count < ContentHash.leafSize { break }
        }
        group.wait()
        if let error = state.firstError { throw error }
        return Result(size: total, leaves: state.leafHashes(count: index))
    }
}

/// Shared state of one pipeline run; every mutable field is guarded by `lock`.
private final class PipelineState: @unchecked Sendable {
    private let lock = NSCondition()
    /// Leaf buffers, taken from the pool only when first used (a one-leaf file needs one).
    private var storage: [UnsafeMutableRawBufferPointer?]
    private var free: [Int]
    private var users: [Int]
    private var hashes: [Int: LeafHash] = [:]
    private var error: Error?
    private let sinkBody: ((Int, UnsafeRawBufferPointer) throws -> Void)?
    private let onLeaf: ((Int, LeafHash) throws -> Void)?

    init(buffers: Int, sink: ((Int, UnsafeRawBufferPointer) throws -> Void)?, onLeaf: ((Int, LeafHash) throws -> Void)?) {
        storage = Array(repeating: nil, count: buffers)
        free = Array((0..<buffers).reversed())
        users = Array(repeating: 0, count: buffers)
        sinkBody = sink
        self.onLeaf = onLeaf
    }

    func deallocate() { LeafBufferPool.shared.give(storage.compactMap { $0 }) }

    var firstError: Error? { lock.lock(); defer { lock.unlock() }; return error }

    func fail(_ failure: Error) {
        lock.lock(); if error == nil { error = failure }; lock.unlock()
    }

    func buffer(_ slot: Int) -> UnsafeMutableRawBufferPointer {
        lock.lock(); defer { lock.unlock() }
        if let buffer = storage[slot] { return buffer }
        let buffer = LeafBufferPool.shared.take(1)[0]
        storage[slot] = buffer
        return buffer
    }

    func takeSlot() -> Int {
        lock.lock(); defer { lock.unlock() }
        while free.isEmpty { lock.wait() }
        return free.removeLast()
    }

    func prepare(_ slot: Int, users count: Int) {
        lock.lock(); users[slot] = count; lock.unlock()
    }

    func release(_ slot: Int, times: Int) {
        lock.lock()
        users[slot] = max(0, users[slot] - times)
        if users[slot] == 0 { free.append(slot); lock.signal() }
        lock.unlock()
    }

    func hash(slot: Int, index: Int, count: Int) {
        let digest = ContentHash.leafHash(index: index, leaf: UnsafeRawBufferPointer(rebasing: buffer(slot)[0..<count]))
        lock.lock(); hashes[index] = digest; lock.unlock()
        do { try onLeaf?(index, digest) } catch { fail(error) }
        release(slot, times: 1)
    }

    func sink(slot: Int, index: Int, count: Int) {
        if firstError == nil, let sinkBody {
            do { try sinkBody(index, UnsafeRawBufferPointer(rebasing: buffer(slot)[0..<count])) } catch { fail(error) }
        }
        release(slot, times: 1)
    }

    func leafHashes(count: Int) -> [LeafHash] {
        lock.lock(); defer { lock.unlock() }
        return (0..<count).compactMap { hashes[$0] }
    }
}

/// Leaf buffers kept between pipeline runs, so importing thousands of files does not allocate
/// (and have the kernel zero) 8 MiB buffers for each one. Holds at most `limit` idle buffers.
final class LeafBufferPool: @unchecked Sendable {
    static let shared = LeafBufferPool(limit: 16)
    private let lock = NSLock()
    private var idle: [UnsafeMutableRawBufferPointer] = []
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func take(_ count: Int) -> [UnsafeMutableRawBufferPointer] {
        lock.lock()
        let reused = Array(idle.suffix(count))
        idle.removeLast(reused.count)
        lock.unlock()
        return reused + (reused.count..<count).map { _ in
            // Page-aligned, so stores can hand them to the drive directly (O_DIRECT).
            UnsafeMutableRawBufferPointer.allocate(byteCount: ContentHash.leafSize, alignment: 4096)
        }
    }

    func give(_ buffers: [UnsafeMutableRawBufferPointer]) {
        lock.lock()
        let keep = max(0, min(buffers.count, limit - idle.count))
        idle += buffers.prefix(keep)
        lock.unlock()
        buffers.dropFirst(keep).forEach { $0.deallocate() }
    }
}

import Dispatch
import Foundation

/// Runs `count` independent jobs on `lanes` threads, each lane taking the next job as it
/// frees up. Unlike `concurrentPerform` (one thread per core) the lane count is the caller's:
/// work that waits on drives overlaps better with more lanes than cores. Lanes are threads of
/// their own, not Dispatch workers: jobs block (on drives, on their own hashing), and blocked
/// workers would starve the Dispatch pool the hashing itself runs on.
///
/// Each lane's leaf pipelines hold fewer buffers (see `LaneBudget`), so memory stays near what
/// one pipeline alone would use, whatever the lane count.
public func runConcurrently(_ count: Int, lanes: Int, _ body: @escaping @Sendable (Int) -> Void) {
    guard count > 0 else { return }
    let lanes = max(1, min(lanes, count))
    let next = NextIndex()
    let budget = LaneBudget.buffers(lanes: lanes)
    let lane: @Sendable () -> Void = {
        let previous = LaneBudget.current
        LaneBudget.current = budget
        while let index = next.take(below: count) { body(index) }
        LaneBudget.current = previous
    }
    let done = DispatchSemaphore(value: 0)
    for _ in 1..<lanes {
        let thread = Thread { lane(); done.signal() }
        thread.stackSize = 1 << 20
        thread.start()
    }
    lane()
    for _ in 1..<lanes { done.wait() }
}

/// Runs a blocking job (a network request, a drive read) on a thread of its own and returns at
/// once; the group is left when it is done. Never a Dispatch worker: a blocked worker starves the
/// pool the hashing runs on (on Linux that pool is as wide as the cores).
public func runDetached(_ group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
    group.enter()
    let thread = Thread { body(); group.leave() }
    thread.stackSize = 1 << 20
    thread.start()
}

/// Hands out job indices in order to several lanes.
private final class NextIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func take(below count: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard value < count else { return nil }
        value += 1
        return value - 1
    }
}

/// Lanes for work that mixes CPU (hashing) with waiting on drives: twice the cores, at least 4,
/// at most 16.
public var ioLanes: Int { min(16, max(4, 2 * ProcessInfo.processInfo.activeProcessorCount)) }

/// Lanes for copies to or from a remote store: bound by round trips, not by the CPU or a disk
/// head, so more of them overlap the waiting (S3 clients use about ten).
public let remoteLanes = 16

/// The leaf buffers a pipeline may hold on the current thread: lanes share about twice what one
/// pipeline would use on its own, at least 3 each (one reading, two hashing or writing).
public enum LaneBudget {
    private static let key = "trove.lane.buffers"

    static func buffers(lanes: Int) -> Int {
        max(3, 2 * (ProcessInfo.processInfo.activeProcessorCount + 2) / lanes)
    }

    /// Nil off lanes: the pipeline's own setting applies.
    public static var current: Int? {
        get { Thread.current.threadDictionary[key] as? Int }
        set { Thread.current.threadDictionary[key] = newValue }
    }
}

/// Runs two independent pieces of work at the same time (the second on another thread) and
/// returns both results; the first error wins.
public func inParallel<A, B>(_ first: () throws -> A, _ second: @escaping @Sendable () throws -> B) throws -> (A, B) {
    let box = ResultSlot<B>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        box.result = Result { try second() }
        done.signal()
    }
    thread.start()
    let a = Result { try first() }
    done.wait()
    guard let b = box.result else { throw CancellationError() }
    return (try a.get(), try b.get())
}

/// A result handed from one thread to another (ordered by the semaphore that follows it).
private final class ResultSlot<B>: @unchecked Sendable {
    var result: Result<B, Error>?
}

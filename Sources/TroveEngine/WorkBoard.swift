import Foundation

/// What the background loop is doing: the phase under way (heal, scrub…) and how far along,
/// and the last run of each phase. `trove serve` reports into it; the API's `/v1/progress` and
/// /metrics read it.
public final class WorkBoard: ProgressReporter, @unchecked Sendable {
    /// One phase's run.
    public struct Phase: Sendable, Codable, Equatable {
        public var name: String
        /// "bytes" or "items".
        public var unit: String
        public var done: UInt64
        public var total: UInt64?
        public var started: Date
        public var updated: Date
        /// Nil while it runs.
        public var finished: Date?
    }

    private let lock = NSLock()
    private var running: Phase?
    private var last: [String: Phase] = [:]
    private let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date = { Date() }) { self.now = now }

    public func begin(_ phase: String, total: UInt64?, unit: ProgressUnit) {
        let time = now()
        lock.withLock {
            close(at: time)
            running = Phase(name: phase, unit: unit == .bytes ? "bytes" : "items", done: 0, total: total, started: time,
                            updated: time, finished: nil)
        }
    }

    public func update(done: UInt64) {
        let time = now()
        lock.withLock {
            running?.done = done
            running?.updated = time
        }
    }

    public func finish() {
        let time = now()
        lock.withLock { close(at: time) }
    }

    private func close(at time: Date) {
        guard var phase = running else { return }
        phase.finished = time
        phase.updated = time
        last[phase.name] = phase
        running = nil
    }

    /// The phase under way (nil between phases) and the last finished run of each phase, by name.
    public var state: (running: Phase?, finished: [Phase]) {
        lock.withLock { (running, last.values.sorted { $0.name < $1.name }) }
    }
}

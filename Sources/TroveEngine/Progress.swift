/// Receives progress of long work; the CLI draws a bar on a TTY, tests ignore it.
public protocol ProgressReporter: Sendable {
    /// A new phase starts; `total` is in `unit` ("bytes" or "files"), when known.
    func begin(_ phase: String, total: UInt64?, unit: ProgressUnit)
    /// Work done so far in the current phase.
    func update(done: UInt64)
    func finish()
}

public enum ProgressUnit: Sendable { case bytes, items }

/// Reports nothing.
public struct SilentProgress: ProgressReporter {
    public init() {}
    public func begin(_ phase: String, total: UInt64?, unit: ProgressUnit) {}
    public func update(done: UInt64) {}
    public func finish() {}
}

/// One part of a phase reported as the whole's progress: its own begin and finish are not shown.
struct PartProgress: ProgressReporter {
    let whole: any ProgressReporter
    let before: UInt64
    func begin(_ phase: String, total: UInt64?, unit: ProgressUnit) {}
    func update(done: UInt64) { whole.update(done: before + done) }
    func finish() {}
}

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

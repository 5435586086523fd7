import Foundation

/// How long to wait before retry number `attempt` (1-based) of a call that failed as
/// unavailable: exponential from `base`, capped at `cap`, with full jitter (a uniformly random
/// wait up to that bound) so many clients retrying at once spread out.
public struct Backoff: Sendable, Equatable {
    /// Tries in all, the first included.
    public var attempts: Int
    public var base: TimeInterval
    public var cap: TimeInterval

    public init(attempts: Int = 5, base: TimeInterval = 0.2, cap: TimeInterval = 5) {
        self.attempts = attempts
        self.base = base
        self.cap = cap
    }

    /// The wait before retry `attempt`, given a uniform random number in 0..<1.
    public func delay(attempt: Int, random: Double) -> TimeInterval {
        let bound = min(cap, base * pow(2, Double(max(0, attempt - 1))))
        return bound * random
    }
}

/// A token bucket for a bandwidth limit: `rate` bytes per second with a burst of one second's
/// worth. Pure: callers pass the time and sleep for the wait it returns.
public struct TokenBucket: Sendable {
    public let rate: Double
    private var tokens: Double
    private var last: Date?

    public init(rate: Double) {
        self.rate = rate
        self.tokens = rate
    }

    /// Takes `bytes` at `now`; returns how long to wait before sending them (0 when they fit).
    public mutating func take(_ bytes: Int, now: Date) -> TimeInterval {
        if let last { tokens = min(rate, tokens + now.timeIntervalSince(last) * rate) }
        last = now
        tokens -= Double(bytes)
        return tokens >= 0 ? 0 : -tokens / rate
    }
}

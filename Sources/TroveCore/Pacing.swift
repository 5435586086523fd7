import Foundation

/// How long to wait before retrying a call that failed as unavailable: exponential backoff with
/// full jitter (many clients retrying at once spread out): the n-th retry waits a random time in
/// `0 ..< min(maxDelay, baseDelay * 2^(n-1))`.
public struct RetryPolicy: Sendable, Equatable {
    /// Total tries, the first included (so 5 means up to 4 retries). At least 1.
    public var attempts: Int
    public var baseDelay: TimeInterval
    public var maxDelay: TimeInterval

    public init(attempts: Int = 5, baseDelay: TimeInterval = 0.2, maxDelay: TimeInterval = 5) {
        self.attempts = max(1, attempts)
        self.baseDelay = max(0, baseDelay)
        self.maxDelay = max(0, maxDelay)
    }

    /// The ceiling of the wait after failed try `attempt` (1-based): `min(maxDelay, baseDelay * 2^(attempt-1))`.
    public func ceiling(attempt: Int) -> TimeInterval {
        let exponent = Double(min(max(attempt, 1) - 1, 62))
        return min(maxDelay, baseDelay * pow(2, exponent))
    }

    /// The wait after failed try `attempt` (1-based), given `random` in `0..<1`. Pure.
    public func delay(attempt: Int, random: Double) -> TimeInterval {
        let r = random.isFinite ? min(max(random, 0), 1) : 0
        return ceiling(attempt: attempt) * r
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

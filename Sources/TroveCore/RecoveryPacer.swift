import Foundation

/// Paces healing: a token bucket whose rate is the configured bandwidth limit, raised when
/// imports are running so that healing always outpaces them (ZEORaid's "credit" idea).
///
/// Every imported byte needs `target − 1` more copies, so a backlog can only shrink if healing
/// runs faster than `(target − 1) × import rate`. Each imported byte therefore earns healing
/// `credit × (target − 1)` bytes of bandwidth (credit > 1, default 1.5):
///
///     rate = max(limit, credit × (target − 1) × import_rate)
///
/// With no limit (`nil`) healing runs flat out. Pure: callers pass bytes and times.
public struct RecoveryPacer: Sendable, Equatable {
    /// Bytes per second healing may use when nothing is being imported; nil = unlimited.
    public var limit: Double?
    /// How much faster than new data healing must run (> 1).
    public var credit: Double
    /// Copies every file should have.
    public var target: Int

    public init(limit: Double?, credit: Double = 1.5, target: Int = 3) {
        self.limit = limit
        self.credit = max(1.01, credit)
        self.target = target
    }

    /// The healing rate (bytes/s) while imports arrive at `importRate` bytes/s; nil = unlimited.
    public func rate(importRate: Double) -> Double? {
        guard let limit else { return nil }
        return max(limit, credit * Double(max(1, target - 1)) * importRate)
    }

    /// How long to wait before the next copy so that `sent` bytes over `elapsed` seconds stay
    /// within the rate (0 when under it).
    public func delay(sent: UInt64, elapsed: TimeInterval, importRate: Double) -> TimeInterval {
        guard let rate = rate(importRate: importRate), rate > 0 else { return 0 }
        return max(0, Double(sent) / rate - elapsed)
    }
}

import Foundation
import TroveStorage

/// The source of "now" for every rule. Production reads the system clock; tests (and the
/// scenario tests' `TROVE_NOW`) inject a fixed or moving time so days pass without sleeping.
public struct TroveClock: Sendable {
    public let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date) { self.now = now }

    public static let system = TroveClock { Date() }

    /// A clock that always answers `date`.
    public static func fixed(_ date: Date) -> TroveClock { TroveClock { date } }

    /// The system clock, unless `TROVE_NOW` (ISO 8601 or Unix seconds) pins the time, or
    /// `TROVE_CLOCK_OFFSET` (seconds, e.g. `345600` for 4 days) shifts it.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> TroveClock {
        if let text = environment["TROVE_NOW"], !text.isEmpty {
            if let seconds = Double(text) { return .fixed(Date(timeIntervalSince1970: seconds)) }
            if let date = JSONCoding.parseDate(text) { return .fixed(date) }
        }
        if let text = environment["TROVE_CLOCK_OFFSET"], let offset = Double(text) {
            return TroveClock { Date().addingTimeInterval(offset) }
        }
        return .system
    }
}

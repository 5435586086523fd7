import Foundation
import TroveCore

/// What this process is reading from each store now, and how fast each has delivered lately:
/// the facts `readOrder` spreads reads by.
final class ReadLoad: @unchecked Sendable {
    private let lock = NSLock()
    private var inFlight: [String: UInt64] = [:]
    private var rates: [String: Double] = [:]

    /// The read rule's view of `records`.
    func sources(_ records: [StoreRecord]) -> [ReadSource] {
        lock.withLock {
            records.map { ReadSource(storeID: $0.id, trusted: $0.trust == .trusted, lastSeen: $0.lastSeen,
                                     inFlight: inFlight[$0.id] ?? 0, rate: rates[$0.id]) }
        }
    }

    /// Runs a read of `bytes` from `storeID`, counting it as in flight meanwhile; a read that
    /// delivered its bytes updates the store's rate (a moving average, so it follows a link
    /// that slows down).
    func reading<T>(_ storeID: String, bytes: UInt64, _ body: () throws -> T, delivered: (T) -> Bool) rethrows -> T {
        lock.withLock { inFlight[storeID, default: 0] += bytes }
        let started = Date()
        defer { lock.withLock { inFlight[storeID, default: bytes] -= bytes } }
        let result = try body()
        let seconds = max(Date().timeIntervalSince(started), 1e-4)
        // Small reads measure the round trip more than the speed: only larger ones count.
        if delivered(result), bytes >= 256 << 10 {
            let rate = Double(bytes) / seconds
            lock.withLock { rates[storeID] = rates[storeID].map { 0.7 * $0 + 0.3 * rate } ?? rate }
        }
        return result
    }
}

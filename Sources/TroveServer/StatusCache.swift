import Foundation
import TroveCore
import TroveEngine
import TroveStorage

/// The status the API serves: computed from the background loop's latest observation of the
/// stores and the catalog, read-only, at most once a second (a monitoring system polling hard
/// costs one catalog read a second, and reading status never writes).
final class StatusCache: @unchecked Sendable {
    let library: Library
    private let lock = NSLock()
    private var observed: [ObservedStore]?
    private var cached: (at: Date, report: StatusReport, json: Data)?
    static let freshness: TimeInterval = 1

    init(library: Library) { self.library = library }

    /// A new observation from the background loop.
    func update(_ observation: [ObservedStore]) {
        lock.withLock {
            observed = observation
            cached = nil
        }
    }

    /// The library's stores as last observed (looked at once here, without applying any
    /// lifecycle rule, before the loop's first pass). The lock is not held while stores answer.
    func stores() throws -> [ObservedStore] {
        if let known = lock.withLock({ observed }) { return known }
        let observation = try library.observeStores(cleaning: false)
        return lock.withLock {
            if observed == nil { observed = observation }
            return observed!
        }
    }

    /// The observed store with this ID; a store the last observation does not show (attached
    /// since) is looked for again, at most every few seconds.
    func store(id: String) -> ObservedStore? {
        if let found = try? stores().first(where: { $0.record.id == id }) { return found }
        let due = lock.withLock { () -> Bool in
            guard Date() >= lookAgain else { return false }
            lookAgain = Date() + 5
            return true
        }
        guard due, let fresh = try? library.observeStores(cleaning: false) else { return nil }
        update(fresh)
        return fresh.first { $0.record.id == id }
    }
    private var lookAgain = Date.distantPast

    /// The report computed less than a second ago, if any: answered without leaving the
    /// request's thread (the catalog is not touched).
    func fresh() -> (report: StatusReport, json: Data)? {
        guard let cached = lock.withLock({ cached }), Date().timeIntervalSince(cached.at) < Self.freshness else { return nil }
        return (cached.report, cached.json)
    }

    /// The current report and its JSON document.
    func current() throws -> (report: StatusReport, json: Data) {
        if let fresh = fresh() { return fresh }
        let report = try library.report(observed: try stores())
        let json = try JSONCoding.encoder.encode(StatusJSON(report))
        lock.withLock { cached = (Date(), report, json) }
        return (report, json)
    }
}

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

    /// The current report and its JSON document.
    func current() throws -> (report: StatusReport, json: Data) {
        lock.lock()
        defer { lock.unlock() }
        if let cached, Date().timeIntervalSince(cached.at) < Self.freshness { return (cached.report, cached.json) }
        // Before the first pass: look at the stores without applying any lifecycle rule.
        let observation = try observed ?? library.observeStores(cleaning: false)
        observed = observation
        let report = try library.report(observed: observation)
        let json = try JSONCoding.encoder.encode(StatusJSON(report))
        cached = (Date(), report, json)
        return (report, json)
    }
}

import Foundation
import TroveCore
import TroveStorage

/// What one scrub pass did.
public struct ScrubReport: Sendable, Codable {
    public var checked = 0
    public var good = 0
    public var bytes: UInt64 = 0
    public var corrupt: [VerifyReport.Problem] = []
    public var missing: [String] = []
    public var seconds: Double = 0
}

extension Library {
    /// One bounded pass: re-verifies the least recently verified copies on connected stores,
    /// stopping after `maxCopies` copies or `maxBytes` bytes, whichever comes first.
    public func scrub(maxCopies: Int = 1000, maxBytes: UInt64 = 4 << 30,
                      progress: any ProgressReporter = SilentProgress()) throws -> ScrubReport {
        let started = Date()
        let observed = try observe().filter(\.isConnected)
        var report = ScrubReport()
        let copies = try catalog.leastRecentlyVerified(stores: observed.map(\.record.id), limit: maxCopies)
        progress.begin("scrub", total: UInt64(copies.count), unit: .items)
        for copy in copies {
            guard report.bytes < maxBytes, let item = observed.first(where: { $0.record.id == copy.storeID }),
                  let store = item.store, let file = try catalog.file(copy.fileID) else { continue }
            let current = try catalog.stores().first { $0.id == item.record.id } ?? item.record
            report.checked += 1
            report.bytes += file.size
            guard !unreachable.contains(item.record.id) else { continue }
            let verdict = try check(file, on: store, fromMedia: true)
            try settle(verdict, of: file, on: ObservedStore(record: current, observation: item.observation))
            switch verdict {
            case .good:
                report.good += 1
                // A copy on a store still under suspicion stays uncounted until the user trusts it again.
                if current.trust == .trusted { try markVerified(file.id, on: current) }
            case .missing:
                report.missing.append(file.id.description)
            case .corrupt(let leaf, let reason), .unreadable(let leaf, let reason):
                report.corrupt.append(.init(fileID: file.id.description, leaf: leaf, reason: reason))
            case .unavailable:
                report.checked -= 1
                report.bytes -= file.size
            }
            progress.update(done: UInt64(report.checked))
        }
        progress.finish()
        report.seconds = Date().timeIntervalSince(started)
        return report
    }
}

import Foundation
import TroveCore
import TroveStorage

/// What `forget` decided (and, unless a dry run, did).
public struct ForgetReport: Sendable, Codable {
    public struct Item: Sendable, Codable {
        public var id: String
        public var root: String
        public var time: Date
        public var keep: Bool
        public var reasons: [String]
    }
    public var dryRun: Bool
    public var items: [Item] = []
    public var forgotten: Int { items.filter { !$0.keep }.count }
}

extension Library {
    /// Starts tracking a folder: snapshots on a schedule under `trove serve`, kept by `policy`.
    public func track(_ rawPath: String, every: TimeInterval?, policy: RetentionPolicy) throws -> TrackedFolder {
        let folder = LibraryLocation.absolute(rawPath)
        guard let info = try POSIX.stat(folder), POSIX.isDirectory(info) else {
            throw TroveError(.pathMissing, "\(rawPath) is not an existing folder; check the path.")
        }
        if let every, every < 60 { throw TroveError(.usage, "--every must be at least 1m.") }
        let tracked = TrackedFolder(path: folder, every: every, policy: policy, created: clock.now())
        try snapshotIndex.saveTracked(tracked)
        return tracked
    }

    /// Applies each tracked folder's retention policy to its own snapshots. External snapshots and
    /// snapshots of untracked folders are never forgotten this way. Content goes only at `gc`.
    public func forget(dryRun: Bool, explicit: [String] = []) throws -> ForgetReport {
        var report = ForgetReport(dryRun: dryRun)
        var doomed: [SnapshotRecord] = []
        if !explicit.isEmpty {
            for selector in explicit {
                let snapshot = try resolveSnapshot(selector)
                doomed.append(snapshot)
                report.items.append(.init(id: snapshot.id, root: snapshot.root, time: snapshot.time, keep: false, reasons: []))
            }
        } else {
            for folder in try snapshotIndex.tracked() {
                let snapshots = try snapshotIndex.snapshots(root: folder.path).filter { !$0.external }
                let decisions = retention(snapshots.map { ($0.id, $0.time) }, policy: folder.policy)
                for decision in decisions {
                    guard let snapshot = snapshots.first(where: { $0.id == decision.id }) else { continue }
                    report.items.append(.init(id: snapshot.id, root: snapshot.root, time: snapshot.time,
                                              keep: decision.keep, reasons: decision.reasons))
                    if !decision.keep { doomed.append(snapshot) }
                }
            }
        }
        if !dryRun && !doomed.isEmpty {
            try snapshotIndex.forget(doomed, events: [Event(time: clock.now(), kind: .snapshotsForgotten, details: [
                "count": DetailValue(doomed.count), "snapshots": .text(doomed.map { String($0.id.prefix(12)) }.joined(separator: ",")),
            ])])
        }
        return report
    }

    /// Takes the snapshots that are due and applies retention (one `serve` pass).
    func snapshotDueFolders() throws {
        for folder in try snapshotIndex.tracked() {
            guard let every = folder.every else { continue }
            let last = try snapshotIndex.snapshots(root: folder.path).last { !$0.external }
            if let last, clock.now().timeIntervalSince(last.time) < every { continue }
            let report = try snapshot(folder.path)
            logger.info("scheduled snapshot", metadata: ["root": "\(folder.path)", "snapshot": "\(report.id.prefix(12))"])
        }
        _ = try forget(dryRun: false)
    }
}

/// Parses durations like `90s`, `15m`, `1h`, `2d`, `1w`.
public func parseDuration(_ text: String) -> TimeInterval? {
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
    var seconds = Double(text)
    if let unit = text.last, let factor = units[unit], let value = Double(text.dropLast()) { seconds = value * factor }
    // At least a second, and finite: zero, negative, "inf" and "nan" are not schedules.
    guard let seconds, seconds.isFinite, seconds >= 1 else { return nil }
    return seconds
}

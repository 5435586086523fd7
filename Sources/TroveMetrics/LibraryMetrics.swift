import Foundation
import Prometheus
import TroveCore
import TroveEngine

/// The library's state as Prometheus metrics (text exposition format 0.0.4): what `status`
/// shows, in a form a monitoring system can alert on. Gauges only: every value is the state now.
public enum LibraryMetrics {
    /// Event kinds whose latest time is exported (`trove_last_event_timestamp_seconds{kind}`).
    public static let timedEvents: [EventKind] = [.recoveryFinished, .verifyFinished, .snapshotCreated, .gcFinished, .checkFinished]

    /// The exposition text for a status report and the latest time of each timed event kind.
    /// `work`: what the background loop is doing and how its phases last ended (`trove serve`).
    public static func render(_ report: StatusReport, lastEvents: [EventKind: Date],
                              work: (running: WorkBoard.Phase?, finished: [WorkBoard.Phase])? = nil) -> String {
        let registry = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "trove", metricName: name, unitName: unit, helpText: help),
                               labels: labels)
        }
        gauge("status", "code", "What `trove status` exits with: 0 all is well, 1 warnings, 2 the user must act.").set(Double(report.exitCode))
        gauge("target", "copies", "The durability every file should reach.").set(Double(report.target))
        gauge("files", "", "Files known to the library.").set(Double(report.files))
        gauge("files", "bytes", "Bytes of the files known to the library.").set(Double(report.bytes))
        let below = report.durability.filter { $0.key < report.target }.reduce(0) { $0 + $1.value.files }
        gauge("files_below_target", "", "Files whose durability is below the target.").set(Double(below))
        for (durability, bucket) in report.durability.sorted(by: { $0.key < $1.key }) {
            let labels = [("durability", String(durability))]
            gauge("durability_files", "", "Files by durability (the copies that count, disks counted once).", labels).set(Double(bucket.files))
            gauge("durability", "bytes", "Bytes by durability.", labels).set(Double(bucket.bytes))
        }
        var alerts: [String: (severity: String, count: Int)] = [:]
        for alert in report.alerts {
            alerts[alert.kind, default: (alert.severity.rawValue, 0)].count += 1
        }
        for (kind, entry) in alerts.sorted(by: { $0.key < $1.key }) {
            gauge("alerts", "", "Alerts `trove status` shows, by kind.", [("kind", kind), ("severity", entry.severity)]).set(Double(entry.count))
        }
        for store in report.stores {
            let r = store.record
            let labels = [("store", r.label), ("kind", r.kind.rawValue)]
            gauge("store_connected", "", "1 when the store answered just now.", labels).set(store.connected ? 1.0 : 0.0)
            gauge("store_trusted", "", "1 when the store's copies count (not downgraded).", labels).set(r.trust == .trusted ? 1.0 : 0.0)
            gauge("store_weight", "copies", "What one copy on the store counts for (a grid: what its shares survive).", labels).set(Double(r.copies))
            gauge("store_held", "files", "Copies the store holds.", labels).set(Double(store.files))
            gauge("store_held", "bytes", "Bytes of the copies the store holds.", labels).set(Double(store.bytes))
            if let free = r.free { gauge("store_free", "bytes", "Free bytes when last seen.", labels).set(Double(free)) }
            if let seen = r.lastSeen {
                gauge("store_last_seen_timestamp", "seconds", "When the store was last seen.", labels).set(seen.timeIntervalSince1970)
            }
        }
        gauge("records_pending", "", "1 when the library's records in the stores lag behind the catalog.").set(report.records.pending ? 1.0 : 0.0)
        if let written = report.records.written {
            gauge("records_written_timestamp", "seconds", "When the library's records were last written to the stores.")
                .set(written.timeIntervalSince1970)
        }
        for kind in timedEvents {
            guard let time = lastEvents[kind] else { continue }
            gauge("last_event_timestamp", "seconds", "When each kind of work last finished.", [("kind", kind.rawValue)])
                .set(time.timeIntervalSince1970)
        }
        if let work {
            for phase in work.finished + (work.running.map { [$0] } ?? []) {
                let labels = [("phase", phase.name), ("unit", phase.unit)]
                let running = phase.finished == nil
                gauge("work_running", "", "1 while the background loop runs this phase (heal, scrub…).", [("phase", phase.name)])
                    .set(running ? 1.0 : 0.0)
                gauge("work_done", "", "How far the phase's current (or last) run came, in its unit.", labels).set(Double(phase.done))
                if let total = phase.total {
                    gauge("work_total", "", "What the phase's current (or last) run had to do, in its unit.", labels).set(Double(total))
                }
            }
        }
        return registry.emitToString()
    }
}

extension Library {
    /// The latest time each timed event kind was logged.
    public func lastEvents(_ kinds: [EventKind]) throws -> [EventKind: Date] {
        var latest: [EventKind: Date] = [:]
        for kind in kinds {
            if let event = try catalog.latestEvent(kind: kind) { latest[kind] = event.time }
        }
        return latest
    }
}

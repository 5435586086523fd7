import ArgumentParser
import Foundation
import TroveCore
import TroveEngine

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Should I worry? Files, durability, stores and alerts.",
        discussion: "Exits 0 when all is well, 1 when only warnings are shown, 2 when you must act (Nagios convention).")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary(readOnly: true)
            let report = try library.currentStatus()
            if json { Output.json(StatusJSON(report)) } else { printText(report) }
            if report.exitCode != 0 { throw ExitCode(report.exitCode) }
        }
    }

    func printText(_ report: StatusReport) {
        Output.line("\(report.files) files, \(formatBytes(report.bytes)); target \(report.target) copies")
        for (durability, bucket) in report.durability.sorted(by: { $0.key < $1.key }) {
            let mark = durability >= report.target ? "ok" : (durability < 2 ? "fragile" : "below target")
            Output.line("  durability \(durability): \(bucket.files) files, \(formatBytes(bucket.bytes))  (\(mark))")
        }
        Output.line("Stores:")
        if report.stores.isEmpty { Output.line("  none; add one with `trove store add FOLDER`") }
        for store in report.stores {
            let r = store.record
            let state = store.connected ? "connected" + (r.readOnly ? " READ-ONLY" : "") : "NOT CONNECTED (\(store.problem ?? "not found"))"
            if let grid = r.config.grid {
                // A grid has no disk of its own: say what it is and what a copy there survives.
                let members = grid.members.compactMap { id in report.stores.first { $0.record.id == id } }
                let away = members.filter { !$0.connected }.map(\.record.label)
                Output.line("  \(r.label)  \(r.trust.rawValue)  \(state)  grid \(grid.k)-of-\(grid.n) over \(members.map(\.record.label).joined(separator: ", "))  \(store.files) copies")
                Output.line("    a new copy there \(gridSentence(weight: r.copies, members: grid.members.count))"
                            + (away.isEmpty ? "" : "; not connected now: \(away.joined(separator: ", "))"))
                continue
            }
            Output.line("  \(r.label)  \(r.trust.rawValue)\(r.noNewCopies ? " no-new-copies" : "")  \(state)  disk \(r.diskShown ?? "?")  \(store.files) copies  free \(r.free.map { formatBytes(UInt64($0)) } ?? "?")  \(r.location)")
        }
        for group in sharedDisks(report.stores.map(\.record)) {
            let names = group.map { "'\($0.label)'" }
            let joined = names.count == 2 ? names.joined(separator: " and ") : names.dropLast().joined(separator: ", ") + " and " + names.last!
            Output.line("  \(joined) share one disk\(group[0].diskShown.map { " (\($0))" } ?? ""): their copies count once.")
        }
        if let sequence = report.records.sequence {
            Output.line("Library records: #\(sequence) in the stores, written \(Output.date(report.records.written))\(report.records.pending ? "; newer changes go at the next backup" : "").")
        } else {
            Output.line("Library records: not in the stores yet (written automatically after changes, or now with `trove catalog backup`).")
        }
        if report.alerts.isEmpty {
            Output.line("All is well.")
        } else {
            Output.line("Alerts:")
            for alert in report.alerts {
                Output.line("  [\(alert.severity.rawValue.uppercased())] \(alert.kind): \(alert.message)")
                Output.line("      → \(alert.action)")
            }
        }
    }
}


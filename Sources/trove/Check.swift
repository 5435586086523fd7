import ArgumentParser
import TroveCore
import TroveEngine
import TroveStorage

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the catalog: every record's schema, and every file ID against its size and leaf hashes.",
        discussion: "Exits 2 when any record fails; each failure is logged and recorded as a consistency_failure event.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let report: CheckReport
            do {
                report = try global.openLibrary().checkCatalog()
            } catch let error as TroveError where error.code == .catalogDamaged {
                // The damage is the finding: reported like any other, with the command that fixes it.
                let damaged = CheckReport(schemaVersion: "unknown", recordsChecked: 0,
                                          failures: [ConsistencyFailure(table: "database", key: "catalog", problem: error.message)])
                if json { Output.json(damaged) } else {
                    Output.line("The catalog cannot be checked: it is damaged.")
                    Output.line("  \(error.message)")
                }
                throw ExitCode(2)
            }
            if json {
                Output.json(report)
            } else {
                Output.line("Checked \(report.recordsChecked) records (schema \(report.schemaVersion)): \(report.failures.count) failure\(report.failures.count == 1 ? "" : "s").")
                for f in report.failures { Output.line("  \(f.table) \(f.key): \(f.problem)") }
                if report.failures.contains(where: { $0.table == "database" }) {
                    Output.line("The database itself is damaged: run `trove catalog rebuild` to make a new catalog from the stores.")
                }
            }
            if !report.ok { throw ExitCode(2) }
        }
    }
}

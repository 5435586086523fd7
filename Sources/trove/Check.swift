import ArgumentParser
import TroveEngine

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the catalog: every record's schema, and every file ID against its size and leaf hashes.",
        discussion: "Exits 2 when any record fails; each failure is logged and recorded as a consistency_failure event.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let report = try library.checkCatalog()
            if json {
                Output.json(report)
            } else {
                Output.line("Checked \(report.recordsChecked) records (schema \(report.schemaVersion)): \(report.failures.count) failure\(report.failures.count == 1 ? "" : "s").")
                for f in report.failures { Output.line("  \(f.table) \(f.key): \(f.problem)") }
            }
            if !report.ok { throw ExitCode(2) }
        }
    }
}

import ArgumentParser
import TroveCore
import TroveEngine

struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a file back by ID, verified leaf by leaf, from the best connected copy.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The file's ID (or a unique prefix of it).") var id: String
    @Option(help: "Where to write the file.") var to: String
    @Flag(help: "Replace the destination if it exists.") var overwrite = false
    @Flag(help: "Print a JSON report.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary(readOnly: true)
            let report = try library.get(id, to: to, overwrite: overwrite, progress: Output.progress(json: json))
            if json { Output.json(report); return }
            for bad in report.badCopies { Output.line("bad copy skipped: \(bad)") }
            Output.line("Wrote \(report.to) (\(formatBytes(report.size)), verified, from store '\(report.store)').")
        }
    }
}

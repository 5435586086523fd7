import ArgumentParser
import Foundation
import TroveCore
import TroveEngine

struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import files and folders (recursively) into the library's stores.",
        discussion: "Each file is hashed while it is copied; it is acknowledged once its copies are durable on disk and in the catalog. Content already in the library is recorded but not stored twice.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Files or folders to import.") var paths: [String]
    @Option(help: "Write to this store only (default: the connected store with the most free space).") var store: String?
    @Option(help: "Acknowledge each file only once this many stores hold it.") var mirror = 1

    func validate() throws {
        try requireRange(mirror, 1...16, "mirror")
    }
    @Flag(help: "Print a JSON report.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            do {
                let report = try library.importPaths(paths, options: ImportOptions(store: store, mirror: mirror, listFiles: json),
                                                     progress: Output.progress(json: json))
                print(report)
                if report.skipped.contains(where: \.error) { throw ExitCode(74) }
            } catch let stopped as ImportStopped {
                print(stopped.report)
                throw stopped.error
            }
        }
    }

    func print(_ report: ImportReport) {
        if json { Output.json(report); return }
        let rate = report.seconds > 0 ? "  (\(formatBytes(UInt64(Double(report.bytes) / report.seconds)))/s)" : ""
        Output.line("Imported \(report.count) file\(report.count == 1 ? "" : "s") (\(formatBytes(report.bytes))): \(report.newFiles) new, \(report.duplicates) already in the library\(rate).")
        for skipped in report.skipped.prefix(20) { Output.line("  skipped \(NameCodec.display(skipped.path)): \(skipped.reason)") }
        if report.skipped.count > 20 { Output.line("  … and \(report.skipped.count - 20) more skipped (see --json)") }
        if let stop = report.stoppedBy { Output.line("Stopped early: \(stop)") }
    }
}

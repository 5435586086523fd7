import ArgumentParser
import Foundation
import TroveCore
import TroveEngine
import TroveMetrics
import TroveStorage

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics", abstract: "Print the library's state as Prometheus metrics.",
        discussion: """
            The same facts as `trove status` (durability, alerts by kind, each store's state and holdings, when heal, verify, snapshots, gc and check last finished) in Prometheus's text format. With --textfile the metrics replace a file atomically, for node_exporter's textfile collector: run it from cron or a systemd timer. `trove_status_code` is what `trove status` would exit with (0 all is well, 1 warnings, 2 act).
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Write the metrics to this file (replaced atomically) instead of printing them.") var textfile: String?

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary(readOnly: true)
            let text = LibraryMetrics.render(try library.currentStatus(), lastEvents: try library.lastEvents(LibraryMetrics.timedEvents))
            guard let textfile else { FileHandle.standardOutput.write(Data(text.utf8)); return }
            let path = LibraryLocation.absolute(textfile)
            let folder = (path as NSString).deletingLastPathComponent
            do { try AtomicFile.write(Data(text.utf8), to: path, in: folder) } catch {
                throw TroveError(.pathMissing, "Cannot write the metrics to \(path) (\(TroveError.from(any: error).message)); check that \(folder) exists and is writable.")
            }
        }
    }
}

import ArgumentParser
import TroveCore
import TroveEngine

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-hash every copy on connected stores; quarantine corrupt ones.",
        discussion: """
            Copies are read from the drive itself, not from the page cache (direct I/O on ext4, XFS, \
            Btrfs and F2FS; elsewhere cached pages are dropped first), so a copy that rotted under a \
            cached file is found. On object storage every object is read back from the service. Exits 2 \
            when a corrupt or missing copy was found, 75 when a store stopped answering part-way, 0 \
            when every copy checked out.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Verify only this store.") var store: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let reports = try library.verify(storeLabel: store, progress: Output.progress(json: json))
            if json {
                Output.json(["stores": reports])
            } else {
                for r in reports {
                    guard r.connected else { Output.line("\(r.storeLabel): not connected, skipped"); continue }
                    let rate = r.seconds > 0 ? ", \(formatBytes(UInt64(Double(r.bytes) / r.seconds)))/s" : ""
                    Output.line("\(r.storeLabel): \(r.checked) copies checked, \(r.good) good, \(r.corrupt.count) corrupt, \(r.missing.count) missing (\(formatBytes(r.bytes))\(rate))")
                    for c in r.corrupt {
                        Output.line("  corrupt \(c.fileID)\(c.leaf.map { " at leaf \($0)" } ?? ""): \(c.reason) — quarantined; run `trove heal`")
                    }
                    for m in r.missing { Output.line("  missing \(m)") }
                }
            }
            for r in reports { if let why = r.unreachable { Output.error("Store '\(r.storeLabel)' stopped answering part-way (\(why)); nothing was quarantined or downgraded. Run verify again when it is back.") } }
            if reports.contains(where: { $0.connected && (!$0.corrupt.isEmpty || !$0.missing.isEmpty) }) { throw ExitCode(2) }
            if reports.contains(where: { $0.unreachable != nil }) { throw ExitCode(75) }
        }
    }
}

import ArgumentParser
import Foundation
import TroveCore
import TroveEngine
import TrovePostgres
import TroveStorage
import TroveStores

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "Back up the catalog into the stores, rebuild it from them, or move it to PostgreSQL and back.",
        discussion: """
            The catalog is an index: the library's own records (imports, snapshots, tracked folders, settings, stores and their trust, the event log) are kept in the stores as objects, reachable from a small head on each store (docs/library-records.md). They are written automatically after changes, at most every `backup_interval` seconds (default 600), and by `trove catalog backup`.
            """,
        subcommands: [CatalogBackup.self, CatalogRebuild.self, CatalogMigrate.self])
}

struct CatalogMigrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Move the library's catalog into an empty PostgreSQL database, or back to SQLite.",
        discussion: """
            Copies every record (settings, stores, tracked folders, files, imports, copies, snapshots, the event log) into the destination, checks that it answers as the original does (files and bytes by durability, copies per store, imports, events, snapshots), then switches the library folder to it. The old catalog is kept aside, never deleted; on any failure the library stays where it was. Nothing else may run on the library meanwhile. Other machines then join the PostgreSQL library with `trove init --catalog URL`. The password comes from PGPASSWORD or ~/.pgpass, never from the URL.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "postgresql://USER@HOST[:PORT]/DATABASE (an empty database), or `sqlite` for the embedded file.")
    var to: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let destination: CatalogDestination = to == "sqlite" ? .sqlite : .postgresql(try PostgresURL(to))
            let library = try global.openLibrary()
            let report = try library.migrateCatalog(to: destination)
            // This process's handle is on the old catalog now: no automatic backup through it.
            AutoBackup.library = nil
            if json { Output.json(report); return }
            Output.line("Catalog moved to \(report.to): \(report.files) files, \(report.imports) imports, \(report.copies) copies, \(report.snapshots) snapshots, \(report.events) events (checked against the original, \(String(format: "%.1f", report.seconds)) s).")
            Output.line("The previous catalog is kept: \(report.keptAside).")
        }
    }
}

struct CatalogBackup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write the library's records to every connected store now.",
        discussion: "Writes the journal of changes since the last backup (or a checkpoint of everything), the state, and a new head on each connected store. Exit 75 when no store could take them.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Write a checkpoint of everything instead of the changes since the last backup.") var checkpoint = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            guard let report = try library.backupRecords(wait: true, forceCheckpoint: checkpoint) else {
                throw TroveError(.busy, "Another Trove command is writing the library's records; retry when it has finished.")
            }
            if json { Output.json(report); return }
            Output.line("Library records #\(report.sequence) written\(report.checkpoint ? " (checkpoint)" : ""): \(report.entries) entries in \(report.objects) objects (\(report.bytes) bytes), head on \(report.stores.joined(separator: ", ")).")
            for (label, why) in report.skipped.sorted(by: { $0.key < $1.key }) { Output.line("  not on \(label): \(why)") }
        }
    }
}

struct CatalogRebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Make a new catalog from the library's records in the stores.",
        discussion: """
            Reads the newest library head among the stores given with --from (or, without --from, the stores listed in the library's stores.json), replays the records, then lists every reachable store to find its copies (sizes checked; leaves too with --verify). Objects the records do not know (written after the last backup) are kept as recovered imports, and snapshots found on the stores are indexed again. Stores that cannot be reached keep the copies the records gave them; `gc` never collects what it does not know there. The previous catalog file is moved aside (catalog.sqlite.damaged-TIME), never deleted.

            Exit 0 when every store was listed; 75 when some could not be (the catalog is rebuilt all the same; run it again when they are back to make it complete).
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "A store holding the library's records: a folder or s3://BUCKET[/PREFIX] (repeatable).") var from: [String] = []
    @Option(help: "S3: the service's URL for --from s3://… .") var endpoint: String?
    @Option(help: "S3: the signing region.") var region: String?
    @Flag(help: "S3: address the bucket in the path (MinIO, Garage, moto).") var pathStyle = false
    @Option(help: "S3: the section of the AWS credentials file to use.") var profile: String?
    @Option(help: "A key file that unlocks an encrypted --from store (else the passphrase).") var keyFile: String?
    @Flag(help: "Check every leaf of every copy found (slow), not only its size.") var verify = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            global.bootstrapLogging()
            let config = StoreConfig(endpoint: endpoint, region: region, pathStyle: pathStyle ? true : nil, profile: profile,
                                     keyFile: keyFile.map(LibraryLocation.absolute))
            let folder = global.libraryPath
            let (_, report) = try Library.rebuildCatalog(
                at: folder, from: from.map { RebuildSource(location: $0, config: config) }, verify: verify,
                clock: .fromEnvironment(), registry: StoreRegistry(libraryPath: folder, askPassphrase: askPassphrase),
                progress: Output.progress(json: json))
            if json {
                Output.json(report)
            } else {
                if report.withoutRecords {
                    Output.line("No library records were found on \(report.headFrom) (the library never backed them up). Rebuilt the catalog of library \(report.library) from what the stores hold: \(report.files) files, every one kept as a recovered import, \(report.snapshots) snapshots found. Tracked folders, settings, other stores, trust decisions and the event log could not be restored: track folders and add other stores again.")
                } else {
                    Output.line("Rebuilt the catalog of library \(report.library) from head #\(report.headSequence) (\(Output.date(report.headTime))) on '\(report.headFrom)': \(report.files) files, \(report.imports) imports, \(report.snapshots) snapshots, \(report.events) events.")
                }
                for (label, count) in report.listed.sorted(by: { $0.key < $1.key }) { Output.line("  \(label): \(count) copies found") }
                for (label, why) in report.missing.sorted(by: { $0.key < $1.key }) {
                    Output.line("  \(label): not listed (\(why)); its copies are taken from the records until it is seen again")
                }
                if report.recovered > 0 {
                    Output.line("  \(report.recovered) object\(report.recovered == 1 ? "" : "s") written after the last backup kept as recovered imports (`trove whereis` shows them as recovered:STORE).")
                }
                if report.recoveredSnapshots > 0 { Output.line("  \(report.recoveredSnapshots) snapshot\(report.recoveredSnapshots == 1 ? "" : "s") taken after the last backup found and indexed.") }
                if report.wrongSize + report.corrupt > 0 {
                    Output.line("  \(report.wrongSize) copies of the wrong size and \(report.corrupt) corrupt were not counted; run `trove verify`.")
                }
                if !report.unindexedSnapshots.isEmpty {
                    Output.line("  \(report.unindexedSnapshots.count) snapshots could not be indexed (their manifests are on stores not connected); gc waits until a rebuild with those stores indexes them.")
                }
                if let aside = report.keptAside { Output.line("The previous catalog was kept as \(aside).") }
            }
            if !report.missing.isEmpty { throw ExitCode(75) }
        }
    }
}

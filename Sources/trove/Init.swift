import ArgumentParser
import TroveEngine
import TrovePeer
import TroveStorage
import TrovePostgres

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a library (catalog) in the library folder.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Copies every file should have (default 3).")
    var copies: Int?

    @Option(help: ArgumentHelp("Keep the catalog in PostgreSQL, shared by several machines: postgresql://USER@HOST[:PORT]/DATABASE. An empty database makes a new library; one holding a library joins it. The password comes from PGPASSWORD or ~/.pgpass.", valueName: "url"))
    var catalog: String?

    func run() throws {
        try reportingErrors {
            global.bootstrapLogging()
            let shared = try catalog.map(PostgresURL.init)
            let library = try Library.create(at: global.libraryPath, copies: copies ?? 3, shared: shared, clock: .fromEnvironment())
            // The identity other machines pin when they pair with this one (keys/peer-*.pem).
            _ = try PeerIdentity.loadOrCreate(library: library.path, name: DiskIdentity.machineName())
            if let shared {
                Output.line("Library folder \(library.path) uses the catalog in \(shared) (target: \(try library.targetCopies()) copies).")
            } else {
                Output.line("Created a Trove library at \(library.path) (target: \(try library.targetCopies()) copies).")
            }
            Output.line("Next: `trove store add FOLDER` on each drive, then `trove add PATH`.")
        }
    }
}


import ArgumentParser
import TroveEngine

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a library (catalog) in the library folder.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Copies every file should have (default 3).")
    var copies: Int?

    func run() throws {
        try reportingErrors {
            global.bootstrapLogging()
            let library = try Library.create(at: global.libraryPath, copies: copies ?? 3, clock: .fromEnvironment())
            Output.line("Created a Trove library at \(library.path) (target: \(try library.targetCopies()) copies).")
            Output.line("Next: `trove store add FOLDER` on each drive, then `trove add PATH`.")
        }
    }
}


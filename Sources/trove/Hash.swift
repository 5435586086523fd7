import ArgumentParser
import Foundation
import TroveCore
import TroveEngine

struct Hash: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print each file's Trove ID like sha256sum (\"<id>  <path>\"), without importing.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Files to hash.") var files: [String]
    @Flag(help: "Print JSON lines: {\"id\", \"path\", \"size\"}.") var json = false

    func run() throws {
        try reportingErrors {
            global.bootstrapLogging()
            var failed: TroveError?
            for file in files {
                do {
                    let result = try Library.hash(path: LibraryLocation.absolute(file))
                    if json {
                        Output.json(HashJSON(id: result.id.description, path: file, size: result.size), pretty: false)
                    } else {
                        Output.line("\(result.id)  \(file)")
                    }
                } catch let error as TroveError {
                    Output.error(error.message)
                    failed = error
                }
            }
            if let failed { throw ExitCode(failed.exitCode) }
        }
    }
}

struct HashJSON: Encodable {
    var id: String
    var path: String
    var size: UInt64
}

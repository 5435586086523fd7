import ArgumentParser
import Foundation
import TroveCore
import TroveEngine

struct WhereIs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whereis", abstract: "Show which stores hold a file and when each copy was verified.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "A file's ID (or prefix), an existing file (hashed), or a path that was imported.") var target: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary(readOnly: true)
            let results = try library.whereIs(target)
            if json {
                Output.json(["files": results.map(WhereIsJSON.init)])
                return
            }
            for result in results {
                Output.line("\(result.file.id)  \(formatBytes(result.file.size))  durability \(result.durability)")
                if result.copies.isEmpty { Output.line("  no copies on any known store") }
                for copy in result.copies {
                    Output.line("  \(copy.store.label)  \(copy.store.trust.rawValue)  \(copy.connected ? "connected" : "not connected")  disk \(copy.store.diskShown ?? "?")  copies \(copy.record.copies)  verified \(Output.date(copy.record.verified))")
                    if let grid = copy.store.config.grid {
                        Output.line("    grid \(grid.k)-of-\(grid.n): \(gridSentence(weight: copy.record.copies, members: grid.members.count))")
                    }
                }
                for group in sharedDisks(result.copies.map(\.store)) {
                    Output.line("  \(group.map { "'\($0.label)'" }.joined(separator: " and ")) share one disk\(group[0].diskShown.map { " (\($0))" } ?? ""): those copies count once")
                }
                for origin in result.origins.prefix(5) { Output.line("  imported from \(origin.path) at \(Output.date(origin.time))") }
            }
        }
    }
}

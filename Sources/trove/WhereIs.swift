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

struct WhereIsJSON: Encodable {
    struct Copy: Encodable {
        var storeId, storeLabel, trust: String
        var disk: String?
        var connected: Bool
        var copies: Int
        var mtime: Date
        var verified: Date?
    }
    struct Origin: Encodable {
        var path, name: String
        var mtime, time: Date
    }
    var id: String
    var size: UInt64
    var durability: Int
    var leaves: Int
    var firstSeen: Date
    var copies: [Copy]
    var origins: [Origin]

    init(_ w: TroveEngine.WhereIs) {
        id = w.file.id.description; size = w.file.size; durability = w.durability; leaves = w.file.leafHashes.count
        firstSeen = w.file.firstSeen
        copies = w.copies.map { Copy(storeId: $0.store.id, storeLabel: $0.store.label, trust: $0.store.trust.rawValue, disk: $0.store.diskShown,
                                     connected: $0.connected, copies: $0.record.copies, mtime: $0.record.mtime,
                                     verified: $0.record.verified) }
        origins = w.origins.map { Origin(path: $0.path, name: $0.name, mtime: $0.mtime, time: $0.time) }
    }
}

import ArgumentParser
import Foundation
import TroveCore
import TroveEngine
import TroveServer
import TroveStorage

struct HostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host",
        abstract: "Stores this machine keeps for paired peers: add, remove, list.",
        discussion: """
            Hosted stores are kept in the library's hosted.json; `trove serve --listen …` hosts them at every start,
            and picks up additions and removals while it runs (no restart). A paired machine then adds one with
            `trove store add peer://THIS-MACHINE/NAME`. `--host-store NAME=FOLDER` on `trove serve` hosts one for a
            single run only.
            """,
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Host a store in FOLDER as NAME (made there if there is none).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Its name for peers: 1-64 of a-z, 0-9, - and _.") var name: String
        @Argument(help: "The folder (on the drive it should live on).") var folder: String

        func run() throws {
            try reportingErrors {
                let library = try global.openLibrary(readOnly: true)
                let path = LibraryLocation.absolute(folder)
                try HostedListFile(library: library.path).update { list in
                    if let taken = list.stores.first(where: { $0.name == name }) {
                        guard taken.folder == path else {
                            throw TroveError(.usage, "'\(name)' already names the hosted store in \(taken.folder); remove it first (`trove host remove \(name)`) or choose another name.")
                        }
                        return
                    }
                    // Made (or found) now, so a wrong folder is said here, not by the server later.
                    _ = try HostedStores.open(name: name, folder: path, create: true, now: library.clock.now())
                    list.stores.append(HostedEntry(name: name, folder: path, added: library.clock.now()))
                }
                Output.line("Hosting '\(name)' in \(path) for paired peers; a running `trove serve --listen` serves it at once.")
                Output.line("On a paired machine:  trove store add peer://\(DiskIdentity.machineName())/\(name)")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop hosting a store (a running server stops serving it at once; its folder is left as it is).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Its name (as `trove host list` shows it).") var name: String

        func run() throws {
            try reportingErrors {
                let library = try global.openLibrary(readOnly: true)
                let removed = try HostedListFile(library: library.path).update { list -> HostedEntry? in
                    guard let index = list.stores.firstIndex(where: { $0.name == name }) else { return nil }
                    return list.stores.remove(at: index)
                }
                guard let removed else {
                    throw TroveError(.storeUnknown, "No hosted store is named '\(name)'; `trove host list` shows them.")
                }
                Output.line("No longer hosting '\(name)'. Its objects stay in \(removed.folder); peers that kept copies there should add another store and heal.")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the stores this machine hosts for peers.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            try reportingErrors {
                let library = try global.openLibrary(readOnly: true)
                let entries = try HostedListFile(library: library.path).load().stores
                let rows = entries.map { entry -> HostedJSON in
                    do {
                        let store = try LocalStore.open(at: entry.folder)
                        let space = try? store?.space()
                        return HostedJSON(name: entry.name, folder: entry.folder, added: entry.added, present: store != nil,
                                          problem: store == nil ? "no Trove store there now: is its drive mounted?" : nil,
                                          free: space?.free, capacity: space?.capacity)
                    } catch {
                        return HostedJSON(name: entry.name, folder: entry.folder, added: entry.added, present: false,
                                          problem: "\(error)", free: nil, capacity: nil)
                    }
                }
                if json {
                    Output.json(["stores": rows])
                    return
                }
                if rows.isEmpty {
                    Output.line("This machine hosts no stores for peers. Add one with `trove host add NAME FOLDER`.")
                    return
                }
                var table = [["NAME", "FOLDER", "STATE", "FREE", "ADDED"]]
                for row in rows {
                    table.append([row.name, row.folder, row.problem ?? "ok", row.free.map { formatBytes(UInt64($0)) } ?? "-", Output.date(row.added)])
                }
                Output.line(Output.table(table))
                if rows.contains(where: { !$0.present }) { throw ExitCode(1) }
            }
        }
    }
}

/// A hosted store in `trove host list --json`.
struct HostedJSON: Encodable {
    var name: String
    var folder: String
    var added: Date
    var present: Bool
    var problem: String?
    var free: Int64?
    var capacity: Int64?
}

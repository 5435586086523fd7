import ArgumentParser
import Foundation
import TroveCore
import TroveEngine
import TroveStorage

struct GridCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grid", abstract: "Spread files as k-of-n erasure-coded shares over several stores.",
        discussion: """
            A grid is a store made of other stores: each file is encoded k-of-n (Reed-Solomon, zfec's code) and its n shares go one per member store. Any k members give the file back, so a 3-of-10 grid costs 3.3× the space and survives the loss of any 7 members. Heal places copies on a grid like on any store; `verify --store GRID` checks every share and repairs when an object's good shares fall to the repair threshold.
            """,
        subcommands: [GridCreate.self, GridAdd.self, GridShow.self])
}

struct GridCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Make a grid store over existing stores.",
        discussion: "Every member must be connected. Each keeps the grid's shares in a store of its own inside its .trove folder (or key prefix), apart from its own objects.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The grid's label.") var label: String
    @Option(help: "Shares needed to read a file back.") var k = 3
    @Option(help: "Shares made of each file (one per member; at most 256).") var n = 10
    @Option(help: "Member store labels, comma-separated.") var stores: String
    @Option(help: "Distinct disks an upload must reach to count (default: n, or the members' disks if fewer).") var happy: Int?
    @Option(name: .customLong("repair-at"), help: "Repair a file when its good shares fall to this many (default: halfway between k and n).")
    var repairAt: Int?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        try requireRange(n, 1...256, "n")
        try requireRange(k, 1...n, "k")
    }

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let members = labels(stores)
            let record = try library.createGrid(GridRequest(label: label, k: k, n: n, happy: happy, repairAt: repairAt, members: members))
            if json { Output.json(GridJSON(record, stores: try library.catalog.stores())); return }
            let config = record.config.grid!
            Output.line("Made the grid '\(record.label)': \(config.k)-of-\(config.n) over \(members.joined(separator: ", ")); uploads count on \(config.happy) disks, repair at \(config.repairAt) good shares.")
            Output.line("A file there \(gridSentence(weight: record.copies, members: config.members.count)); run `trove heal` to place copies.")
        }
    }
}

struct GridAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add member stores to a grid; the next heal rebalances shares onto them.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The grid's label.") var label: String
    @Option(help: "Store labels to add, comma-separated.") var stores: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let members = labels(stores)
            let record = try library.addGridMembers(label, members: members)
            if json { Output.json(GridJSON(record, stores: try library.catalog.stores())); return }
            Output.line("Added \(members.joined(separator: ", ")) to the grid '\(record.label)' (\(record.config.grid!.members.count) members); `trove heal` places shares on them.")
        }
    }
}

struct GridShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a grid's parameters and members.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The grid's label.") var label: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary(readOnly: true)
            let record = try library.storeRecord(label)
            guard let config = record.config.grid else { throw TroveError(.usage, "'\(record.label)' is not a grid.") }
            let stores = try library.catalog.stores()
            if json { Output.json(GridJSON(record, stores: stores)); return }
            Output.line("Grid '\(record.label)': \(config.k)-of-\(config.n), uploads count on \(config.happy) disks, repair at \(config.repairAt) good shares\(config.rebalance == true ? ", rebalance pending (run `trove heal`)" : "").")
            Output.line("A new file there \(gridSentence(weight: record.copies, members: config.members.count)).")
            var rows = [["MEMBER", "STATE", "DISK", "LOCATION"]]
            for id in config.members {
                guard let member = stores.first(where: { $0.id == id }) else { continue }
                rows.append([member.label, member.trust.rawValue, member.diskShown ?? "?", member.location])
            }
            Output.line(Output.table(rows))
        }
    }
}

/// Store labels from a comma-separated list.
func labels(_ list: String) -> [String] {
    list.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

/// A grid as `--json` shows it.
struct GridJSON: Encodable {
    struct Member: Encodable {
        var id, label, trust: String
        var domain: String
    }
    var id, label: String
    var k, n, happy, repairAt: Int
    /// What a new copy there is worth (survives weight - 1 member losses).
    var weight: Int
    var rebalancePending: Bool
    var members: [Member]

    init(_ record: StoreRecord, stores: [StoreRecord]) {
        let config = record.config.grid!
        id = record.id; label = record.label; k = config.k; n = config.n; happy = config.happy; repairAt = config.repairAt
        weight = record.copies; rebalancePending = config.rebalance == true
        members = config.members.compactMap { id in stores.first { $0.id == id } }.map {
            Member(id: $0.id, label: $0.label, trust: $0.trust.rawValue, domain: $0.domain)
        }
    }
}

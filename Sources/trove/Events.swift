import ArgumentParser
import Foundation
import TroveCore
import TroveEngine
import TroveStorage

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the data-safety event log (oldest first).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only events of this kind (e.g. corrupt_copy, store_purged).") var kind: String?
    @Option(help: "Only events after this sequence number.") var after: Int64?
    @Option(help: "At most this many events.") var limit: Int?

    func validate() throws {
        try requireRange(limit, 1...Int.max, "limit")
        try requireRange(after, 0...Int64.max, "after")
    }
    @Flag(help: "Print JSON lines, one event per line.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary(readOnly: true)
            var eventKind: EventKind?
            if let kind {
                guard let parsed = EventKind(rawValue: kind) else {
                    throw TroveError(.usage, "Unknown event kind '\(kind)'; known kinds: \(EventKind.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                eventKind = parsed
            }
            let labels = Dictionary(uniqueKeysWithValues: try library.catalog.stores().map { ($0.id, $0.label) })
            for event in try library.catalog.events(after: after, kind: eventKind, limit: limit) {
                if json {
                    Output.json(EventJSON(event, labels: labels), pretty: false)
                } else {
                    let details = event.details.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                    let store = event.storeID.map { " store=\(labels[$0] ?? $0)" } ?? ""
                    let file = event.fileID.map { " file=\($0)" } ?? ""
                    Output.line("\(event.seq ?? 0)  \(Output.date(event.time))  \(event.kind.rawValue)\(store)\(file)  \(details)")
                }
            }
        }
    }
}


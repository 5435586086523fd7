import Foundation
import TroveCore
import TrovePostgres
import TroveStorage

/// What `trove check` found.
public struct CheckReport: Sendable, Codable {
    public var schemaVersion: String
    public var recordsChecked: Int
    public var failures: [ConsistencyFailure]
    public var ok: Bool { failures.isEmpty }
    public init(schemaVersion: String, recordsChecked: Int, failures: [ConsistencyFailure]) {
        self.schemaVersion = schemaVersion
        self.recordsChecked = recordsChecked
        self.failures = failures
    }
}

extension Library {
    /// Validates every record's schema and every file's ID against its size and leaf hashes;
    /// each failure is logged and recorded as an event.
    public func checkCatalog() throws -> CheckReport {
        let result = try catalog.check(progress: { _ in })
        let now = clock.now()
        var changes: [CatalogChange] = result.failures.map { failure in
            logger.error("catalog consistency failure", metadata: [
                "table": "\(failure.table)", "key": "\(failure.key)", "problem": "\(failure.problem)",
            ])
            return .event(Event(time: now, kind: .consistencyFailure, fileID: failure.table == "files" ? ContentID(failure.key) : nil,
                                details: ["table": .text(failure.table), "key": .text(failure.key), "problem": .text(failure.problem)]))
        }
        changes.append(.event(Event(time: now, kind: .checkFinished, details: [
            "records": DetailValue(result.checked), "failures": DetailValue(result.failures.count),
        ])))
        try catalog.apply(changes)
        return CheckReport(schemaVersion: catalog is PostgresCatalog ? PostgresCatalog.schemaVersion : SQLiteCatalog.schemaVersion, recordsChecked: result.checked, failures: result.failures)
    }
}

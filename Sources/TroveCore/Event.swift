import Foundation

/// Kinds of data-safety event in the append-only log.
public enum EventKind: String, Codable, Sendable, CaseIterable {
    case libraryCreated = "library_created"
    case storeAdded = "store_added"
    case storeAdopted = "store_adopted"
    case storeChanged = "store_changed"
    case storeDowngraded = "store_downgraded"
    case storePurged = "store_purged"
    case storeRestored = "store_restored"
    case fileImported = "file_imported"
    case copyCreated = "copy_created"
    case copyRemoved = "copy_removed"
    case copyMissing = "copy_missing"
    case copyVerified = "copy_verified"
    case corruptCopy = "corrupt_copy"
    case writeFailed = "write_failed"
    /// A store stopped answering during a run (timeouts, connection refused, HTTP 5xx): its copies
    /// keep their standing; the run left work undone there.
    case storeUnreachable = "store_unreachable"
    case verifyFinished = "verify_finished"
    case recoveryStarted = "recovery_started"
    case recoveryFinished = "recovery_finished"
    case driveFailureAcknowledged = "drive_failure_acknowledged"
    case consistencyFailure = "consistency_failure"
    case checkFinished = "check_finished"
    case gcFinished = "gc_finished"
    case snapshotCreated = "snapshot_created"
    case snapshotsForgotten = "snapshots_forgotten"
    case snapshotsIndexed = "snapshots_indexed"
    case restoreFinished = "restore_finished"
    case catalogRebuilt = "catalog_rebuilt"
    /// The catalog moved to another database (`trove catalog migrate`).
    case catalogMigrated = "catalog_migrated"
    /// A grid copy's shares were found bad or missing and new ones were written.
    case sharesRepaired = "shares_repaired"
}

/// A value in an event's details: text or a whole number.
public enum DetailValue: Codable, Sendable, Equatable, CustomStringConvertible,
    ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case text(String)
    case number(Int64)

    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .number(value) }
    public init(_ value: Int) { self = .number(Int64(value)) }

    public var description: String {
        switch self {
        case .text(let text): text
        case .number(let number): String(number)
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self) { self = .number(number) } else {
            self = .text(try container.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .number(let number): try container.encode(number)
        }
    }
}

/// One entry of the data-safety event log.
public struct Event: Sendable, Equatable {
    /// Position in the log, assigned by the catalog.
    public var seq: Int64?
    public var time: Date
    public var kind: EventKind
    public var storeID: String?
    public var fileID: ContentID?
    public var details: [String: DetailValue]

    public init(seq: Int64? = nil, time: Date, kind: EventKind, storeID: String? = nil,
                fileID: ContentID? = nil, details: [String: DetailValue] = [:]) {
        self.seq = seq
        self.time = time
        self.kind = kind
        self.storeID = storeID
        self.fileID = fileID
        self.details = details
    }
}

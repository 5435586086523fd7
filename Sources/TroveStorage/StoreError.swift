import TroveCore

/// The closed set of things that can go wrong with a store, whatever its kind. The engine acts
/// on the kind alone: only a leaf that does not hash to its recorded value is corruption, and
/// none of these is.
public struct StoreError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The store does not hold the object.
        case notFound
        /// Cannot be reached now (timeout, connection refused, HTTP 5xx/429, drive unplugged):
        /// retried with backoff, then the store counts as unreachable for this run. Never a
        /// reason to quarantine or downgrade.
        case unavailable
        /// The store is full (or over its quota).
        case noSpace
        /// The store refuses this client (permissions, credentials, read-only mount).
        case permissionDenied
        /// The medium reported an error for these bytes (EIO, a bad sector).
        case media
    }

    public let kind: Kind
    /// One sentence naming the store, what happened and what to do.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// The same failure as a user-facing error with its documented exit code.
    public var troveError: TroveError {
        switch kind {
        case .notFound: TroveError(.noGoodCopy, message)
        case .unavailable: TroveError(.storeNotConnected, message)
        case .noSpace: TroveError(.diskFull, message)
        case .permissionDenied: TroveError(.storeNotWritable, message)
        case .media: TroveError(.io, message)
        }
    }
}

extension TroveError {
    /// Any error as a user-facing one (store errors keep their meaning and exit code).
    public static func from(any error: Error) -> TroveError {
        if let error = error as? TroveError { return error }
        if let error = error as? StoreError { return error.troveError }
        if let error = error as? POSIX.Failure { return from(error) }
        return TroveError(.io, "\(error)")
    }
}

import Foundation
import TroveCore

/// What looking for a known store found.
public enum StoreObservation: Sendable {
    /// The store is there with its identity intact.
    case connected(any Store)
    /// Not reachable now (drive unplugged, machine off, timed out); `reason` says how.
    case missing(reason: String)
    /// The drive it lived on is there (same filesystem UUID) but the store is gone: reformatted or wiped.
    case wiped(reason: String)

    public var store: (any Store)? {
        if case .connected(let store) = self { return store }
        return nil
    }
}

/// Tells why a local store's folder holds no store.
public enum StoreLocator {
    /// The folder is gone (drive not mounted), or it is there on the same drive with the store
    /// gone (reformatted or wiped).
    public static func whyNoLocalStore(_ record: StoreRecord) -> StoreObservation {
        let folder = record.location
        guard let info = try? POSIX.stat(folder), POSIX.isDirectory(info) else {
            return .missing(reason: "\(folder) does not exist (drive not mounted?)")
        }
        if let expected = record.filesystemUUID, let found = FilesystemUUID.of(path: folder), found == expected {
            return .wiped(reason: "the drive \(expected) is mounted at \(folder) but its store is gone (reformatted or wiped)")
        }
        return .missing(reason: "\(folder) holds no Trove store (drive not mounted?)")
    }
}

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

/// Finds the stores the catalog knows about where they were last attached.
public enum StoreLocator {
    /// Looks for a local store at its recorded location and checks its identity.
    public static func observe(_ record: StoreRecord) -> StoreObservation {
        let folder = record.location
        do {
            if let store = try LocalStore.open(at: folder) {
                if store.identity.id == record.id { return .connected(store) }
                return .missing(reason: "\(folder) now holds a different store ('\(store.identity.label)')")
            }
        } catch {
            return .missing(reason: "\(error)")
        }
        guard let info = try? POSIX.stat(folder), POSIX.isDirectory(info) else {
            return .missing(reason: "\(folder) does not exist (drive not mounted?)")
        }
        if let expected = record.filesystemUUID, let found = FilesystemUUID.of(path: folder), found == expected {
            return .wiped(reason: "the drive \(expected) is mounted at \(folder) but its store is gone (reformatted or wiped)")
        }
        return .missing(reason: "\(folder) holds no Trove store (drive not mounted?)")
    }
}

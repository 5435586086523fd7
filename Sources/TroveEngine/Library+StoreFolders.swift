#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import TroveCore
import TroveStorage
import TroveStores

/// Stores' own folders are off limits to imports, snapshots and restores.
extension Library {
    /// The `.trove` folders of the library's local stores (as recorded and with links resolved):
    /// Trove's own objects, off limits to anything a user reads or writes.
    func storeFolders() throws -> [(label: String, folder: String)] {
        try catalog.stores().flatMap { store -> [(label: String, folder: String)] in
            guard let own = StoreRegistry.privateFolder(of: store) else { return [] }
            let resolved = (store.location as NSString).resolvingSymlinksInPath + "/.trove"
            return own == resolved ? [(store.label, own)] : [(store.label, own), (store.label, resolved)]
        }
    }

    /// Refuses a path inside (or equal to) a store's `.trove` folder.
    /// With `resolve` false only the path as given is checked (a caller that checked the resolved
    /// parent already, for each of many entries).
    func refuseStoreFolder(_ path: String, purpose: String, folders: [(label: String, folder: String)]? = nil,
                           resolve: Bool = true) throws {
        let folders = try folders ?? storeFolders()
        let candidates = resolve ? [path, (path as NSString).resolvingSymlinksInPath] : [path]
        for (label, folder) in folders {
            for candidate in candidates where candidate == folder || candidate.hasPrefix(folder + "/") {
                throw TroveError(.usage, "\(NameCodec.display(path)) is inside the store '\(label)' (\(folder)), which holds Trove's own objects; Trove will not \(purpose) it. Pick a folder outside it. Nothing was written.")
            }
        }
    }
}

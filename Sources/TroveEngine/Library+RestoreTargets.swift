#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import TroveCore
import TroveStorage
import TroveStores

/// Where a restore may write: conflicts found before anything is written, no symlinked parents,
/// folders made or replaced as the DEST rule says.
extension Library {
    /// Checks restore targets one at a time before anything is written, keeping only the first
    /// few in the way and a count: without `overwrite` any existing non-folder (or a folder where
    /// the snapshot has something else) is in the way; with it, a folder that still holds files
    /// where the snapshot has a file. Also checks the destination's parent.
    struct RestoreTargetCheck {
        let destination: String
        let overwrite: Bool
        private let library: Library
        private let stores: [(label: String, folder: String)]
        private let resolvedDestination: String
        private var existing: (first: [String], count: Int) = ([], 0)
        private var folders: (first: [String], count: Int) = ([], 0)

        init(library: Library, destination: String, overwrite: Bool) throws {
            let parent = (destination as NSString).deletingLastPathComponent
            guard let info = try POSIX.stat(parent), POSIX.isDirectory(info) else {
                throw TroveError(.pathMissing, "The folder \(parent) does not exist; create it first.")
            }
            self.destination = destination
            self.overwrite = overwrite
            self.library = library
            stores = try library.storeFolders()
            resolvedDestination = (destination as NSString).resolvingSymlinksInPath
        }

        mutating func check(_ type: EntryType, _ relative: String) throws {
            let target = relative.isEmpty ? destination : destination + "/" + relative
            // A snapshot may hold a `.trove` folder: it never lands inside a real store's. Links
            // are resolved once, for the destination (links inside it are refused while writing).
            try library.refuseStoreFolder(target, purpose: "restore into", folders: stores, resolve: false)
            if resolvedDestination != destination {
                try library.refuseStoreFolder(relative.isEmpty ? resolvedDestination : resolvedDestination + "/" + relative,
                                              purpose: "restore into", folders: stores, resolve: false)
            }
            guard let found = try POSIX.stat(target, follow: false) else { return }
            if POSIX.isDirectory(found) {
                // Existing folders are merged into; one in the way of a file goes only when empty.
                if type != .directory && !(overwrite && Library.isEmptyFolder(target)) { Self.note(target, in: &folders) }
            } else if !overwrite {
                Self.note(target, in: &existing)
            }
        }

        private static func note(_ target: String, in list: inout (first: [String], count: Int)) {
            if list.first.count < 3 { list.first.append(target) }
            list.count += 1
        }

        /// Refuses the restore when anything was in the way.
        func finish() throws {
            func shown(_ list: (first: [String], count: Int)) -> String {
                list.first.map(NameCodec.display).joined(separator: ", ") + (list.count > 3 ? " and \(list.count - 3) more" : "")
            }
            if folders.count > 0 {
                let one = folders.count == 1
                throw TroveError(.usage, "\(shown(folders)) \(one ? "is a folder" : "are folders") where the snapshot has a file; move \(one ? "it" : "them") away or restore elsewhere (a folder holding files is never replaced). Nothing was written.")
            }
            if existing.count > 0 {
                throw TroveError(.usage, "\(shown(existing)) already exist\(existing.count == 1 ? "s" : ""); pass --overwrite to replace, or restore to a new folder. Nothing was written.")
            }
        }
    }

    static func isEmptyFolder(_ path: String) -> Bool {
        guard let (_, stream) = POSIX.openFolder(path) else { return false }
        defer { closedir(stream) }
        return POSIX.names(inFolder: stream).isEmpty
    }

    /// Removes a non-folder (or an empty folder) in the way of a new entry; the checks before
    /// writing made sure only `--overwrite` gets here with something in the way.
    func clear(_ target: String) throws {
        guard let found = try POSIX.stat(target, follow: false) else { return }
        do {
            if POSIX.isDirectory(found) { try POSIX.removeFolder(target) } else { try POSIX.unlink(target) }
        } catch let failure as POSIX.Failure {
            throw Self.destinationError(failure, target)
        }
    }

    /// Refuses to write through a symbolic link planted inside the destination.
    func ensureNoSymlinkParents(_ target: String, under destination: String) throws {
        var current = (target as NSString).deletingLastPathComponent
        while current.count >= destination.count && current.hasPrefix(destination) {
            if let info = try POSIX.stat(current, follow: false), POSIX.isSymlink(info) {
                throw TroveError(.corruptData, "Refusing to restore \(NameCodec.display(target)): \(NameCodec.display(current)) is a symbolic link, so the file would land outside \(destination).")
            }
            current = (current as NSString).deletingLastPathComponent
        }
    }

    /// Creates a folder; false when it already existed. With `replacing`, a non-folder in the
    /// way is removed first.
    func makeFolder(_ path: String, replacing: Bool = false, mode: mode_t = 0o700) throws -> Bool {
        if let info = try POSIX.stat(path, follow: false) {
            if POSIX.isDirectory(info) { return false }
            guard replacing else {
                throw TroveError(.usage, "\(NameCodec.display(path)) exists and is not a folder; move it away or restore elsewhere.")
            }
            try clear(path)
        }
        do { try POSIX.mkdir(path, mode: mode); return true } catch let failure as POSIX.Failure {
            if failure.isNoSpace { throw TroveError(.diskFull, "There is no space left to create \(NameCodec.display(path)).") }
            throw TroveError(.storeNotWritable, "Cannot create \(NameCodec.display(path)) (\(failure)); pick a writable destination.")
        }
    }
}

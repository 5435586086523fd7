#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TroveCore
import TroveStorage

/// Where a file's copies are.
public struct WhereIs: Sendable {
    public var file: FileRecord
    public var durability: Int
    public var copies: [Copy]
    public var origins: [ImportRecord]

    public struct Copy: Sendable {
        public var record: CopyRecord
        public var store: StoreRecord
        public var connected: Bool
    }
}

/// What `get` did.
public struct GetReport: Sendable, Codable {
    public var id: String
    public var size: UInt64
    public var to: String
    public var store: String
    /// Copies that turned out corrupt or missing on the way (they were quarantined or dropped).
    public var badCopies: [String]
}

extension Library {
    /// Parses a full ID or a unique prefix of one known to the catalog.
    public func resolveID(_ text: String) throws -> ContentID {
        let lowered = text.lowercased()
        if let id = ContentID(lowered) { return id }
        let valid = !lowered.isEmpty && lowered.utf8.count < ContentID.textLength
            && lowered.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("2"..."7").contains($0) }
        guard valid else {
            throw TroveError(.malformedID, "'\(text)' is not a Trove ID (52 characters a–z and 2–7, or a unique prefix of one); `trove hash FILE` prints a file's ID.")
        }
        guard lowered.utf8.count >= 4 else {
            throw TroveError(.malformedID, "'\(text)' is too short to pick a file; give at least 4 characters of the ID.")
        }
        let matches = try catalog.fileIDs(prefix: lowered, limit: 2)
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty {
            throw TroveError(.unknownFile, "No file in the library has an ID starting with '\(text)'; `trove whereis PATH` finds a file's ID.")
        }
        throw TroveError(.malformedID, "'\(text)' matches several files; give more characters of the ID.")
    }

    /// The catalog record for an ID, or a clear error.
    public func fileRecord(_ id: ContentID) throws -> FileRecord {
        guard let file = try catalog.file(id) else {
            throw TroveError(.unknownFile, "No file with ID \(id) is in the library; `trove whereis PATH` finds a file's ID.")
        }
        return file
    }

    /// Where a file is: by ID, or by a path (hashed if it exists, else looked up among import origins).
    /// With `hashingFiles` false (a request from another machine) an argument is only ever an
    /// ID or an imported path, never a file here to read; `observed` reuses an observation.
    public func whereIs(_ argument: String, hashingFiles: Bool = true, observed: [ObservedStore]? = nil) throws -> [WhereIs] {
        var ids: [ContentID] = []
        let path = LibraryLocation.absolute(argument)
        if hashingFiles, let info = try? POSIX.stat(path), POSIX.isRegular(info) {
            ids = [try Self.hash(path: path, pipeline: pipeline).id]
        } else if hashingFiles, let info = try? POSIX.stat(path), POSIX.isDirectory(info) {
            throw TroveError(.usage, "\(argument) is a folder; give a file or an ID.")
        } else if ContentID(argument.lowercased()) != nil || (try? resolveID(argument)) != nil {
            ids = [try resolveID(argument)]
        } else {
            ids = Array(Set(try catalog.imports(underPath: path).filter { $0.path == path }.map(\.fileID))).sorted()
            if ids.isEmpty {
                throw TroveError(.unknownFile, "\(argument) is neither an existing file, an ID, nor a path Trove imported; check the spelling.")
            }
        }
        let stores = try observed ?? observeStores(try catalog.stores(), cleaning: false)
        return try ids.map { id in
            let file = try fileRecord(id)
            let copies = try catalog.copies(of: id).compactMap { copy -> WhereIs.Copy? in
                guard let observed = stores.first(where: { $0.record.id == copy.storeID }) else { return nil }
                return WhereIs.Copy(record: copy, store: observed.record, connected: observed.isConnected)
            }
            let durability = TroveCore.durability(of: copies.map { $0.store.counted(weight: $0.record.copies) })
            return WhereIs(file: file, durability: durability, copies: copies, origins: try catalog.imports(of: id))
        }
    }

    /// Reads a file back from the best connected copy, verifying every leaf; corrupt copies are
    /// quarantined and the next copy is tried. The destination appears only when fully verified.
    public func get(_ idText: String, to rawDestination: String, overwrite: Bool = false,
                    progress: any ProgressReporter = SilentProgress()) throws -> GetReport {
        let id = try resolveID(idText)
        let file = try fileRecord(id)
        let destination = LibraryLocation.absolute(rawDestination)
        try refuseStoreFolder(destination, purpose: "write into")
        if let info = try POSIX.stat(destination) {
            if POSIX.isDirectory(info) {
                throw TroveError(.usage, "\(rawDestination) is a folder; give the file name to write, e.g. \(rawDestination)/name.")
            }
            if !overwrite { throw TroveError(.usage, "\(rawDestination) already exists; pass --overwrite to replace it.") }
        }
        let folder = (destination as NSString).deletingLastPathComponent
        guard let folderInfo = try POSIX.stat(folder), POSIX.isDirectory(folderInfo) else {
            throw TroveError(.pathMissing, "The folder \(folder) does not exist; create it first.")
        }
        progress.begin("get", total: file.size, unit: .bytes)
        defer { progress.finish() }
        let written = try writeVerified(file, to: destination, sparse: true, progress: { progress.update(done: $0) })
        return GetReport(id: id.description, size: file.size, to: destination, store: written.store, badCopies: written.bad)
    }

    /// What `writeVerified` did.
    struct Written {
        /// The store the good copy came from.
        var store: String
        /// Copies found missing or corrupt on the way.
        var bad: [String]
        /// Metadata `finish` could not set.
        var problems: [String] = []
    }

    /// Writes a verified copy of a file to `destination`: bytes go to a temporary sibling (a short
    /// name, so a 255-byte destination name still fits), every leaf is checked, `finish` gives the
    /// open file its metadata, the file is fsynced and renamed into place. With `sparse`, blocks
    /// of zeros become holes. Connected copies are tried best first; bad ones are quarantined.
    /// With `stores` (observed once by a caller restoring many files) no store is re-opened, and
    /// with `sync` false the caller makes the files durable together (one filesystem sync).
    func writeVerified(_ file: FileRecord, to destination: String, sparse: Bool = false,
                       finish: ((Int32, String) -> [String])? = nil,
                       stores: [ObservedStore]? = nil, sync: Bool = true,
                       progress: ((UInt64) -> Void)? = nil) throws -> Written {
        let id = file.id
        let folder = (destination as NSString).deletingLastPathComponent
        let copies = try catalog.copies(of: id)
        let holding: [ObservedStore]
        if let stores {
            holding = stores.filter { item in copies.contains { $0.storeID == item.record.id } }
        } else {
            let records = try catalog.stores()
            holding = try observeStores(records.filter { record in copies.contains { $0.storeID == record.id } })
        }
        // Trusted stores first, then the one that would deliver soonest (reads spread over the
        // drives and machines that hold the file).
        let connected = holding.filter(\.isConnected)
        let ordered = readOrder(readLoad.sources(connected.map(\.record)), size: file.size).compactMap { id in
            connected.first { $0.record.id == id }
        }
        var bad: [String] = []
        for observed in ordered {
            guard let store = observed.store else { continue }
            // A fresh, unguessable name created exclusively: nothing planted there is followed or reused.
            let tmp = Self.temporaryName(in: folder)
            let writer: SequentialFileWriter
            var problems: [String] = []
            do {
                writer = try SequentialFileWriter.create(tmp, flags: O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600,
                                                         size: file.size, in: folder, sparse: sparse)
            } catch let failure as POSIX.Failure {
                throw Self.destinationError(failure, destination)
            }
            let fd = writer.fd
            let verdict: CopyCheck
            do {
                verdict = try readLoad.reading(observed.record.id, bytes: file.size, {
                    try check(file, on: store, sink: { _, bytes in try writer.write(bytes) }, progress: progress)
                }, delivered: { $0 == .good })
                if verdict == .good {
                    try writer.finish()
                    if let finish { problems = finish(fd, destination) }
                    if sync { try POSIX.fsync(fd, path: tmp) }
                }
            } catch let sinkFailure as SinkFailure {
                close(fd)
                try? POSIX.unlink(tmp)
                throw Self.destinationError((sinkFailure.underlying as? POSIX.Failure)
                    ?? POSIX.Failure(errno: EIO, operation: "write", path: tmp), destination)
            } catch let failure as POSIX.Failure {
                close(fd)
                try? POSIX.unlink(tmp)
                throw Self.destinationError(failure, destination)
            } catch {
                close(fd)
                try? POSIX.unlink(tmp)
                throw error
            }
            close(fd)
            switch verdict {
            case .good:
                do { try POSIX.rename(tmp, destination) } catch let failure as POSIX.Failure {
                    try? POSIX.unlink(tmp)
                    throw Self.destinationError(failure, destination)
                }
                if sync {
                    try? POSIX.fsyncDirectory(folder)
                    try markVerified(id, on: observed.record)
                }
                return Written(store: observed.record.label, bad: bad, problems: problems)
            case .missing, .corrupt, .unreadable, .unavailable:
                try? POSIX.unlink(tmp)
                bad.append("\(observed.record.label): \(verdict.summary)")
                try settle(verdict, of: file, on: observed)
            }
        }
        let where_ = holding.map(\.record.label).joined(separator: ", ")
        throw TroveError(.noGoodCopy, bad.isEmpty
            ? "No connected store holds \(id); its copies are on: \(where_.isEmpty ? "no store" : where_). Plug in one of those drives and retry."
            : "Every connected copy of \(id) was bad (\(bad.joined(separator: "; "))); bad copies were quarantined. Plug in another drive that holds it (\(where_)) and retry.")
    }

    /// A fresh, unguessable temporary name in `folder`, short whatever the final name's length;
    /// it carries the writer's PID so a later run can tell a killed writer's leftover.
    static func temporaryName(in folder: String) -> String {
        "\(folder)/.trove-\(WriterTag.make()).tmp"
    }

    /// Removes temporaries a killed Trove left in `folder` (their process is gone); returns how many.
    @discardableResult
    static func removeStaleTemporaries(in folder: String) -> Int {
        guard let (_, stream) = POSIX.openFolder(folder) else { return 0 }
        let names = POSIX.names(inFolder: stream)
        closedir(stream)
        var removed = 0
        // Only this machine's (a restore on another machine may share the folder), and only
        // those of processes that are gone.
        for name in names where name.hasPrefix(".trove-") && name.hasSuffix(".tmp")
            && WriterTag.writerIsGone(name.dropFirst(7).dropLast(4)) == true {
            if (try? POSIX.unlink(folder + "/" + name)) != nil { removed += 1 }
        }
        return removed
    }

    /// What went wrong writing a file the user asked for, and what to do.
    static func destinationError(_ failure: POSIX.Failure, _ destination: String) -> TroveError {
        if failure.isNoSpace { return TroveError(.diskFull, "There is no space left to write \(destination); free some space and retry.") }
        if failure.isPermission { return TroveError(.storeNotWritable, "Cannot write \(destination) (\(failure)); pick a writable destination.") }
        return TroveError(.io, "Writing \(destination) failed: \(failure).")
    }

    /// Hashes a file on disk without importing it.
    public static func hash(path: String, pipeline: LeafPipeline = LeafPipeline(),
                            progress: ((UInt64) -> Void)? = nil) throws -> LeafPipeline.Result {
        let fd: Int32
        do { fd = try POSIX.open(path, O_RDONLY) } catch let failure as POSIX.Failure {
            if failure.isMissing { throw TroveError(.pathMissing, "\(path) does not exist; check the path.") }
            throw TroveError(.pathUnreadable, "\(path) cannot be read (\(failure)); check its permissions.")
        }
        defer { close(fd) }
        var info = stat()
        fstat(fd, &info)
        if POSIX.isDirectory(info) { throw TroveError(.usage, "\(path) is a folder; `trove hash` takes files.") }
        posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        do {
            return try pipeline.run(source: { try POSIX.readFully(fd, into: $0, path: path) }, progress: progress)
        } catch let failure as POSIX.Failure {
            throw TroveError(.io, "Reading \(path) failed: \(failure).")
        }
    }
}

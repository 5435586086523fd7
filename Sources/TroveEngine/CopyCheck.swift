#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TroveCore
import TroveStorage

/// The verdict on one physical copy after re-hashing it.
public enum CopyCheck: Sendable, Equatable {
    case good
    /// The store does not hold the object.
    case missing
    /// Bytes differ from the ID: `leaf` names the first bad leaf when one could be named.
    case corrupt(leaf: Int?, reason: String)
}

/// Wraps an error of the sink so it passes through the copy's verdict untouched.
struct SinkFailure: Error {
    let underlying: Error
}

/// Thrown inside the pipeline when a leaf's hash differs from the catalog's.
struct LeafMismatch: Error {
    let leaf: Int
}

extension Library {
    /// Re-hashes one copy leaf by leaf against the catalog's leaf hashes, optionally passing the
    /// bytes to `sink` (which must discard them if the verdict is not `.good`). Errors of the sink
    /// come back wrapped in `SinkFailure` so callers can tell the destination from the source.
    /// `fromMedia` (verify, scrub, a freshly written copy) reads the drive, not a cache of it.
    func check(_ file: FileRecord, on store: any Store, fromMedia: Bool = false,
               sink: ((Int, UnsafeRawBufferPointer) throws -> Void)? = nil,
               progress: ((UInt64) -> Void)? = nil) throws -> CopyCheck {
        guard try store.objectSize(file.id) != nil else { return .missing }
        let reader: any ObjectReader
        do { reader = try store.openReader(file.id, fromMedia: fromMedia) } catch let error as TroveError where error.code == .io {
            return .corrupt(leaf: nil, reason: "cannot be opened: \(error.message)")
        }
        defer { reader.close() }
        let expected = file.leafHashes
        let result: LeafPipeline.Result
        // Errors of the sink (the destination) must not be blamed on this copy.
        let sink = sink.map { body in
            { (index: Int, bytes: UnsafeRawBufferPointer) throws in
                do { try body(index, bytes) } catch { throw SinkFailure(underlying: error) }
            }
        }
        do {
            result = try pipeline.run(source: { try reader.read(into: $0) }, sink: sink, onLeaf: { index, hash in
                if index >= expected.count || expected[index] != hash { throw LeafMismatch(leaf: index) }
            }, progress: progress)
        } catch let failure as SinkFailure {
            throw failure
        } catch let mismatch as LeafMismatch {
            return .corrupt(leaf: mismatch.leaf, reason: "leaf \(mismatch.leaf) does not match its hash")
        } catch let error as TroveError where error.code == .io {
            return .corrupt(leaf: nil, reason: "read error: \(error.message)")
        } catch let failure as POSIX.Failure {
            if [ENOENT, ENODEV, ENXIO, ESTALE, ENOTCONN].contains(failure.errno) {
                throw TroveError(.storeNotConnected, "The drive holding '\(store.identity.label)' went away while reading (\(failure)); plug it back in and retry.")
            }
            return .corrupt(leaf: nil, reason: "read error: \(failure)")
        }
        if result.size != file.size {
            let leaf = min(result.leaves.count, expected.count)
            return .corrupt(leaf: leaf, reason: "it holds \(result.size) bytes, expected \(file.size)")
        }
        return .good
    }

    /// Quarantines a bad copy and records what happened: the copy leaves the catalog, the event
    /// names the leaf and the drive, and the store is downgraded and gets no new copies.
    func handleCorruption(_ file: FileRecord, on observed: ObservedStore, leaf: Int?, reason: String) throws {
        guard let store = observed.store else { return }
        let quarantined = (try? store.quarantine(file.id)) ?? "(could not be moved: remove it by hand)"
        let now = clock.now()
        var record = observed.record
        var details: [String: DetailValue] = [
            "reason": .text(reason), "location": .text(record.location), "quarantined_to": .text(quarantined),
        ]
        if let leaf { details["leaf"] = DetailValue(leaf) }
        if let uuid = record.filesystemUUID { details["filesystem_uuid"] = .text(uuid) }
        var changes: [CatalogChange] = [
            .removeCopy(file: file.id, store: record.id),
            .event(Event(time: now, kind: .corruptCopy, storeID: record.id, fileID: file.id, details: details)),
        ]
        let current = try catalog.stores().first { $0.id == record.id } ?? record
        record = current
        if record.trust == .trusted || !record.noNewCopies {
            let count = try catalog.copies(onStore: record.id).count - 1
            record.trust = record.trust == .purged ? .purged : .downgraded
            record.noNewCopies = true
            changes.append(.saveStore(record))
            changes.append(.event(Event(time: now, kind: .storeDowngraded, storeID: record.id, details: [
                "reason": "corrupt copy found: suspected failing drive", "count": DetailValue(max(0, count)),
            ])))
        }
        try catalog.apply(changes)
        logger.error("corrupt copy quarantined", metadata: [
            "file": "\(file.id)", "store": "\(record.label)", "leaf": "\(leaf.map(String.init) ?? "-")", "reason": "\(reason)",
        ])
    }
}

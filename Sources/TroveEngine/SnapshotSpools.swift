import Dispatch
import Foundation
import TroveCore
import TroveStorage

/// The two spool files of a snapshot (manifest lines, and entries for the index), written on
/// another thread: a settled window is encoded while the walk goes on with the next. Encoding
/// was a seventh of an unchanged snapshot's main thread. At most two windows wait, so memory
/// still holds a bounded number of entries however big the tree.
final class SnapshotSpools: @unchecked Sendable {
    private let lines: SpoolFile
    private let entries: EntrySpool
    private let queue = DispatchQueue(label: "trove.snapshot.spools")
    private let room = DispatchSemaphore(value: 2)
    private let lock = NSLock()
    /// The first write that failed; later windows are dropped and the snapshot fails with it.
    private var failure: (any Error)?

    init(in folder: String) throws {
        lines = try SpoolFile(in: folder)
        entries = try EntrySpool(in: folder)
    }

    /// Hands over a settled window: its entries in path order, each with its version in the
    /// parent snapshot when it has one.
    func write(_ window: [SnapshotEntry], parents: [SnapshotVersion?]) throws {
        try rethrow()
        room.wait()
        queue.async { [self] in
            defer { room.signal() }
            guard lock.withLock({ failure == nil }) else { return }
            do {
                var line: [UInt8] = []
                for (entry, previous) in zip(window, parents) {
                    line.removeAll(keepingCapacity: true)
                    Manifest.appendLine(entry, to: &line)
                    try lines.append(line)
                    try entries.append(entry, link: previous?.link(to: entry))
                }
            } catch {
                lock.withLock { failure = failure ?? error }
            }
        }
    }

    /// The manifest lines and their length in bytes, once every window is written.
    func manifestLines() throws -> (reader: SpoolFile.Reader, size: UInt64) {
        try finish()
        return (try lines.reader(), lines.size)
    }

    /// The entries, once every window is written.
    func indexEntries() throws -> EntrySpool.Reader {
        try finish()
        return try entries.reader()
    }

    /// Waits for every window handed over; throws the first write that failed.
    private func finish() throws {
        queue.sync {}
        try rethrow()
    }

    private func rethrow() throws {
        if let error = lock.withLock({ failure }) { throw error }
    }
}

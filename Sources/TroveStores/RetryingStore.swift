import Foundation
import TroveCore
import TroveStorage

/// Retries calls that fail as unavailable, with backoff and jitter, before giving up. A read
/// that fails part-way resumes where it stopped (a ranged read from the next byte), so a long
/// transfer is not restarted for one dropped connection. Writes are not retried here: their
/// bytes have gone; kinds that can resume a write (S3 parts) retry inside.
public final class RetryingStore: Store, @unchecked Sendable {
    public let base: any Store
    let backoff: RetryPolicy
    let sleep: @Sendable (TimeInterval) -> Void

    public init(_ base: any Store, backoff: RetryPolicy = RetryPolicy(),
                sleep: @escaping @Sendable (TimeInterval) -> Void = { Thread.sleep(forTimeInterval: $0) }) {
        self.base = base
        self.backoff = backoff
        self.sleep = sleep
    }

    /// Runs `body`, retrying unavailable failures while `allowed()` says so, counting tries in
    /// `attempt` (shared by a reader across its re-opens, so a read has one budget).
    func retrying<T>(attempt: inout Int, while allowed: () -> Bool = { true }, _ body: () throws -> T) throws -> T {
        while true {
            do { return try body() } catch let error as StoreError where error.kind == .unavailable && attempt < backoff.attempts && allowed() {
                sleep(backoff.delay(attempt: attempt, random: Double.random(in: 0..<1)))
                attempt += 1
            }
        }
    }

    /// Runs `body` with a budget of its own.
    func retrying<T>(_ body: () throws -> T) throws -> T {
        var attempt = 1
        return try retrying(attempt: &attempt, body)
    }

    public var identity: StoreIdentity { base.identity }
    public var location: String { base.location }
    public func objectSize(_ id: ContentID) throws -> UInt64? { try retrying { try base.objectSize(id) } }
    public func makeWriter(for id: ContentID?, expectedSize: UInt64?) throws -> ObjectWriter {
        try retrying { try base.makeWriter(for: id, expectedSize: expectedSize) }
    }
    public func openReader(_ id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws -> ObjectReader {
        let reader = try retrying { try base.openReader(id, range: range, fromMedia: fromMedia) }
        let range = range ?? 0..<reader.size
        return ResumingReader(store: self, id: id, base: reader, position: range.lowerBound,
                              end: min(range.upperBound, reader.size), fromMedia: fromMedia)
    }
    public func quarantine(_ id: ContentID) throws -> String { try retrying { try base.quarantine(id) } }
    public func remove(_ id: ContentID) throws { try retrying { try base.remove(id) } }
    /// A listing is retried from the start only while it has delivered nothing (a listing that
    /// failed part-way is reported, still as unavailable, rather than delivering IDs twice).
    public func listObjects(_ body: (ContentID) throws -> Bool) throws {
        var delivered = false
        var attempt = 1
        try retrying(attempt: &attempt, while: { !delivered }) { try base.listObjects { delivered = true; return try body($0) } }
    }
    public func space() throws -> StoreSpace? { try retrying { try base.space() } }
    public func isReadOnly() -> Bool { base.isReadOnly() }
    public var checksWritesOnArrival: Bool { base.checksWritesOnArrival }
    public var hostMachine: String? { base.hostMachine }
    public var commitsEachAlone: Bool { base.commitsEachAlone }
    public var remoteVerifier: RemoteVerifier? { base.remoteVerifier }
    public func disk() -> DiskIdentity.Disk? { base.disk() }
    public func cleanTemporary() throws -> Int { try retrying { try base.cleanTemporary() } }
    public func readRecord(_ name: RecordName) throws -> [UInt8]? { try retrying { try base.readRecord(name) } }
    /// Replacing a record is idempotent, so a failed replace is simply tried again.
    public func writeRecord(_ name: RecordName, _ bytes: [UInt8]) throws { try retrying { try base.writeRecord(name, bytes) } }
    /// Not retried: a first try that landed would make the retry answer false.
    public func createRecord(_ name: RecordName, _ bytes: [UInt8]) throws -> Bool { try base.createRecord(name, bytes) }
    public func removeRecord(_ name: RecordName) throws { try retrying { try base.removeRecord(name) } }
    public func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws { try base.commitBatch(items) }

    /// Reads on; after an unavailable failure, re-opens the object from the next byte.
    final class ResumingReader: ObjectReader {
        let store: RetryingStore
        let id: ContentID
        var base: ObjectReader
        var position: UInt64
        let end: UInt64
        let fromMedia: Bool
        init(store: RetryingStore, id: ContentID, base: ObjectReader, position: UInt64, end: UInt64, fromMedia: Bool) {
            self.store = store
            self.id = id
            self.base = base
            self.position = position
            self.end = end
            self.fromMedia = fromMedia
        }
        var size: UInt64 { base.size }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            var attempt = 1
            var reopen = false
            return try store.retrying(attempt: &attempt) {
                // After a failure the old reader may have consumed bytes it never delivered: it is
                // never read again; a new one starts at the first byte not yet delivered.
                if reopen {
                    base.close()
                    base = try store.base.openReader(id, range: position..<end, fromMedia: fromMedia)
                }
                reopen = true
                let n = try base.read(into: buffer)
                position += UInt64(n)
                return n
            }
        }
        func close() { base.close() }
    }
}

import Dispatch
import Foundation
import TroveCore
import TroveS3
import TroveStorage

/// Uploads one object. With its ID known up front, bytes go out as parts of a multipart upload
/// while they are written (a few parts in flight, so memory stays bounded whatever the size);
/// a small object is one PUT. Without the ID, bytes beyond one part wait in an unlinked
/// temporary file until `commit(as:)` names the key. Either way the object appears under its key
/// only when complete, and never replaces one already there (`If-None-Match: *`).
final class S3ObjectWriter: ObjectWriter, @unchecked Sendable {
    let store: S3Store
    private var id: ContentID?
    private var buffer: [UInt8] = []
    private var spool: FileHandle?
    private var upload: String?
    private let lock = NSLock()
    private var failure: Error?
    private let inFlight = DispatchGroup()
    private let slots = DispatchSemaphore(value: S3Store.partsInFlight)
    private var done = false

    /// Bytes per part: 8 MiB, or more for objects so large that 10,000 parts (S3's limit) would not hold them.
    private var partSize: Int

    init(store: S3Store, id: ContentID?, expectedSize: UInt64?) {
        self.store = store
        self.id = id
        partSize = S3Store.partSize(for: expectedSize)
        buffer.reserveCapacity(partSize)
    }

    deinit { if !done { abort() } }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            // A full part goes out only once more bytes follow, so an object of exactly one part is one PUT.
            if buffer.count == partSize { try flushFullPart() }
            let take = min(partSize - buffer.count, bytes.count - offset)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + take]))
            offset += take
        }
    }

    /// Bytes waiting in the spool.
    private var spooled: UInt64 = 0

    private func flushFullPart() throws {
        if id != nil {
            try send(part: buffer)
        } else {
            if spool == nil { spool = try store.temporaryFile() }
            do { try spool!.write(contentsOf: buffer) } catch {
                throw StoreError(.noSpace, "Cannot stage an upload to \(store.location) in \(store.spoolFolder) (\(error)); free some space there.")
            }
            spooled += UInt64(buffer.count)
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Starts the upload if needed and sends one part in the background (waiting for a slot).
    private func send(part: [UInt8]) throws {
        if let error = lock.withLock({ failure }) { throw error }
        guard let id else { return }
        let key = store.key(id)
        if upload == nil { upload = try store.request { try store.client.createMultipart(key) } }
        let number = lock.withLock { pendingCount += 1; return pendingCount }
        let uploadID = upload!
        slots.wait()
        inFlight.enter()
        DispatchQueue.global().async { [store, slots, inFlight] in
            defer { slots.signal(); inFlight.leave() }
            do {
                let etag = try store.request { try store.client.uploadPart(key, uploadID: uploadID, part: number, body: part) }
                self.lock.withLock { self.completed.append((number, etag)) }
            } catch {
                self.lock.withLock { if self.failure == nil { self.failure = error } }
            }
        }
    }

    private var pendingCount = 0
    private var completed: [(number: Int, etag: String)] = []

    func commit(as id: ContentID) throws {
        precondition(self.id == nil || self.id == id, "an S3 writer commits under the ID it was made for")
        defer { done = true }
        do {
            if self.id == nil {
                self.id = id
                if let spool {
                    // The parts waiting in the spool go first, then what is left in the buffer.
                    let tail = buffer
                    buffer = []
                    do {
                        try spool.seek(toOffset: 0)
                        while let chunk = try spool.read(upToCount: partSize), !chunk.isEmpty { try send(part: Array(chunk)) }
                    } catch let error as StoreError {
                        throw error
                    } catch {
                        throw StoreError(.media, "Cannot read back the upload staged in \(store.spoolFolder) (\(error)).")
                    }
                    buffer = tail
                    try? spool.close()
                    self.spool = nil
                }
            }
            let key = store.key(id)
            guard let uploadID = upload else {
                // Small enough for one request; an object already there stays (same ID, same bytes).
                try store.request { _ = try store.client.put(key, body: buffer, ifNoneMatch: true) }
                return
            }
            if !buffer.isEmpty { try send(part: buffer) }
            inFlight.wait()
            if let error = lock.withLock({ failure }) { throw error }
            let finished = lock.withLock { completed.sorted { $0.number < $1.number } }
            try store.request { _ = try store.client.completeMultipart(key, uploadID: uploadID, parts: finished, ifNoneMatch: true) }
            upload = nil
        } catch {
            abort()
            throw error
        }
    }

    func abort() {
        done = true
        inFlight.wait()
        if let upload, let id { try? store.client.abortMultipart(store.key(id), uploadID: upload) }
        upload = nil
        try? spool?.close()
        spool = nil
        buffer = []
    }

}

/// Reads a range with ranged GETs of at most one part, fetching the next while the caller
/// works on the current one.
final class S3ObjectReader: ObjectReader {
    let store: S3Store
    let key: String
    let size: UInt64
    private var position: UInt64
    private let end: UInt64
    private var current: [UInt8] = []
    private var currentStart: UInt64 = 0
    private var next: (start: UInt64, group: DispatchGroup, box: FetchBox)?

    final class FetchBox: @unchecked Sendable { var result: Result<[UInt8], Error>? }

    init(store: S3Store, key: String, size: UInt64, range: Range<UInt64>) {
        self.store = store
        self.key = key
        self.size = size
        position = range.lowerBound
        end = range.upperBound
    }

    private func fetch(_ start: UInt64) -> (start: UInt64, group: DispatchGroup, box: FetchBox) {
        let group = DispatchGroup()
        let box = FetchBox()
        let range = start..<min(end, start + UInt64(S3Store.partSize))
        group.enter()
        DispatchQueue.global().async { [store, key] in
            box.result = Result { try store.request { try store.client.get(key, range: range) } }
            group.leave()
        }
        return (start, group, box)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count && position < end {
            if position >= currentStart + UInt64(current.count) || position < currentStart {
                let pending = (next?.start == position ? next : nil) ?? fetch(position)
                pending.group.wait()
                current = try pending.box.result!.get()
                currentStart = position
                next = nil
                guard !current.isEmpty else { throw StoreError(.unavailable, "\(store.location): \(key) ended early while read.") }
                let following = currentStart + UInt64(current.count)
                if following < end { next = fetch(following) }
            }
            let from = Int(position - currentStart)
            let take = min(buffer.count - done, current.count - from)
            current.withUnsafeBytes { source in
                buffer.baseAddress!.advanced(by: done).copyMemory(from: source.baseAddress!.advanced(by: from), byteCount: take)
            }
            done += take
            position += UInt64(take)
        }
        return done
    }

    func close() {
        next?.group.wait()
        next = nil
    }
}

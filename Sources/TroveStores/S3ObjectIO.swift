import Dispatch
import Foundation
import NIOCore
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
        // A small object reserves only its own size: a batch holds many writers at once.
        buffer.reserveCapacity(min(partSize, Int(min(expectedSize ?? UInt64(partSize), UInt64(partSize)))))
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
    private func send(part: consuming [UInt8]) throws {
        if let error = lock.withLock({ failure }) { throw error }
        guard let id else { return }
        let key = store.key(id)
        if upload == nil { upload = try store.request { try store.client.createMultipart(key) } }
        let number = lock.withLock { pendingCount += 1; return pendingCount }
        let uploadID = upload!
        slots.wait()
        // Into the buffer the HTTP client sends, once; the caller's array is free again at once.
        let body = ByteBuffer(bytes: part)
        runDetached(inFlight) { [store, slots] in
            defer { slots.signal() }
            do {
                let etag = try store.request { try store.client.uploadPart(key, uploadID: uploadID, part: number, buffer: body) }
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

/// Reads a range with ranged GETs of at most one part, keeping a few of the following parts
/// in flight while the caller works on the current one (reads are bound by round trips).
final class S3ObjectReader: ObjectReader {
    let store: S3Store
    let key: String
    let size: UInt64
    private var position: UInt64
    private let end: UInt64
    private var current: [UInt8] = []
    private var currentStart: UInt64 = 0
    /// Parts requested ahead, in order.
    private var ahead: [(start: UInt64, group: DispatchGroup, box: FetchBox)] = []
    /// Where the next part to request starts.
    private var requested: UInt64
    static let depth = 3

    final class FetchBox: @unchecked Sendable { var result: Result<[UInt8], Error>? }

    /// `first`: the bytes from the range's start that came with the size.
    init(store: S3Store, key: String, size: UInt64, range: Range<UInt64>, first: [UInt8]) {
        self.store = store
        self.key = key
        self.size = size
        position = range.lowerBound
        end = range.upperBound
        current = Array(first.prefix(Int(range.count)))
        currentStart = range.lowerBound
        requested = currentStart + UInt64(current.count)
        if !current.isEmpty { fillAhead() }
    }

    private func fillAhead() {
        while ahead.count < Self.depth && requested < end {
            let range = requested..<min(end, requested + UInt64(S3Store.partSize))
            let group = DispatchGroup()
            let box = FetchBox()
            runDetached(group) { [store, key] in
                box.result = Result { try store.request { try store.client.get(key, range: range) } }
            }
            ahead.append((range.lowerBound, group, box))
            requested = range.upperBound
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count && position < end {
            if position >= currentStart + UInt64(current.count) {
                if ahead.isEmpty || ahead[0].start != position {
                    for part in ahead { part.group.wait() }
                    ahead = []
                    requested = position
                }
                fillAhead()
                let part = ahead.removeFirst()
                part.group.wait()
                current = try part.box.result!.get()
                currentStart = part.start
                guard !current.isEmpty else { throw StoreError(.unavailable, "\(store.location): \(key) ended early while read.") }
                fillAhead()
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
        for part in ahead { part.group.wait() }
        ahead = []
    }
}

import Foundation
import NIOCore
import NIOHTTP1
import TroveCore
import TroveStorage

/// Uploads one object to a peer. An object of at most one part is one PUT with its ID. A larger
/// one is an upload on the server: each full part goes out as soon as it is written, on a thread
/// of its own while the next part fills (memory stays two parts), and a part whose connection
/// dropped is sent again from where the server says it stopped, so a transfer resumes per part
/// (a leaf) rather than from the start. At `commit(as:)` the server hashes what it holds and
/// takes it only when it matches the ID.
final class PeerObjectWriter: ObjectWriter, @unchecked Sendable {
    let store: PeerStore
    private var buffer: ByteBuffer
    private var upload: String?
    /// Bytes the server has taken, and the part on its way (if any).
    private var sent: UInt64 = 0
    private var inFlight: (group: DispatchGroup, failure: FirstError, bytes: Int)?
    private var done = false

    init(store: PeerStore, expectedSize: UInt64?) {
        self.store = store
        buffer = ByteBuffer()
        buffer.reserveCapacity(Int(min(expectedSize ?? UInt64(PeerStore.partSize), UInt64(PeerStore.partSize))))
    }

    deinit { if !done { abort() } }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            // A full part goes out only once more bytes follow, so a one-part object is one PUT.
            if buffer.readableBytes == PeerStore.partSize { try startPart() }
            let take = min(PeerStore.partSize - buffer.readableBytes, bytes.count - offset)
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + take]))
            offset += take
        }
    }

    private var uploadPath: String { store.base + "/uploads/" + (upload ?? "") }

    /// Sends the buffered part in the background once the previous one has landed.
    private func startPart() throws {
        try finishPart()
        if upload == nil {
            upload = try store.client.json(UploadState.self, .POST, store.base + "/uploads").upload
        }
        let part = buffer
        buffer = ByteBuffer()
        buffer.reserveCapacity(PeerStore.partSize)
        let group = DispatchGroup()
        let failure = FirstError()
        let (path, offset) = (uploadPath, sent)
        runDetached(group) { [store] in
            do { try Self.send(part, at: offset, to: path, store: store) } catch { failure.record(error) }
        }
        inFlight = (group, failure, part.readableBytes)
    }

    /// Waits for the part on its way; its failure is this writer's.
    private func finishPart() throws {
        guard let (group, failure, bytes) = inFlight else { return }
        inFlight = nil
        group.wait()
        if let error = failure.value { throw error }
        sent += UInt64(bytes)
    }

    /// Puts one part at `offset`, resuming after a dropped connection from the server's count.
    private static func send(_ part: ByteBuffer, at offset: UInt64, to path: String, store: PeerStore) throws {
        var tries = 0
        while true {
            do {
                _ = try store.client.send(.PUT, path + "?offset=\(offset)", body: part, attempts: 1)
                return
            } catch let error as StoreError where error.kind == .unavailable && tries < 5 {
                tries += 1
                Thread.sleep(forTimeInterval: [0.2, 0.5, 1, 2, 4][tries - 1])
                // The part may have landed before the connection dropped.
                guard let state = try? store.client.json(UploadState.self, .GET, path) else { continue }
                if state.received == offset + UInt64(part.readableBytes) { return }
                guard state.received == offset else {
                    throw StoreError(.media, "'\(store.client.peer.label)' holds \(state.received) bytes of an upload this machine sent \(offset) bytes of; the upload is abandoned.")
                }
            }
        }
    }

    func commit(as id: ContentID) throws {
        defer { done = true }
        if upload == nil {
            _ = try store.client.send(.PUT, store.objectPath(id), body: buffer)
        } else {
            if buffer.readableBytes > 0 { try startPart() }
            try finishPart()
            // The server hashes the whole upload before it answers (at 20 MB/s at worst).
            _ = try store.client.send(.POST, uploadPath + "/commit?id=\(id)", maxBody: 1 << 16, serverWork: Double(sent) / 20e6)
        }
        buffer = ByteBuffer()
    }

    func abort() {
        done = true
        buffer = ByteBuffer()
        // A part on its way lands or fails first, so the upload is not deleted under it.
        if let (group, _, _) = inFlight { group.wait() }
        inFlight = nil
        if upload != nil { _ = try? store.client.send(.DELETE, uploadPath, attempts: 1) }
        upload = nil
    }
}

/// Reads an object (or a range) from a peer, a part at a time. Each answer must be exactly the
/// bytes asked for; a server sending more, fewer, or a size that changes is reported at once.
final class PeerObjectReader: ObjectReader, @unchecked Sendable {
    let store: PeerStore
    let id: ContentID
    let size: UInt64
    let fromMedia: Bool
    private var position: UInt64
    private let end: UInt64
    private var chunk: [UInt8]
    private var chunkOffset = 0

    init(store: PeerStore, id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws {
        self.store = store
        self.id = id
        self.fromMedia = fromMedia
        let start = range?.lowerBound ?? 0
        let wanted = start..<min(range?.upperBound ?? .max, start + UInt64(PeerStore.partSize))
        let (bytes, size) = try Self.get(store: store, id: id, range: wanted, fromMedia: fromMedia, knownSize: nil)
        self.size = size
        let clamped = range.map { $0.clamped(to: 0..<size) } ?? 0..<size
        position = clamped.lowerBound + UInt64(bytes.count)
        end = clamped.upperBound
        chunk = bytes
    }

    /// One ranged GET; checks the byte count against what the range and the object's size allow.
    static func get(store: PeerStore, id: ContentID, range: Range<UInt64>, fromMedia: Bool, knownSize: UInt64?)
        throws -> ([UInt8], UInt64)
    {
        let peer = store.client.peer.label
        if range.isEmpty {
            guard let size = try store.objectSize(id) else { throw StoreError(.notFound, "'\(peer)' holds no \(id).") }
            return ([], size)
        }
        let path = store.objectPath(id) + (fromMedia ? "?media=1" : "")
        let headers = [("range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")]
        let reply = try store.client.send(.GET, path, headers: headers, maxBody: range.count)
        guard let size = reply.headers.first(name: "x-object-size").flatMap(UInt64.init) else {
            throw StoreError(.media, "'\(peer)' sent \(id) without its size; it is not behaving like a Trove server.")
        }
        if let knownSize, knownSize != size {
            throw StoreError(.media, "'\(peer)' said \(id) is \(knownSize) bytes, then \(size): its copy changed while being read.")
        }
        let expected = range.clamped(to: 0..<size).count
        guard reply.body.count == expected else {
            throw StoreError(.media, "'\(peer)' sent \(reply.body.count) bytes of \(id) where \(expected) were asked for; nothing it sent counts.")
        }
        return (reply.body, size)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            if chunkOffset == chunk.count {
                guard position < end else { break }
                let next = position..<min(end, position + UInt64(PeerStore.partSize))
                (chunk, _) = try Self.get(store: store, id: id, range: next, fromMedia: fromMedia, knownSize: size)
                chunkOffset = 0
                position = next.upperBound
            }
            let take = min(buffer.count - filled, chunk.count - chunkOffset)
            chunk.withUnsafeBytes { source in
                buffer.baseAddress!.advanced(by: filled).copyMemory(from: source.baseAddress!.advanced(by: chunkOffset), byteCount: take)
            }
            chunkOffset += take
            filled += take
        }
        return filled
    }

    func close() { chunk = [] }
}

import Crypto
import Foundation
import TroveCore
import TroveStorage

/// Encrypts every object before it reaches the store it wraps (any kind). The store sees
/// neither content nor content IDs: objects are named by a keyed hash of their ID, and each is
///
///     "TROVENC1" ‖ object nonce (16) ‖ chunk 0 ‖ … ‖ chunk n-1 ‖ trailer
///     chunk i  = AES-256-GCM(plaintext[i·C ..< (i+1)·C]), AD = object nonce ‖ i
///     trailer  = AES-256-GCM(content ID ‖ plaintext size), AD = "trailer" ‖ object nonce
///
/// (C = the leaf size; each sealed part is nonce ‖ ciphertext ‖ tag). The chunk index stops
/// reordering; the authenticated size in the trailer fixes how many chunks there are, so
/// truncation or extension fails; the object nonce ties the chunks to the trailer, and the
/// trailer ties them to the content ID, so an object moved under another name fails. A full
/// chunk is sealed straight from the caller's leaf buffer (no copy). Any changed byte fails authentication and is reported as corruption of that copy from
/// that chunk on. A leaf is one chunk, so a ranged read of a leaf reads one chunk.
public final class EncryptedStore: Store, @unchecked Sendable {
    public let base: any Store
    let keys: StoreKeys
    let chunkSize: Int
    static let magic = Array("TROVENC1".utf8)
    static let prefixSize = 8 + 16
    static let sealOverhead = 12 + 16
    static let trailerSize = sealOverhead + 32 + 8

    public init(_ base: any Store, keys: StoreKeys, chunkSize: Int) {
        self.base = base
        self.keys = keys
        self.chunkSize = chunkSize
    }

    public var identity: StoreIdentity { base.identity }
    public var location: String { base.location }

    /// The name an object has on the wrapped store: HMAC-SHA256 of its ID under the name key.
    func storedName(_ id: ContentID) -> ContentID {
        ContentID(bytes: Array(HMAC<SHA256>.authenticationCode(for: id.bytes, using: keys.nameKey)))!
    }

    /// Plaintext size of an object stored in `stored` bytes, nil when no object has that size.
    func plainSize(stored: UInt64) -> UInt64? {
        let fixed = UInt64(Self.prefixSize + Self.trailerSize)
        let per = UInt64(chunkSize + Self.sealOverhead)
        guard stored >= fixed + UInt64(Self.sealOverhead) else { return nil }
        let body = stored - fixed
        let chunks = max(1, (body + per - 1) / per)
        guard body >= chunks * UInt64(Self.sealOverhead) else { return nil }
        return body - chunks * UInt64(Self.sealOverhead)
    }

    func chunkCount(plain: UInt64) -> UInt64 { max(1, (plain + UInt64(chunkSize) - 1) / UInt64(chunkSize)) }

    /// Random bytes from the system generator, eight at a time.
    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        while bytes.count < count { bytes += withUnsafeBytes(of: generator.next()) { Array($0) } }
        return Array(bytes.prefix(count))
    }

    static func chunkAD(nonce: [UInt8], index: UInt64) -> [UInt8] {
        nonce + withUnsafeBytes(of: index.bigEndian) { Array($0) }
    }

    public func objectSize(_ id: ContentID) throws -> UInt64? {
        guard let stored = try base.objectSize(storedName(id)) else { return nil }
        return plainSize(stored: stored) ?? 0
    }

    public func makeWriter(for id: ContentID?, expectedSize: UInt64?) throws -> ObjectWriter {
        let stored = expectedSize.map { $0 + chunkCount(plain: $0) * UInt64(Self.sealOverhead) + UInt64(Self.prefixSize + Self.trailerSize) }
        return try EncryptedWriter(store: self, base: base.makeWriter(for: id.map(storedName), expectedSize: stored), expectedSize: stored)
    }

    public func openReader(_ id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws -> ObjectReader {
        try EncryptedReader(store: self, id: id, range: range, fromMedia: fromMedia)
    }

    public func quarantine(_ id: ContentID) throws -> String { try base.quarantine(storedName(id)) }
    public func remove(_ id: ContentID) throws { try base.remove(storedName(id)) }

    /// Learns each object's ID from its trailer (one small ranged read per object): the names
    /// alone cannot be turned back into IDs. An object whose trailer does not authenticate, or
    /// names an ID that is not the one it is stored under, is left out (verify finds such copies
    /// by ID); trouble reaching the store is not hidden.
    public func listObjects(_ body: (ContentID) throws -> Bool) throws {
        try base.listObjects { name in
            let id: ContentID
            do { id = try trailer(of: name, fromMedia: false).id } catch is ObjectCorrupt { return true } catch let error as StoreError where error.kind == .notFound {
                return true
            }
            guard storedName(id) == name else { return true }
            return try body(id)
        }
    }

    /// The ID and plaintext size sealed in an object's trailer.
    func trailer(of name: ContentID, fromMedia: Bool) throws -> (id: ContentID, size: UInt64, nonce: [UInt8]) {
        guard let stored = try base.objectSize(name) else { throw StoreError(.notFound, "\(location) does not hold that object.") }
        guard stored >= UInt64(Self.prefixSize + Self.trailerSize) else {
            throw ObjectCorrupt(offset: 0, reason: "too short to be an encrypted object")
        }
        let prefix = try readFully(name, UInt64(0)..<UInt64(Self.prefixSize), fromMedia: fromMedia)
        guard Array(prefix.prefix(8)) == Self.magic else { throw ObjectCorrupt(offset: 0, reason: "not an encrypted Trove object") }
        let nonce = Array(prefix[8...])
        let sealed: [UInt8]
        do { sealed = try readFully(name, (stored - UInt64(Self.trailerSize))..<stored, fromMedia: fromMedia) } catch is ObjectCorrupt {
            throw ObjectCorrupt(offset: 0, reason: "its trailer cannot be read whole")
        }
        guard let plain = try? AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: keys.dataKey,
                                            authenticating: Array("trailer".utf8) + nonce),
              plain.count == 40, let id = ContentID(bytes: Array(plain.prefix(32))) else {
            throw ObjectCorrupt(offset: 0, reason: "its trailer does not authenticate")
        }
        let size = plain.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard plainSize(stored: stored) == size else { throw ObjectCorrupt(offset: 0, reason: "it is truncated or extended") }
        return (id, size, nonce)
    }

    func readFully(_ name: ContentID, _ range: Range<UInt64>, fromMedia: Bool) throws -> [UInt8] {
        let reader = try base.openReader(name, range: range, fromMedia: fromMedia)
        defer { reader.close() }
        var bytes = [UInt8](repeating: 0, count: range.count)
        let count = try bytes.withUnsafeMutableBytes { try reader.read(into: $0) }
        guard count == range.count else { throw ObjectCorrupt(offset: range.lowerBound, reason: "it ends early") }
        return bytes
    }

    public func space() throws -> StoreSpace? { try base.space() }
    public func isReadOnly() -> Bool { base.isReadOnly() }
    /// No: the store checks the ciphertext it received, not that it decrypts to the leaves that
    /// were verified (sealing and staging happen after that check), so new copies are read back.
    public var checksWritesOnArrival: Bool { false }
    public var hostMachine: String? { base.hostMachine }
    public var commitsEachAlone: Bool { base.commitsEachAlone }
    public func disk() -> DiskIdentity.Disk? { base.disk() }
    public func cleanTemporary() throws -> Int { try base.cleanTemporary() }

    static let recordMagic = Array("TROVREC1".utf8)

    /// Records are sealed whole (they are small) under the data key, bound to their name, so a
    /// record cannot be read without the key nor passed off under another name.
    public func readRecord(_ name: RecordName) throws -> [UInt8]? {
        guard let sealed = try base.readRecord(name) else { return nil }
        guard sealed.starts(with: Self.recordMagic),
              let box = try? AES.GCM.SealedBox(combined: sealed.dropFirst(Self.recordMagic.count)),
              let plain = try? AES.GCM.open(box, using: keys.dataKey, authenticating: Self.recordAD(name)) else {
            throw ObjectCorrupt(offset: 0, reason: "the record '\(name)' on \(location) does not authenticate under this store's key")
        }
        return Array(plain)
    }

    public func writeRecord(_ name: RecordName, _ bytes: [UInt8]) throws {
        try base.writeRecord(name, try sealRecord(name, bytes))
    }

    public func createRecord(_ name: RecordName, _ bytes: [UInt8]) throws -> Bool {
        try base.createRecord(name, try sealRecord(name, bytes))
    }

    public func removeRecord(_ name: RecordName) throws { try base.removeRecord(name) }

    func sealRecord(_ name: RecordName, _ bytes: [UInt8]) throws -> [UInt8] {
        do {
            let box = try AES.GCM.seal(bytes, using: keys.dataKey, authenticating: Self.recordAD(name))
            guard let combined = box.combined else { throw StoreError(.permissionDenied, "Cannot seal the record '\(name)'.") }
            return Self.recordMagic + Array(combined)
        } catch let error as StoreError { throw error } catch {
            throw StoreError(.permissionDenied, "Cannot seal the record '\(name)' (\(error)).")
        }
    }

    static func recordAD(_ name: RecordName) -> [UInt8] { Array("trove record v1\u{0}\(name)".utf8) }

    public func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws {
        var inner: [(writer: any ObjectWriter, id: ContentID)] = []
        for item in items {
            guard let writer = item.writer as? EncryptedWriter else { throw StoreError(.media, "a writer of another store was given to \(location)") }
            try writer.finish(id: item.id)
            inner.append((writer.base, storedName(item.id)))
        }
        try base.commitBatch(inner)
    }
}

/// Seals each full chunk as soon as it is written (straight from the caller's buffer when a
/// whole chunk arrives at once); the last, partial chunk and the trailer at commit. What it
/// writes goes out in whole 4 KiB blocks from an aligned staging buffer, so a local store keeps
/// writing with O_DIRECT (sealed chunks are not block-sized: without staging, every write after
/// the 24-byte prefix would fall back to the page cache).
final class EncryptedWriter: ObjectWriter {
    let store: EncryptedStore
    let base: ObjectWriter
    private let nonce: [UInt8]
    private var pending: [UInt8] = []
    private var index: UInt64 = 0
    private var size: UInt64 = 0
    private var finished = false
    /// Freed once the object is finished: a batch of small objects holds no staging memory.
    private var staging: UnsafeMutableRawBufferPointer
    private var staged = 0
    static let block = 4096

    init(store: EncryptedStore, base: ObjectWriter, expectedSize: UInt64?) throws {
        self.store = store
        self.base = base
        let most = store.chunkSize + (1 << 20)
        let capacity = expectedSize.map { min(most, Int(($0 + UInt64(Self.block) - 1) / UInt64(Self.block)) * Self.block) } ?? most
        staging = UnsafeMutableRawBufferPointer.allocate(byteCount: max(Self.block, capacity), alignment: Self.block)
        nonce = EncryptedStore.randomBytes(16)
        try (EncryptedStore.magic + nonce).withUnsafeBytes { try emit($0) }
    }

    deinit { release() }

    private func release() {
        guard staging.count > 0 else { return }
        staging.deallocate()
        staging = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    }

    /// Stages output; whole blocks go to the store whenever the staging buffer fills.
    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let take = min(staging.count - staged, bytes.count - offset)
            UnsafeMutableRawBufferPointer(rebasing: staging[staged..<staged + take])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + take]))
            staged += take
            offset += take
            if staged == staging.count { try flush(all: false) }
        }
    }

    /// Writes the staged whole blocks (all of it with `all`) and keeps the rest at the front.
    private func flush(all: Bool) throws {
        let whole = all ? staged : staged - staged % Self.block
        guard whole > 0 else { return }
        try base.write(UnsafeRawBufferPointer(rebasing: staging[0..<whole]))
        let rest = staged - whole
        if rest > 0, let start = staging.baseAddress {
            start.copyMemory(from: start + whole, byteCount: rest)
        }
        staged = rest
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished, "an encrypted object is not written to after it is finished")
        let chunk = store.chunkSize
        var offset = 0
        while offset < bytes.count {
            if pending.isEmpty && bytes.count - offset >= chunk {
                try seal(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + chunk]))
                offset += chunk
                continue
            }
            let take = min(chunk - pending.count, bytes.count - offset)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + take]))
            offset += take
            if pending.count == chunk {
                try pending.withUnsafeBytes { try seal($0) }
                pending.removeAll(keepingCapacity: true)
            }
        }
        size += UInt64(bytes.count)
    }

    /// Seals one chunk and writes nonce, ciphertext and tag (no concatenated copy).
    private func seal(_ plaintext: UnsafeRawBufferPointer) throws {
        let box = try AES.GCM.seal(plaintext, using: store.keys.dataKey, authenticating: EncryptedStore.chunkAD(nonce: nonce, index: index))
        try box.nonce.withUnsafeBytes { try emit($0) }
        try box.ciphertext.withUnsafeBytes { try emit($0) }
        try box.tag.withUnsafeBytes { try emit($0) }
        try flush(all: false)
        index += 1
    }

    /// Seals the last chunk (an empty object has one empty chunk) and the trailer naming `id`.
    func finish(id: ContentID) throws {
        guard !finished else { return }
        finished = true
        if !pending.isEmpty || index == 0 { try pending.withUnsafeBytes { try seal($0) } }
        pending = []
        let plain = id.bytes + withUnsafeBytes(of: size.bigEndian) { Array($0) }
        let box = try AES.GCM.seal(plain, using: store.keys.dataKey, authenticating: Array("trailer".utf8) + nonce)
        try box.combined!.withUnsafeBytes { try emit($0) }
        try flush(all: true)
        release()
    }

    func commit(as id: ContentID) throws {
        try finish(id: id)
        try base.commit(as: store.storedName(id))
    }

    func abort() {
        release()
        base.abort()
    }
}

/// Opens the chunks a range covers, one at a time, checking each.
final class EncryptedReader: ObjectReader {
    let store: EncryptedStore
    let name: ContentID
    let size: UInt64
    let fromMedia: Bool
    private let nonce: [UInt8]
    private let end: UInt64
    private var position: UInt64
    private var chunk: [UInt8] = []
    private var chunkStart: UInt64 = 0

    init(store: EncryptedStore, id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws {
        self.store = store
        self.fromMedia = fromMedia
        name = store.storedName(id)
        let trailer = try store.trailer(of: name, fromMedia: fromMedia)
        guard trailer.id == id else { throw ObjectCorrupt(offset: 0, reason: "it holds another object (its trailer names \(trailer.id))") }
        size = trailer.size
        nonce = trailer.nonce
        let range = range.map { $0.clamped(to: 0..<trailer.size) } ?? 0..<trailer.size
        position = range.lowerBound
        end = range.upperBound
        // An empty object is one empty chunk: opened here, so a changed byte there is found too.
        if trailer.size == 0 { try load(index: 0) }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count && position < end {
            let size = UInt64(store.chunkSize)
            if chunk.isEmpty || position < chunkStart || position >= chunkStart + UInt64(chunk.count) {
                try load(index: position / size)
            }
            let from = Int(position - chunkStart)
            let take = min(buffer.count - done, chunk.count - from, Int(end - position))
            chunk.withUnsafeBytes { source in
                buffer.baseAddress!.advanced(by: done).copyMemory(from: source.baseAddress!.advanced(by: from), byteCount: take)
            }
            done += take
            position += UInt64(take)
        }
        return done
    }

    private func load(index: UInt64) throws {
        let plainSize = UInt64(store.chunkSize)
        let chunks = store.chunkCount(plain: size)
        let length = index == chunks - 1 ? size - index * plainSize : plainSize
        let start = UInt64(EncryptedStore.prefixSize) + index * (plainSize + UInt64(EncryptedStore.sealOverhead))
        let sealed: [UInt8]
        do { sealed = try store.readFully(name, start..<start + length + UInt64(EncryptedStore.sealOverhead), fromMedia: fromMedia) } catch is ObjectCorrupt {
            throw ObjectCorrupt(offset: index * plainSize, reason: "chunk \(index) ends early")
        }
        let ad = EncryptedStore.chunkAD(nonce: nonce, index: index)
        guard let plain = try? AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: store.keys.dataKey, authenticating: ad) else {
            throw ObjectCorrupt(offset: index * plainSize, reason: "chunk \(index) does not authenticate")
        }
        chunk = Array(plain)
        chunkStart = index * plainSize
    }

    func close() {}
}

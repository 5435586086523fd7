import Foundation
import TroveCore

/// What rewriting packs did.
public struct RepackReport: Sendable, Codable, Equatable {
    /// Packs written.
    public var packsWritten = 0
    /// Packs deleted after their live objects were safe in new packs.
    public var packsRemoved = 0
    /// Objects moved into new packs.
    public var objectsMoved = 0
    /// Bytes the store no longer holds.
    public var bytesFreed: UInt64 = 0
    /// Objects whose bytes did not hash to their ID: left out of the new packs, for the caller
    /// to record as corrupt copies.
    public var corrupt: [ContentID] = []
    /// Objects the store did not have (loose objects asked to be packed).
    public var missing: [ContentID] = []
    public init() {}
}

extension PackingStore {
    /// Rewrites every pack worth rewriting (`PackSummary.worthRewriting`): its live objects,
    /// each checked against its ID, go into new packs, which are committed and read back before
    /// the index moves to them in one transaction; only then is the old pack deleted. A crash at
    /// any step leaves every live object readable. One pack is in memory at a time. An object
    /// that does not hash to its ID stays where it is, listed in the report for the caller to
    /// settle (the pack goes once nothing lives in it).
    public func compact() throws -> RepackReport {
        var report = RepackReport()
        for summary in try packSummaries() where summary.worthRewriting {
            try rewrite(summary, report: &report)
        }
        return report
    }

    func rewrite(_ summary: PackSummary, report: inout RepackReport) throws {
        let entries = try indexCall { try index.packEntries(store: storeID, pack: summary.pack) }
        var keep: [(id: ContentID, bytes: [UInt8])] = []
        if !entries.isEmpty {
            let bytes = try readWhole(summary.pack, fromMedia: true)
            for entry in entries {
                guard entry.offset + entry.length <= UInt64(bytes.count) else { report.corrupt.append(entry.id); continue }
                let object = Array(bytes[Int(entry.offset)..<Int(entry.offset + entry.length)])
                if ContentHash.hash(object).id == entry.id { keep.append((entry.id, object)) } else { report.corrupt.append(entry.id) }
            }
        }
        let written = try commitPacks(keep)
        report.packsWritten += written.count
        report.objectsMoved += keep.count
        guard try indexCall({ try index.replacePack(store: storeID, old: summary.pack, with: written) }) else { return }
        try base.remove(summary.pack)
        try base.removeRecord(Self.tombstoneName(summary.pack))
        report.packsRemoved += 1
        report.bytesFreed += summary.size - min(summary.size, written.reduce(0) { $0 + $1.size })
    }

    /// Moves loose objects of the store (below the threshold) into packs, `packSize` bytes at a
    /// time: each is read from the medium and checked against its ID, the pack is committed,
    /// read back and recorded, and only then are the loose objects deleted. An object already
    /// packed loses a loose copy an interrupted repack left. Objects are given one at a time
    /// (`add`), so a store of any size is repacked in bounded memory; `finish` packs the rest.
    public final class Repacker {
        let store: PackingStore
        public private(set) var report = RepackReport()
        private var pending: [(id: ContentID, bytes: [UInt8])] = []
        private var bytes: UInt64 = 0

        public init(_ store: PackingStore) { self.store = store }

        /// Takes one object of the store (`size` as the catalog knows it).
        public func add(_ id: ContentID, size: UInt64) throws {
            guard size < store.threshold else { return }
            if try store.packed(id) != nil {
                try store.base.remove(id)
                return
            }
            let object: [UInt8]
            do { object = try store.readWhole(id, fromMedia: true) } catch let error as StoreError where error.kind == .notFound {
                report.missing.append(id)
                return
            } catch is ObjectCorrupt {
                report.corrupt.append(id)
                return
            }
            guard ContentHash.hash(object).id == id else { report.corrupt.append(id); return }
            pending.append((id, object))
            bytes += UInt64(object.count)
            if bytes >= store.packSize { try flush() }
        }

        /// Packs what is pending.
        public func finish() throws -> RepackReport {
            try flush()
            return report
        }

        private func flush() throws {
            guard !pending.isEmpty else { return }
            let written = try store.commitPacks(pending)
            try store.indexCall { try store.index.addPacks(store: store.storeID, written) }
            for object in pending { try store.base.remove(object.id) }
            report.packsWritten += written.count
            report.objectsMoved += pending.count
            pending = []
            bytes = 0
        }
    }

    /// Rebuilds this store's pack index from the packs' trailers: every object of the store is
    /// looked at (its size, then its footer: one small ranged read), and each pack's trailer is
    /// read and checked; objects recorded dead in a pack stay out. Returns the packs and objects found.
    @discardableResult public func reindex() throws -> (packs: Int, objects: Int) {
        try indexCall { try index.forgetPacks(store: storeID) }
        var found = (packs: 0, objects: 0)
        try base.listObjects { id in
            guard var contents = try trailer(of: id) else { return true }
            let dead = try tombstones(of: id)
            contents.entries.removeAll { dead.contains($0.id) }
            try indexCall { try index.addPacks(store: storeID, [contents]) }
            found.packs += 1
            found.objects += contents.entries.count
            return true
        }
        return found
    }

    /// The contents a pack's trailer lists, or nil when the object is not a pack.
    func trailer(of id: ContentID) throws -> PackContents? {
        guard let size = try base.objectSize(id), size >= UInt64(PackFormat.magic.count + PackFormat.footerSize) else { return nil }
        do {
            let tail = try read(id, size - UInt64(PackFormat.footerSize)..<size)
            guard let footer = try? PackFormat.footer(tail, packSize: size),
                  PackFormat.isPack(prefix: try read(id, 0..<UInt64(PackFormat.magic.count))),
                  let entries = try? PackFormat.entries(try read(id, footer.trailerRange), footer: footer) else { return nil }
            return PackContents(pack: id, size: size, entries: entries)
        } catch is ObjectCorrupt {
            return nil
        }
    }

    /// Builds packs of `objects` and commits them to the store; with `readBack` (and unless the
    /// store checks writes on arrival) reads each back from the medium. Does not record them.
    func commitPacks(_ objects: [(id: ContentID, bytes: [UInt8])], readBack: Bool = true) throws -> [PackContents] {
        guard !objects.isEmpty else { return [] }
        var contents: [PackContents] = []
        var writers: [(writer: any ObjectWriter, id: ContentID)] = []
        do {
            for group in Self.groups(objects.map { UInt64($0.bytes.count) }, packSize: packSize) {
                let (bytes, entries) = PackFormat.build(group.map { objects[$0] })
                let pack = ContentHash.hash(bytes).id
                let writer = try base.makeWriter(for: pack, expectedSize: UInt64(bytes.count))
                writers.append((writer, pack))
                try bytes.withUnsafeBytes { try writer.write($0) }
                contents.append(PackContents(pack: pack, size: UInt64(bytes.count), entries: entries))
            }
            if base.commitsEachAlone { try base.commitIndependently(writers) } else { try base.commitBatch(writers) }
        } catch {
            for (writer, _) in writers { writer.abort() }
            throw error
        }
        if readBack && !base.checksWritesOnArrival {
            for pack in contents where ContentHash.hash(try readWhole(pack.pack, fromMedia: true)).id != pack.pack {
                // Nothing points to them yet: gone now rather than at the next gc.
                for written in contents { try? base.remove(written.pack) }
                throw StoreError(.media, "The pack \(pack.pack) written to \(location) did not read back correctly.")
            }
        }
        return contents
    }

    func read(_ id: ContentID, _ range: Range<UInt64>, fromMedia: Bool = false) throws -> [UInt8] {
        let reader = try base.openReader(id, range: range, fromMedia: fromMedia)
        defer { reader.close() }
        return try reader.readBytes(Int(range.count))
    }

    func readWhole(_ id: ContentID, fromMedia: Bool) throws -> [UInt8] {
        let reader = try openReader(id, range: nil, fromMedia: fromMedia)
        defer { reader.close() }
        return try reader.readBytes(Int(reader.size))
    }

    func indexCall<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as StoreError { throw error } catch {
            throw StoreError(.unavailable, "The pack index of \(location) cannot be used: \(error). Check the library folder's free space and permissions (`trove check`), then retry.")
        }
    }
}

import Crypto
import Foundation

/// The library's own records as the stores keep them (docs/library-records.md): enough to
/// rebuild the catalog from any one store. A store holds a small *head* (a named record) that
/// points to content-addressed objects: the current *state* (settings, stores and their trust
/// decisions, tracked folders) and the *journal* (segments of file, import, copy, snapshot and
/// event records, the oldest of which may be a checkpoint of everything).
public enum LibraryRecords {
    /// Encodes with exact times (seconds since 1970 as a JSON number) and sorted keys.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }

    /// A segment never grows past this (a journal of a big import is cut into several).
    public static let segmentLimit = 4 << 20
}

/// Where a store's copy of the library's records starts. Replaced whole at every backup; its
/// checksum (SHA-256 of the other fields' canonical JSON) catches a damaged or hand-edited head.
public struct LibraryHead: Codable, Sendable, Equatable {
    public static let formatName = "trove-library-head/1"
    public var format = LibraryHead.formatName
    public var library: String
    /// Grows by one with every backup; the highest valid head among the stores is the newest.
    public var sequence: Int64
    public var time: Date
    /// The catalog schema of the library that wrote it (for messages).
    public var schema: String
    /// The state object (content ID).
    public var state: String
    /// Journal segments, oldest first (content IDs).
    public var segments: [String]
    public var checksum = ""

    public init(library: String, sequence: Int64, time: Date, schema: String, state: String, segments: [String]) {
        self.library = library
        self.sequence = sequence
        self.time = time
        self.schema = schema
        self.state = state
        self.segments = segments
    }

    /// Every object the head needs.
    public var objects: [String] { [state] + segments }

    func digest() -> String {
        var unsigned = self
        unsigned.checksum = ""
        let bytes = (try? LibraryRecords.encoder.encode(unsigned)) ?? Data()
        return SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// The head as stored: JSON with its checksum filled in.
    public func encoded() throws -> [UInt8] {
        var sealed = self
        sealed.checksum = digest()
        return Array(try LibraryRecords.encoder.encode(sealed))
    }

    /// Reads a stored head; throws when it is not one, or its checksum does not match.
    public static func decode(_ bytes: [UInt8]) throws -> LibraryHead {
        let head: LibraryHead
        do { head = try LibraryRecords.decoder.decode(LibraryHead.self, from: Data(bytes)) } catch {
            throw RecordsDamaged(reason: "the library head is not readable JSON (\(error))")
        }
        guard head.format == formatName else { throw RecordsDamaged(reason: "the library head has format '\(head.format)', which this Trove does not know") }
        guard head.checksum == head.digest() else { throw RecordsDamaged(reason: "the library head's checksum does not match its content") }
        return head
    }

    /// The newest of several heads (the highest sequence; equal sequences by state, so every
    /// reader picks the same one).
    public static func newest(_ heads: [LibraryHead]) -> LibraryHead? {
        heads.max { ($0.sequence, $0.state) < ($1.sequence, $1.state) }
    }
}

/// Library records that cannot be read as what they claim to be.
public struct RecordsDamaged: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// What the state object holds: the small, wholly rewritten part of the library's records.
public struct LibraryState: Codable, Sendable, Equatable {
    public static let formatName = "trove-library-state/1"
    public var format = LibraryState.formatName
    public var library: String
    public var time: Date
    public var settings: [String: String]
    /// Every store with its trust state, weight, failure domain and how to reach it.
    public var stores: [StoreRecord]
    public var tracked: [TrackedFolder]

    public init(library: String, time: Date, settings: [String: String], stores: [StoreRecord], tracked: [TrackedFolder]) {
        self.library = library
        self.time = time
        self.settings = settings
        self.stores = stores
        self.tracked = tracked
    }

    public func encoded() throws -> [UInt8] { Array(try LibraryRecords.encoder.encode(self)) }

    public static func decode(_ bytes: [UInt8]) throws -> LibraryState {
        let state: LibraryState
        do { state = try LibraryRecords.decoder.decode(LibraryState.self, from: Data(bytes)) } catch {
            throw RecordsDamaged(reason: "the library state object is not readable (\(error))")
        }
        guard state.format == formatName else { throw RecordsDamaged(reason: "the library state has format '\(state.format)', which this Trove does not know") }
        return state
    }
}

/// One record of the journal. Replayed in order, the journal gives the catalog's files,
/// imports, copies, snapshots and events as they were at the backup.
public enum JournalEntry: Sendable, Equatable {
    case file(FileRecord)
    case fileRemoved(ContentID)
    case imported(ImportRecord)
    case copy(file: ContentID, store: String)
    case copyRemoved(file: ContentID, store: String)
    /// A snapshot, with its sequence number and the root folder's own entry.
    case snapshot(SnapshotRecord)
    case snapshotForgotten(String)
    /// An event, with its sequence number.
    case event(Event)
}

/// A journal segment: a header line, then one JSON line per entry.
public struct JournalSegment: Sendable, Equatable {
    public static let formatName = "trove-journal/1"
    public var library: String
    /// A checkpoint starts from nothing (everything up to it is in it); a journal segment
    /// continues the segments before it.
    public var checkpoint: Bool
    public var entries: [JournalEntry]

    public init(library: String, checkpoint: Bool, entries: [JournalEntry]) {
        self.library = library
        self.checkpoint = checkpoint
        self.entries = entries
    }

    struct Header: Codable {
        var format: String
        var library: String
        var checkpoint: Bool
        var entries: Int
    }

    /// The flat form of an entry on its line (`t` names the kind).
    struct Line: Codable {
        var t: String
        var id: String?
        var size: UInt64?
        var leaves: [String]?
        var time: Date?
        var file: String?
        var store: String?
        var path: String?
        var name: String?
        var mtime: Date?
        var seq: Int64?
        var root: String?
        var tag: String?
        var partial: Bool?
        var external: Bool?
        var source: String?
        var entries: Int?
        var bytes: UInt64?
        var rootEntry: String?
        var kind: String?
        var details: [String: DetailValue]?

        /// The line as `LibraryRecords.encoder` writes it (keys sorted, absent ones left out),
        /// written directly: `JSONEncoder` cost a sixth of a heal of small files.
        func encoded() -> [UInt8] {
            var json = JSONLine()
            json.field("bytes", bytes)
            json.field("details", details)
            json.field("entries", entries)
            json.field("external", external)
            json.field("file", file)
            json.field("id", id)
            json.field("kind", kind)
            json.field("leaves", leaves)
            json.field("mtime", mtime)
            json.field("name", name)
            json.field("partial", partial)
            json.field("path", path)
            json.field("root", root)
            json.field("rootEntry", rootEntry)
            json.field("seq", seq)
            json.field("size", size)
            json.field("source", source)
            json.field("store", store)
            json.field("t", t)
            json.field("tag", tag)
            json.field("time", time)
            return json.end()
        }
    }

    public static func encodeLine(_ entry: JournalEntry) throws -> [UInt8] {
        line(entry).encoded()
    }

    /// The flat form of an entry.
    static func line(_ entry: JournalEntry) -> Line {
        var line = Line(t: "")
        switch entry {
        case .file(let f):
            line.t = "file"; line.id = f.id.description; line.size = f.size
            line.leaves = f.leafHashes.map(\.description); line.time = f.firstSeen
        case .fileRemoved(let id):
            line.t = "file-removed"; line.id = id.description
        case .imported(let i):
            line.t = "import"; line.file = i.fileID.description; line.path = i.path; line.name = i.name
            line.mtime = i.mtime; line.time = i.time
        case .copy(let file, let store):
            line.t = "copy"; line.file = file.description; line.store = store
        case .copyRemoved(let file, let store):
            line.t = "copy-removed"; line.file = file.description; line.store = store
        case .snapshot(let s):
            line.t = "snapshot"; line.id = s.id; line.seq = s.seq; line.root = s.root; line.time = s.time; line.tag = s.tag
            line.partial = s.partial; line.external = s.external; line.source = s.source; line.entries = s.entries
            line.bytes = s.bytes; line.rootEntry = s.rootEntry
        case .snapshotForgotten(let id):
            line.t = "snapshot-forgotten"; line.id = id
        case .event(let e):
            line.t = "event"; line.seq = e.seq; line.time = e.time; line.kind = e.kind.rawValue; line.store = e.storeID
            line.file = e.fileID?.description; line.details = e.details
        }
        return line
    }

    static func decodeLine(_ bytes: ArraySlice<UInt8>, number: Int) throws -> JournalEntry {
        func bad(_ why: String) -> RecordsDamaged { RecordsDamaged(reason: "journal line \(number) \(why)") }
        let line: Line
        do { line = try LibraryRecords.decoder.decode(Line.self, from: Data(bytes)) } catch { throw bad("is not readable (\(error))") }
        func id(_ text: String?) throws -> ContentID {
            guard let text, let id = ContentID(text) else { throw bad("has no valid content ID") }
            return id
        }
        func need<T>(_ value: T?, _ field: String) throws -> T {
            guard let value else { throw bad("lacks \(field)") }
            return value
        }
        switch line.t {
        case "file":
            let leaves = try need(line.leaves, "leaves").map { text -> LeafHash in
                guard let bytes = Base32.decode(text), bytes.count == 32 else { throw bad("has a leaf hash that is not 32 bytes") }
                return LeafHash(bytes: bytes)
            }
            return .file(FileRecord(id: try id(line.id), size: try need(line.size, "size"), leafHashes: leaves,
                                    firstSeen: try need(line.time, "time")))
        case "file-removed": return .fileRemoved(try id(line.id))
        case "import":
            return .imported(ImportRecord(fileID: try id(line.file), path: try need(line.path, "path"), name: try need(line.name, "name"),
                                          mtime: try need(line.mtime, "mtime"), time: try need(line.time, "time")))
        case "copy": return .copy(file: try id(line.file), store: try need(line.store, "store"))
        case "copy-removed": return .copyRemoved(file: try id(line.file), store: try need(line.store, "store"))
        case "snapshot":
            return .snapshot(SnapshotRecord(id: try need(line.id, "id"), seq: try need(line.seq, "seq"), root: try need(line.root, "root"),
                                            time: try need(line.time, "time"), tag: line.tag, partial: line.partial ?? false,
                                            external: line.external ?? false, source: line.source, entries: line.entries ?? 0,
                                            bytes: line.bytes ?? 0, rootEntry: line.rootEntry))
        case "snapshot-forgotten": return .snapshotForgotten(try need(line.id, "id"))
        case "event":
            guard let kind = EventKind(rawValue: try need(line.kind, "kind")) else { throw bad("has an unknown event kind") }
            return .event(Event(seq: line.seq, time: try need(line.time, "time"), kind: kind, storeID: line.store,
                                fileID: try line.file.map { try id($0) }, details: line.details ?? [:]))
        default:
            throw bad("has an unknown kind '\(line.t)'")
        }
    }

    /// The segment as stored.
    public func encoded() throws -> [UInt8] { try encoded(lines: entries.map(Self.encodeLine)) }

    /// The segment's header (with this segment's library and kind) followed by entry lines
    /// already encoded with `encodeLine` (a writer streams entries without keeping them).
    public func encoded(lines: [[UInt8]]) throws -> [UInt8] {
        var bytes = Array(try LibraryRecords.encoder.encode(Header(format: Self.formatName, library: library, checkpoint: checkpoint,
                                                                   entries: lines.count)))
        for line in lines {
            bytes.append(0x0a)
            bytes += line
        }
        bytes.append(0x0a)
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> JournalSegment {
        let lines = bytes.split(separator: 0x0a, omittingEmptySubsequences: true)
        guard let first = lines.first,
              let header = try? LibraryRecords.decoder.decode(Header.self, from: Data(first)) else {
            throw RecordsDamaged(reason: "a journal segment has no readable header")
        }
        guard header.format == formatName else {
            throw RecordsDamaged(reason: "a journal segment has format '\(header.format)', which this Trove does not know")
        }
        guard header.entries == lines.count - 1 else {
            throw RecordsDamaged(reason: "a journal segment says it holds \(header.entries) entries but holds \(lines.count - 1)")
        }
        var entries: [JournalEntry] = []
        entries.reserveCapacity(header.entries)
        for (index, line) in lines.dropFirst().enumerated() { entries.append(try decodeLine(line, number: index + 2)) }
        return JournalSegment(library: header.library, checkpoint: header.checkpoint, entries: entries)
    }
}

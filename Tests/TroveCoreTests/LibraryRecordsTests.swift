import Foundation
import Testing
@testable import TroveCore

/// The library records format (docs/library-records.md): every entry survives a round trip
/// exactly, a damaged head or segment is refused with a reason, and the newest head wins.
struct LibraryRecordsTests {
    static func randomEntry(_ generator: inout SplitMix64) -> JournalEntry {
        func id() -> ContentID { ContentID(bytes: (0..<32).map { _ in UInt8(truncatingIfNeeded: generator.next()) })! }
        func text() -> String {
            // Names are NameCodec text: any scalar, including private-use escapes, quotes, newlines.
            let pool: [Character] = ["a", "é", "\n", "\"", "\\", "/", " ", "\u{10FF80}", "😀", "\u{0}"]
            return String((0..<Int(generator.next() % 12)).map { _ in pool[Int(generator.next() % UInt64(pool.count))] })
        }
        func date() -> Date { Date(timeIntervalSince1970: Double(generator.next() % 4_000_000_000) + Double(generator.next() % 1000) / 1000.7) }
        switch generator.next() % 8 {
        case 0:
            let leaves = (0..<Int(generator.next() % 4)).map { _ in LeafHash(bytes: (0..<32).map { _ in UInt8(truncatingIfNeeded: generator.next()) }) }
            return .file(FileRecord(id: id(), size: generator.next() % (1 << 40), leafHashes: leaves, firstSeen: date()))
        case 1: return .fileRemoved(id())
        case 2: return .imported(ImportRecord(fileID: id(), path: "/" + text(), name: text(), mtime: date(), time: date()))
        case 3: return .copy(file: id(), store: text())
        case 4: return .copyRemoved(file: id(), store: text())
        case 5:
            return .snapshot(SnapshotRecord(id: id().description, seq: Int64(generator.next() % 1000) + 1, root: "/" + text(), time: date(),
                                            tag: generator.next() % 2 == 0 ? nil : text(), partial: generator.next() % 2 == 0,
                                            entries: Int(generator.next() % 10_000), bytes: generator.next() % (1 << 50),
                                            rootEntry: generator.next() % 2 == 0 ? nil : text()))
        case 6: return .snapshotForgotten(id().description)
        default:
            return .event(Event(seq: Int64(generator.next() % 100_000), time: date(), kind: EventKind.allCases[Int(generator.next() % UInt64(EventKind.allCases.count))],
                                storeID: generator.next() % 2 == 0 ? nil : text(), fileID: generator.next() % 2 == 0 ? nil : id(),
                                details: ["n": .number(Int64(generator.next() % 1000)), "t": .text(text())]))
        }
    }

    @Test func everyEntrySurvivesARoundTrip() throws {
        var generator = SplitMix64(seed: 13)
        for round in 0..<200 {
            let entries = (0..<Int(generator.next() % 20)).map { _ in Self.randomEntry(&generator) }
            let segment = JournalSegment(library: "lib\(round)", checkpoint: round % 2 == 0, entries: entries)
            let decoded = try JournalSegment.decode(try segment.encoded())
            #expect(decoded == segment)
        }
    }

    /// Journal lines are written without `JSONEncoder`, byte for byte as it would write them.
    @Test func journalLinesAreWhatJSONEncoderWrites() throws {
        var generator = SplitMix64(seed: 29)
        var entries = (0..<2_000).map { _ in Self.randomEntry(&generator) }
        // Every control character, and dates with and without a fraction of a second.
        let controls = String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) })
        entries.append(.imported(ImportRecord(fileID: ContentID(bytes: Array(repeating: 7, count: 32))!, path: "/a\(controls)/b\u{7f}",
                                              name: controls, mtime: Date(timeIntervalSince1970: 1_800_000_000),
                                              time: Date(timeIntervalSince1970: -12.5))))
        for entry in entries {
            let line = JournalSegment.line(entry)
            let expected = Array(try LibraryRecords.encoder.encode(line))
            #expect(line.encoded() == expected, "\(String(decoding: expected, as: UTF8.self))")
        }
    }

    @Test func aSegmentMissingALineOrWithAnUnknownKindIsRefused() throws {
        var generator = SplitMix64(seed: 5)
        let segment = JournalSegment(library: "lib", checkpoint: false, entries: (0..<5).map { _ in Self.randomEntry(&generator) })
        var lines = try segment.encoded().split(separator: 0x0a).map(Array.init)
        lines.removeLast()
        #expect(throws: RecordsDamaged.self) { try JournalSegment.decode(Array(lines.joined(separator: [0x0a]))) }
        lines.append(Array(#"{"t":"teleport"}"#.utf8))
        #expect(throws: RecordsDamaged.self) { try JournalSegment.decode(Array(lines.joined(separator: [0x0a]))) }
    }

    @Test func aHeadWhoseBytesChangedIsRefused() throws {
        let head = LibraryHead(library: "lib", sequence: 7, time: Date(timeIntervalSince1970: 1_800_000_000.25), schema: "v9",
                               state: "state", segments: ["a", "b"])
        let bytes = try head.encoded()
        #expect(try LibraryHead.decode(bytes) == { var sealed = head; sealed.checksum = (try? LibraryHead.decode(bytes))?.checksum ?? ""; return sealed }())
        let text = String(decoding: bytes, as: UTF8.self)
        let edited = text.replacingOccurrences(of: "\"sequence\":7", with: "\"sequence\":9")
        #expect(edited != text)
        #expect(throws: RecordsDamaged.self) { try LibraryHead.decode(Array(edited.utf8)) }
        #expect(throws: RecordsDamaged.self) { try LibraryHead.decode(Array(bytes.prefix(bytes.count / 2))) }
    }

    @Test func theNewestHeadWinsAndTiesAreBrokenTheSameWayEverywhere() {
        let time = Date(timeIntervalSince1970: 0)
        let old = LibraryHead(library: "l", sequence: 3, time: time, schema: "", state: "z", segments: [])
        let new = LibraryHead(library: "l", sequence: 4, time: time, schema: "", state: "a", segments: [])
        let twin = LibraryHead(library: "l", sequence: 4, time: time, schema: "", state: "b", segments: [])
        #expect(LibraryHead.newest([old, new]) == new)
        #expect(LibraryHead.newest([twin, old, new]) == twin)
        #expect(LibraryHead.newest([new, twin]) == LibraryHead.newest([twin, new]))
        #expect(LibraryHead.newest([]) == nil)
    }

    @Test func staleRecordsWarnAfterADayOnlyWhileChangesWait() {
        let written = Date(timeIntervalSince1970: 1_800_000_000)
        var facts = LibraryFacts(target: 1, durability: [:], stores: [], reserve: 0)
        facts.recordsWritten = written
        facts.recordsPending = true
        #expect(!alerts(for: facts, now: written.addingTimeInterval(86_399)).contains { $0.kind == "stale_catalog_backup" })
        let late = alerts(for: facts, now: written.addingTimeInterval(2 * 86_400 + 5))
        #expect(late.contains { $0.kind == "stale_catalog_backup" && $0.severity == .warning && $0.message.contains("2 days") })
        facts.recordsPending = false
        #expect(alerts(for: facts, now: written.addingTimeInterval(30 * 86_400)).isEmpty)
        facts.rebuildGaps = (snapshots: 2, stores: ["usb1"])
        let gaps = alerts(for: facts, now: written)
        #expect(gaps.map(\.kind) == ["rebuild_incomplete"] && gaps[0].message.contains("usb1") && gaps[0].message.contains("2 snapshots"))
    }
}

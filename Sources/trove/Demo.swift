import ArgumentParser
import Foundation
import TroveCore
import TroveEngine
import TroveStorage

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Trove's main job on sample data: three folder stores, import, heal, verify, snapshots, find, restore, a lost catalog rebuilt, status.",
        discussion: "Everything goes into a new folder (default: a fresh one under $TMPDIR); your own library is not touched.")

    @Option(help: "Folder to build the demo in (must not exist yet).") var dir: String?
    @Option(help: "Number of sample photos to generate.") var photos = 24

    func validate() throws {
        try requireRange(photos, 1...10_000, "photos")
    }

    func run() throws {
        try reportingErrors {
            LoggingBootstrap.once(level: .warning)
            let root = try demoFolder()
            let libraryPath = root + "/library"
            let library = try Library.create(at: libraryPath, clock: .fromEnvironment())
            Output.line("== trove init --library \(libraryPath)")
            let names = ["drive-a", "drive-b", "drive-c"]
            var records: [StoreRecord] = []
            for name in names {
                try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
                let (record, _) = try library.addStore(folder: root + "/" + name, label: name)
                records.append(record)
                Output.line("== trove store add \(root)/\(name)   → store '\(record.label)' (\(record.id)) on disk \(record.diskShown ?? "?")")
            }
            // Truthful about the demo's own setup: three folders on one disk are one copy.
            if let shared = sharedDisks(records).first {
                Output.line("   \(shared.map(\.label).joined(separator: ", ")) are folders on one disk (\(shared[0].diskShown ?? "?")): Trove counts their copies once, since a dying disk takes them all (`trove status` would say so). On your machine, put each store on its own drive.")
                for name in names {
                    _ = try library.setStore(name, StoreChange(declaredDisk: .some("demo-" + name)))
                    Output.line("== trove store set \(name) --disk demo-\(name)   (for this demo only: pretend each folder is its own drive)")
                }
            }
            let sample = root + "/Pictures"
            let count = try SampleData.generate(in: sample, photos: photos)
            Output.line("== generated \(count) sample files in \(sample)")
            let report = try library.importPaths([sample], progress: Output.progress(json: false))
            Output.line("== trove add \(sample)")
            Output.line("   imported \(report.count) files (\(formatBytes(report.bytes))): \(report.newFiles) new, \(report.duplicates) duplicates in \(String(format: "%.2f", report.seconds)) s")
            let heal = try library.heal(progress: Output.progress(json: false))
            Output.line("== trove heal")
            Output.line("   made \(heal.copiesMade) copies (\(formatBytes(heal.bytes)))")
            Output.line("== trove verify")
            for r in try library.verify() {
                Output.line("   \(r.storeLabel): \(r.checked) copies checked, \(r.good) good, \(r.corrupt.count) corrupt")
            }
            if let first = report.imported.first {
                let out = root + "/restored-" + (first.path as NSString).lastPathComponent
                let got = try library.get(first.id, to: out)
                Output.line("== trove get \(first.id) --to \(out)   → verified from '\(got.store)'")
            }
            let first = try library.snapshot(sample)
            Output.line("== trove snapshot \(sample)   → \(first.id.prefix(12)): \(first.files) files")
            try FileManager.default.removeItem(atPath: sample + "/2026/IMG_0002.jpg")
            try Data("Things I cannot lose, edited.\n".utf8).write(to: URL(fileURLWithPath: sample + "/notes.txt"))
            let second = try library.snapshot(sample)
            Output.line("== (deleted 2026/IMG_0002.jpg, edited notes.txt) trove snapshot   → \(second.id.prefix(12)): read \(second.filesRead) changed files, \(second.filesUnchanged) unchanged")
            let hits = try library.find("IMG_0002")
            Output.line("== trove find IMG_0002   → \(hits.count) hit\(hits.count == 1 ? "" : "s"): \(hits.map { "\($0.path) in \($0.snapshotID.prefix(12))" }.joined(separator: "; "))")
            let back = root + "/IMG_0002-restored.jpg"
            _ = try library.restore("\(first.id):2026/IMG_0002.jpg", to: back)
            Output.line("== trove restore \(first.id.prefix(12)):2026/IMG_0002.jpg --to \(back)   → verified")
            let diff = try library.diff(first.id, second.id)
            Output.line("== trove diff \(first.id.prefix(12)) \(second.id.prefix(12))   → \(diff.removed.map(\.path)) removed, \(diff.modified.map(\.path)) modified")
            let again = try library.heal()
            Output.line("== trove heal   → \(again.copiesMade) more copies (the edited file)")
            try showFailures(library, root: root, photo: report.imported.first)
            let rebuilt = try showCatalogLoss(library, drive: root + "/drive-a")
            Output.line("== trove status")
            let status = try rebuilt.status()
            Status().printText(status)
            Output.line("")
            Output.line("Try it yourself: export TROVE_LIBRARY=\(libraryPath); trove status; trove events")
        }
    }

    /// What a user sees when something goes wrong: a rotten copy, then a drive gone.
    func showFailures(_ library: Library, root: String, photo: ImportedFile?) throws {
        guard let photo else { return }
        let object = "\(root)/drive-b/.trove/objects/\(photo.id.prefix(2))/\(photo.id.dropFirst(2))"
        if let handle = FileHandle(forUpdatingAtPath: object) {
            try handle.seek(toOffset: 1000)
            let byte = try handle.read(upToCount: 1) ?? Data([0])
            try handle.seek(toOffset: 1000)
            try handle.write(contentsOf: Data([byte[byte.startIndex] ^ 0x01]))
            try handle.close()
            Output.line("== (flipped one bit of drive-b's copy of \((photo.path as NSString).lastPathComponent): bit rot) trove verify --store drive-b")
            for r in try library.verify(storeLabel: "drive-b") {
                Output.line("   \(r.storeLabel): \(r.checked) copies checked, \(r.good) good, \(r.corrupt.count) corrupt (quarantined)")
            }
            for alert in try library.status().alerts { Output.line("   status: [\(alert.severity.rawValue.uppercased())] \(alert.kind): \(alert.message)") }
            // The drive checked out (a test flip, not a dying disk): trust it again and heal.
            try library.acknowledgeDriveFailure("drive-b")
            _ = try library.setStore("drive-b", StoreChange(trust: true))
            let healed = try library.heal()
            Output.line("== trove store ack drive-b; trove store set drive-b --trust; trove heal   → \(healed.copiesReverified) copies re-verified, \(healed.copiesMade) made from the good ones")
        }
        try FileManager.default.moveItem(atPath: root + "/drive-c", toPath: root + "/drive-c-unplugged")
        Output.line("== (unplugged drive-c) trove status")
        let unplugged = try library.status()
        for store in unplugged.stores where !store.connected { Output.line("   \(store.record.label): NOT CONNECTED (\(store.problem ?? "not found"))") }
        for alert in unplugged.alerts { Output.line("   [\(alert.severity.rawValue.uppercased())] \(alert.kind): \(alert.message)") }
        if unplugged.alerts.isEmpty { Output.line("   no alert yet: every file still has 3 counted copies; after 3 days unseen drive-c is downgraded and heal copies elsewhere") }
        try FileManager.default.moveItem(atPath: root + "/drive-c-unplugged", toPath: root + "/drive-c")
        Output.line("== (plugged drive-c back in)")
    }

    /// The catalog is only an index: lost, it is made again from the records in any one store.
    func showCatalogLoss(_ library: Library, drive: String) throws -> Library {
        guard let backup = try library.backupRecords() else { return library }
        Output.line("== trove catalog backup   → library records #\(backup.sequence) (\(backup.entries) entries) on \(backup.stores.joined(separator: ", ")); also automatic after changes")
        let before = try library.status()
        let catalog = library.path + "/catalog.sqlite"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: catalog + suffix) }
        try? FileManager.default.removeItem(atPath: library.path + "/stores.json")
        Output.line("== (deleted \(catalog): the catalog is lost) trove catalog rebuild --from \(drive)")
        let (rebuilt, report) = try Library.rebuildCatalog(at: library.path, from: [RebuildSource(location: drive)], clock: library.clock)
        let after = try rebuilt.status()
        Output.line("   rebuilt from head #\(report.headSequence) on '\(report.headFrom)': \(report.files) files, \(report.imports) imports, \(report.snapshots) snapshots, \(report.events) events; copies found on \(report.listed.keys.sorted().joined(separator: ", "))")
        Output.line("   status before and after: \(before.files) files at durability \(before.durability.keys.sorted()) → \(after.files) files at durability \(after.durability.keys.sorted())")
        return rebuilt
    }

    func demoFolder() throws -> String {
        let path = dir.map(LibraryLocation.absolute) ?? (NSTemporaryDirectory() + "trove-demo-\(UUID().uuidString.prefix(8).lowercased())")
        if FileManager.default.fileExists(atPath: path) {
            throw TroveError(.libraryExists, "\(path) already exists; give --dir a new folder.")
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Deterministic sample files: "photos" of random bytes, nested notes, and one duplicate.
enum SampleData {
    static func generate(in folder: String, photos: Int) throws -> Int {
        let fm = FileManager.default
        try fm.createDirectory(atPath: folder + "/2026/trip", withIntermediateDirectories: true)
        var generator = SplitMix64(seed: 2026)
        var count = 0
        for index in 0..<photos {
            let size = 512 * 1024 + Int(generator.next() % UInt64(2 * 1024 * 1024))
            var bytes = [UInt8](repeating: 0, count: size)
            for i in stride(from: 0, to: size, by: 8) {
                let value = generator.next()
                for j in 0..<min(8, size - i) { bytes[i + j] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(j))) }
            }
            let sub = index % 2 == 0 ? "/2026" : "/2026/trip"
            _ = fm.createFile(atPath: "\(folder)\(sub)/IMG_\(String(format: "%04d", index)).jpg", contents: Data(bytes))
            count += 1
        }
        _ = fm.createFile(atPath: folder + "/notes.txt", contents: Data("Things I cannot lose.\n".utf8))
        _ = fm.createFile(atPath: folder + "/2026/trip/notes copy.txt", contents: Data("Things I cannot lose.\n".utf8))
        _ = fm.createFile(atPath: folder + "/empty.txt", contents: Data())
        return count + 3
    }
}


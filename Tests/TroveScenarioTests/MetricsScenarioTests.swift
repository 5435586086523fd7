import Foundation
import Testing
import TroveTesting

/// `trove metrics`: the status facts in Prometheus's text format, for a monitoring system.
struct MetricsScenarioTests {
    let dir = TempFolder("metrics")
    var lib: String { dir.at("library") }

    func run(_ args: [String]) throws -> TroveRun { try trove(args, library: lib) }

    /// The value of the sample whose line starts with `series` (name and labels).
    func value(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }

    @Test func metricsFollowWhatStatusSays() throws {
        #expect(try run(["init", "--copies", "2"]).status == 0)
        for i in 0..<2 { #expect(try run(["store", "add", dir.folder("usb\(i)"), "--label", "usb\(i)", "--disk", "d\(i)"]).status == 0) }
        for i in 0..<3 { dir.file("docs/d\(i).txt", testBytes(5000 + i, seed: UInt64(i))) }
        #expect(try run(["add", dir.at("docs"), "--store", "usb0"]).status == 0)
        var text = try run(["metrics"]).stdout
        #expect(value(text, "trove_status_code") == 1, "below target is a warning")
        #expect(value(text, "trove_files_below_target") == 3)
        #expect(value(text, "trove_durability_files{durability=\"1\"}") == 3)
        #expect(value(text, "trove_alerts{kind=\"low_durability\",severity=\"warning\"}") == 1, "\(text)")
        #expect(text.contains("# TYPE trove_store_connected gauge"))
        #expect(try run(["heal"]).status == 0)
        text = try run(["metrics"]).stdout
        #expect(value(text, "trove_status_code") == 0)
        #expect(value(text, "trove_durability_files{durability=\"2\"}") == 3)
        #expect(value(text, "trove_store_held_files{store=\"usb1\",kind=\"local\"}") == 3)
        #expect((value(text, "trove_last_event_timestamp_seconds{kind=\"recovery_finished\"}") ?? 0) > 0)
        // A drive unplugged shows as not connected, and status's alert with it.
        try FileManager.default.moveItem(atPath: dir.at("usb1"), toPath: dir.at("drawer"))
        text = try run(["metrics"]).stdout
        #expect(value(text, "trove_store_connected{store=\"usb1\",kind=\"local\"}") == 0)
        #expect(value(text, "trove_store_connected{store=\"usb0\",kind=\"local\"}") == 1)
        // For node_exporter's textfile collector: the file is replaced whole.
        let prom = dir.folder("collector") + "/trove.prom"
        #expect(try run(["metrics", "--textfile", prom]).status == 0)
        let written = String(decoding: try #require(FileManager.default.contents(atPath: prom)), as: UTF8.self)
        #expect(value(written, "trove_store_connected{store=\"usb1\",kind=\"local\"}") == 0)
        let missing = try run(["metrics", "--textfile", dir.at("no/such/folder/trove.prom")])
        #expect(missing.status == 66 && missing.stderr.contains("check that"), "\(missing.stderr)")
    }
}

import Foundation
import TroveCore
import TroveEngine
import TroveStorage

/// The CLI's output port: text for people, JSON for programs, errors on stderr.
enum Output {
    static func line(_ text: String = "") {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data(("trove: " + text + "\n").utf8))
    }

    /// Prints one JSON document (snake_case keys, ISO 8601 dates).
    static func json<T: Encodable>(_ value: T, pretty: Bool = true) {
        let encoder = pretty ? JSONCoding.prettyEncoder : JSONCoding.encoder
        if let data = try? encoder.encode(value) {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }

    static var isTerminal: Bool { isatty(STDOUT_FILENO) == 1 && isatty(STDERR_FILENO) == 1 }

    static func date(_ date: Date?) -> String {
        guard let date else { return "never" }
        return JSONCoding.formatDate(date)
    }

    /// A progress bar when a person is watching; nothing otherwise.
    static func progress(json: Bool) -> any ProgressReporter {
        (!json && isTerminal) ? TerminalProgress() : SilentProgress()
    }

    /// Pads a table's columns.
    static func table(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        var widths = Array(repeating: 0, count: first.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// Draws `[#####.....] 45%  1.2 GiB / 2.0 GiB  512 MiB/s` on stderr, at most ten times a second.
final class TerminalProgress: ProgressReporter, @unchecked Sendable {
    private let lock = NSLock()
    private var phase = ""
    private var total: UInt64?
    private var unit = ProgressUnit.bytes
    private var started = Date()
    private var lastDraw = Date.distantPast

    func begin(_ phase: String, total: UInt64?, unit: ProgressUnit) {
        lock.lock(); defer { lock.unlock() }
        self.phase = phase
        self.total = total
        self.unit = unit
        started = Date()
        lastDraw = .distantPast
    }

    func update(done: UInt64) {
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let elapsed = max(0.001, now.timeIntervalSince(started))
        let amount = unit == .bytes ? formatBytes(done) : "\(done)"
        var text = "\r\(phase) "
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let filled = Int(fraction * 24)
            text += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 24 - filled) + "] "
            text += "\(Int(fraction * 100))%  \(amount) / \(unit == .bytes ? formatBytes(total) : "\(total)")"
        } else {
            text += amount
        }
        if unit == .bytes { text += "  \(formatBytes(UInt64(Double(done) / elapsed)))/s" }
        FileHandle.standardError.write(Data((text + "\u{1B}[K").utf8))
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

import ArgumentParser
import Foundation

/// The one rule for numeric options: a value outside its range is a usage error (exit 64)
/// naming the option and the range, checked before anything runs, so no value can crash
/// Trove (overflow) or make it wait forever (a rate of zero).
func requireRange<T: Comparable>(_ value: T?, _ range: ClosedRange<T>, _ option: String) throws {
    guard let value, !range.contains(value) else { return }
    throw ValidationError("--\(option) must be between \(range.lowerBound) and \(range.upperBound), not \(value).")
}

/// Parses a bandwidth like `20MB/s`, `500KB/s`, `1.5MiB/s` or a plain number of bytes per
/// second; a usage error (exit 64) for anything else or a rate under 1 KB/s.
func parseRate(_ text: String) throws -> Int64 {
    var body = text.trimmingCharacters(in: .whitespaces).lowercased()
    if body.hasSuffix("/s") { body.removeLast(2) }
    let units: [(String, Double)] = [("kib", 1024), ("mib", 1_048_576), ("gib", 1_073_741_824), ("kb", 1e3), ("mb", 1e6), ("gb", 1e9),
                                     ("k", 1e3), ("m", 1e6), ("g", 1e9), ("b", 1)]
    var factor = 1.0
    for (suffix, value) in units where body.hasSuffix(suffix) {
        factor = value
        body.removeLast(suffix.count)
        break
    }
    guard let number = Double(body.trimmingCharacters(in: .whitespaces)), number.isFinite, number * factor >= 1000,
          number * factor < 1e15 else {
        throw ValidationError("--limit must be a rate of at least 1KB/s such as 20MB/s or 500KB/s, not '\(text)'.")
    }
    return Int64(number * factor)
}

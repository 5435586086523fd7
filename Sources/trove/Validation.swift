import ArgumentParser

/// The one rule for numeric options: a value outside its range is a usage error (exit 64)
/// naming the option and the range, checked before anything runs, so no value can crash
/// Trove (overflow) or make it wait forever (a rate of zero).
func requireRange<T: Comparable>(_ value: T?, _ range: ClosedRange<T>, _ option: String) throws {
    guard let value, !range.contains(value) else { return }
    throw ValidationError("--\(option) must be between \(range.lowerBound) and \(range.upperBound), not \(value).")
}

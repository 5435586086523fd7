import Foundation

/// A store that holds a copy of a file being read, as the read rule sees it.
public struct ReadSource: Sendable, Equatable {
    public var storeID: String
    public var trusted: Bool
    public var lastSeen: Date?
    /// Bytes this process is reading from the store right now.
    public var inFlight: UInt64
    /// Bytes per second the store has delivered to this process lately; nil before its first read.
    public var rate: Double?

    public init(storeID: String, trusted: Bool, lastSeen: Date?, inFlight: UInt64 = 0, rate: Double? = nil) {
        self.storeID = storeID
        self.trusted = trusted
        self.lastSeen = lastSeen
        self.inFlight = inFlight
        self.rate = rate
    }
}

/// The order to try copies in when reading a file of `size` bytes: trusted stores first; then
/// the store that would finish this read soonest, given what it is already delivering and how
/// fast it has delivered (ZEORaid spread reads over its mirrors; here a slow link or a busy
/// drive gets fewer reads, and several reads at once spread over drives and machines). A store
/// not read from yet counts as the fastest, so each gets tried; ties go to the most recently seen.
public func readOrder(_ sources: [ReadSource], size: UInt64) -> [String] {
    let fastest = sources.compactMap(\.rate).max() ?? 1
    func finish(_ source: ReadSource) -> Double {
        let rate = source.rate.map { max($0, 1) } ?? fastest * 1.000_001
        return Double(source.inFlight + max(size, 1)) / rate
    }
    return sources.sorted { a, b in
        if a.trusted != b.trusted { return a.trusted }
        let (x, y) = (finish(a), finish(b))
        if x != y { return x < y }
        return (a.lastSeen ?? .distantPast) > (b.lastSeen ?? .distantPast)
    }.map(\.storeID)
}

import Foundation

/// How many snapshots to keep per period (restic's --keep-hourly/daily/weekly/monthly).
public struct RetentionPolicy: Codable, Sendable, Equatable {
    public var hourly: Int
    public var daily: Int
    public var weekly: Int
    public var monthly: Int

    public init(hourly: Int = 24, daily: Int = 7, weekly: Int = 4, monthly: Int = 12) {
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
    }
}

/// A retention verdict for one snapshot.
public struct RetentionDecision: Sendable, Equatable {
    public var id: String
    public var keep: Bool
    /// Why it is kept ("latest", "hourly 3", "daily 1", …); empty when it goes.
    public var reasons: [String]
}

/// Keeps the newest snapshot of each of the last N hours, days, weeks and months (UTC), plus
/// the newest snapshot overall; everything else goes. Pure.
public func retention(_ snapshots: [(id: String, time: Date)], policy: RetentionPolicy) -> [RetentionDecision] {
    let sorted = snapshots.sorted { $0.time > $1.time }
    var reasons: [String: [String]] = [:]
    if let newest = sorted.first { reasons[newest.id, default: []].append("latest") }
    var calendar = Calendar(identifier: .iso8601)
    calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
    let buckets: [(String, Int, (Date) -> String)] = [
        ("hourly", policy.hourly, { d in let c = calendar.dateComponents([.year, .month, .day, .hour], from: d); return "\(c.year ?? 0)-\(c.month ?? 0)-\(c.day ?? 0)-\(c.hour ?? 0)" }),
        ("daily", policy.daily, { d in let c = calendar.dateComponents([.year, .month, .day], from: d); return "\(c.year ?? 0)-\(c.month ?? 0)-\(c.day ?? 0)" }),
        ("weekly", policy.weekly, { d in let c = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: d); return "\(c.yearForWeekOfYear ?? 0)-\(c.weekOfYear ?? 0)" }),
        ("monthly", policy.monthly, { d in let c = calendar.dateComponents([.year, .month], from: d); return "\(c.year ?? 0)-\(c.month ?? 0)" }),
    ]
    for (name, count, key) in buckets where count > 0 {
        var seen: [String] = []
        for snapshot in sorted {
            let bucket = key(snapshot.time)
            if seen.contains(bucket) { continue }
            seen.append(bucket)
            if seen.count > count { break }
            reasons[snapshot.id, default: []].append("\(name) \(seen.count)")
        }
    }
    return sorted.map { RetentionDecision(id: $0.id, keep: reasons[$0.id] != nil, reasons: reasons[$0.id] ?? []) }
}

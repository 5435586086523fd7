#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The `host-pid-random` part of a temporary file's name (a store's `tmp/` object, a restore's
/// `.trove-….tmp`), so any later run can tell a live writer's file from a killed one's leftover.
public enum WriterTag {
    /// A fresh tag for this process.
    public static func make() -> String { "\(hostName)-\(getpid())-\(StoreIdentity.newID())" }

    /// For a tag: true when it is this machine's and its process is gone, false when its process
    /// still runs, nil when it is another machine's (or no tag at all).
    public static func writerIsGone<S: StringProtocol>(_ tag: S) -> Bool? {
        let parts = tag.split(separator: "-")
        guard parts.count == 3, parts[0] == hostName, let pid = Int32(parts[1]) else { return nil }
        return pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH
    }

    /// This machine's name, with `-` replaced (the tag's separator).
    static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        let name = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "-", with: "_")
        return name.isEmpty ? "host" : name
    }()
}

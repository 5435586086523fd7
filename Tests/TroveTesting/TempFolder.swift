import Foundation
import TroveCore

/// A temporary folder removed when the value goes away.
public final class TempFolder: @unchecked Sendable {
    public let path: String

    public init(_ name: String = "trove-test") {
        let base = ProcessInfo.processInfo.environment["TROVE_TEST_TMP"] ?? NSTemporaryDirectory()
        path = (base as NSString).appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        // Make everything writable again so chmod'ed test files do not block cleanup.
        _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+rwx", path]).waitUntilExit()
        try? FileManager.default.removeItem(atPath: path)
    }

    /// A path inside the folder (not created).
    public func at(_ relative: String) -> String { path + "/" + relative }

    /// Makes a sub-folder and returns its path.
    @discardableResult
    public func folder(_ relative: String) -> String {
        let full = at(relative)
        try? FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        return full
    }

    /// Writes a file (making parent folders) and returns its path.
    @discardableResult
    public func file(_ relative: String, _ bytes: [UInt8]) -> String {
        let full = at(relative)
        try? FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: full, contents: Data(bytes))
        return full
    }

    @discardableResult
    public func file(_ relative: String, text: String) -> String { file(relative, Array(text.utf8)) }
}

/// Deterministic pseudo-random bytes (SplitMix64), so test data is the same every run.
public func testBytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    var out = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        let z = generator.next()
        for j in 0..<8 where i + j < count { out[i + j] = UInt8(truncatingIfNeeded: z >> (8 * UInt64(j))) }
        i += 8
    }
    return out
}

/// Flips one bit of a file in place (simulated bit rot), even if the file is read-only.
public func flipBit(in path: String, at offset: Int) throws {
    let url = URL(fileURLWithPath: path)
    _ = chmod(path, 0o644)
    var data = try Data(contentsOf: url)
    data[offset] ^= 0x01
    try data.write(to: url)
    _ = chmod(path, 0o444)
}

/// True when running as root (permission tests behave differently).
public var isRoot: Bool { getuid() == 0 }

import Foundation

/// Runs the built `trove` binary, as a user would, and captures what it prints.
public struct TroveRun: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    /// Parses stdout as one JSON document.
    public func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
            throw CocoaError(.coderReadCorrupt)
        }
        return object
    }

    /// Parses stdout as JSON lines.
    public func jsonLines() throws -> [[String: Any]] {
        try stdout.split(separator: "\n").map {
            guard let object = try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] else {
                throw CocoaError(.coderReadCorrupt)
            }
            return object
        }
    }
}

/// Where the `trove` binary was built: beside the test bundle, or `$TROVE_BIN`.
public func troveBinary() -> String {
    if let explicit = ProcessInfo.processInfo.environment["TROVE_BIN"] { return explicit }
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = folder.appendingPathComponent("trove").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        folder = folder.deletingLastPathComponent()
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug/trove").path
}

/// Runs `trove ARGS…` with a library and extra environment; never inherits TROVE_* from the caller.
/// With `asNobody` (when running as root) the command runs as user and group 65534, so
/// permission checks apply as they would for an ordinary user. With `hiding` (root only) it runs
/// in a mount namespace of its own where each of those folders is an empty mount: another
/// machine, where that drive is not attached.
public func trove(_ arguments: [String], library: String? = nil, environment: [String: String] = [:],
                  cwd: String? = nil, asNobody: Bool = false, hiding: [String] = []) throws -> TroveRun {
    let process = Process()
    let args = library.map { insertLibrary(arguments, $0) } ?? arguments
    if !hiding.isEmpty {
        let script = #"while [ "$1" != -- ]; do mount -t tmpfs none "$1" || exit 97; shift; done; shift; exec "$@""#
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh"] + hiding + ["--", troveBinary()] + args
    } else if asNobody && isRoot {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "--", troveBinary()] + args
    } else {
        process.executableURL = URL(fileURLWithPath: troveBinary())
        process.arguments = args
    }
    var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TROVE_") }
    env["TROVE_LOG_LEVEL"] = "error"
    for (key, value) in environment { env[key] = value }
    process.environment = env
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes concurrently so a chatty child never blocks on a full pipe.
    let errData = ReadBox()
    let errThread = Thread { errData.data = err.fileHandleForReading.readDataToEndOfFile() }
    errThread.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errData.done { usleep(1000) }
    return TroveRun(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                    stderr: String(decoding: errData.data, as: UTF8.self))
}

/// Starts `trove ARGS…` on a library without waiting (never inheriting TROVE_* from the caller);
/// its standard error goes to `stderrPath` when given, else nowhere.
public func startTrove(_ arguments: [String], library: String, environment: [String: String] = [:],
                       stderrPath: String? = nil) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: troveBinary())
    process.arguments = insertLibrary(arguments, library)
    var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TROVE_") }
    env["TROVE_LOG_LEVEL"] = "error"
    for (key, value) in environment { env[key] = value }
    process.environment = env
    process.standardOutput = FileHandle.nullDevice
    if let stderrPath {
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
    } else {
        process.standardError = FileHandle.nullDevice
    }
    try process.run()
    return process
}

/// `--library` goes after the subcommand path (e.g. `store add`), before other arguments.
public func insertLibrary(_ arguments: [String], _ library: String) -> [String] {
    var args = arguments
    let nested = ["store", "catalog", "grid", "peer", "host"].contains(args.first ?? "") && args.count > 1 ? 2 : 1
    args.insert(contentsOf: ["--library", library], at: min(nested, args.count))
    return args
}

final class ReadBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _data = Data()
    private var _done = false
    var data: Data {
        get { lock.lock(); defer { lock.unlock() }; return _data }
        set { lock.lock(); _data = newValue; _done = true; lock.unlock() }
    }
    var done: Bool { lock.lock(); defer { lock.unlock() }; return _done }
}

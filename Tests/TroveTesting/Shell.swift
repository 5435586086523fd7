import Foundation

/// What a shell command did.
public struct ShellResult: Sendable {
    public var status: Int32
    public var output: String
}

/// Runs `/bin/sh -c command` and returns its exit status and standard output; with `check`, a
/// non-zero exit throws (for set-up steps such as mounts that must succeed).
@discardableResult
public func shell(_ command: String, check: Bool = false) throws -> ShellResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    if check && process.terminationStatus != 0 {
        throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "`\(command)` exited \(process.terminationStatus)"])
    }
    return ShellResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

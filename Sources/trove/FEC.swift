import ArgumentParser
import Foundation
import TroveCore
import TroveEngine
import TroveFEC

struct FEC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fec", abstract: "Erasure-code a file into k-of-m share files, byte-compatible with zfec's tools.",
        discussion: """
            Reed-Solomon over GF(2^8), the same code and share-file format as `zfec`/`zunfec` (Debian's python3-zfec): shares written here decode with zunfec and zfec's shares decode here. Any k of the m share files give the file back.
            """,
        subcommands: [FECEncode.self, FECDecode.self])
}

struct FECEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode", abstract: "Write m share files of FILE, any k of which give it back (zfec's format).",
        discussion: "Share files are named PREFIX.NN_MM.fec in --dir (default: beside FILE); they appear only when complete.")

    @Argument(help: "The file to encode.") var file: String
    @Option(name: .short, help: "Shares needed to decode (1…m).") var k = 3
    @Option(name: .short, help: "Shares written (1…256).") var m = 10
    @Option(help: "Folder for the share files (default: the file's folder).") var dir: String?
    @Option(help: "Name prefix of the share files (default: the file's name).") var prefix: String?
    @Option(help: "Name suffix of the share files.") var suffix = ".fec"
    @Flag(help: "Replace share files that exist.") var overwrite = false
    @Option(help: "Threads to code on (default: every core).") var threads: Int?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        try requireRange(m, 1...256, "m")
        try requireRange(k, 1...m, "k")
        if let threads { try requireRange(threads, 1...256, "threads") }
    }

    func run() throws {
        try reportingErrors {
            let started = Date()
            let path = LibraryLocation.absolute(file)
            guard let info = try? FileManager.default.attributesOfItem(atPath: path), info[.type] as? FileAttributeType == .typeRegular else {
                throw TroveError(.pathMissing, "\(file) is not an existing file; check the path.")
            }
            let folder = dir.map(LibraryLocation.absolute) ?? (path as NSString).deletingLastPathComponent
            let shares = try translating {
                try ZfecFiles.encode(path, k: k, m: m, directory: folder, prefix: prefix, suffix: suffix, overwrite: overwrite,
                                     lanes: threads ?? ProcessInfo.processInfo.activeProcessorCount)
            }
            let seconds = Date().timeIntervalSince(started)
            if json {
                Output.json(FECReport(k: k, m: m, shares: shares, bytes: (info[.size] as? NSNumber)?.int64Value ?? 0, seconds: seconds,
                                      kernel: FECCodec.kernel))
            } else {
                Output.line("Wrote \(m) share files (any \(k) give \(file) back) in \(folder), e.g. \((shares[0] as NSString).lastPathComponent).")
            }
        }
    }
}

struct FECDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode", abstract: "Rebuild a file from k of its share files (Trove's or zfec's).",
        discussion: "The output appears only when complete. Exit 65 when fewer than k different shares are given or the share files disagree or are truncated; 73 when the output exists (pass --overwrite).")

    @Argument(help: "Share files (at least k different ones).") var shares: [String]
    @Option(help: "Where the rebuilt file goes.") var to: String
    @Flag(help: "Replace the output if it exists.") var overwrite = false
    @Option(help: "Threads to code on (default: every core).") var threads: Int?

    func validate() throws {
        if let threads { try requireRange(threads, 1...256, "threads") }
        guard !shares.isEmpty else { throw ValidationError("Give the share files to decode.") }
    }

    func run() throws {
        try reportingErrors {
            try translating {
                try ZfecFiles.decode(shares.map(LibraryLocation.absolute), to: LibraryLocation.absolute(to), overwrite: overwrite,
                                     lanes: threads ?? ProcessInfo.processInfo.activeProcessorCount)
            }
            Output.line("Rebuilt \(to) from \(shares.count) share files.")
        }
    }
}

/// FEC failures as Trove errors (bad parameters are usage errors; bad shares are corrupt data).
func translating<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as FECError { throw TroveError(.corruptData, error.message) }
}

struct FECReport: Codable {
    var k: Int
    var m: Int
    var shares: [String]
    var bytes: Int64
    var seconds: Double
    var kernel: String
}

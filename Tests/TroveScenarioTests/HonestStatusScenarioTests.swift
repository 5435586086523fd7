#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TroveTesting

/// Issue 10: status never reassures falsely, and no input crashes Trove or hangs it.
struct HonestStatusScenarioTests {
    let dir = TempFolder("honest")
    var lib: String { dir.at("library") }

    func run(_ args: [String]) throws -> TroveRun { try trove(args, library: lib) }

    @Test(arguments: [
        ["scrub", "--megabytes=-1"], ["scrub", "--megabytes", "18446744073710"], ["scrub", "--copies", "0"],
        ["du", "--top=-1"], ["heal", "--limit", "0"], ["heal", "--limit", "-5"], ["find", "x", "--limit", "0"],
        ["serve", "--limit", "0"], ["serve", "--passes", "0"], ["events", "--limit", "-3"],
        ["add", "/tmp", "--mirror", "0"], ["store", "add", "/tmp", "--copies", "99"], ["store", "set", "x", "--copies", "-1"],
        ["track", "/tmp", "--every", "0"], ["track", "/tmp", "--every", "inf"], ["track", "/tmp", "--keep-daily", "-1"],
        ["init", "--copies", "17"], ["demo", "--photos", "0"],
    ])
    func everyNumericOptionIsValidated(_ args: [String]) throws {
        #expect(try run(["init"]).status == 0 || args.first == "init")
        let result = try run(args)
        #expect(result.status == 64, "\(args): exit \(result.status) \(result.stderr)")
        #expect(result.stderr.contains("--") || result.stderr.contains("between"), "\(args): \(result.stderr)")
    }
}

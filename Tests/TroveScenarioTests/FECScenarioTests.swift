import Foundation
import Testing
import TroveCore
import TroveTesting

/// Issue 15's codec against the real zfec tools (PyPI's or Debian's `zfec`/`zunfec`, which
/// .ci/run installs): the share files are byte-identical both ways, and each side decodes the
/// other's.
@Suite(.serialized) struct FECScenarioTests {
    let dir = TempFolder("fec")

    static func zfecInstalled() -> Bool {
        (try? shell("command -v zfec && command -v zunfec").status) == 0
    }

    func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    @Test(arguments: [(3, 10, 100_003), (4, 6, 4096 * 4 * 2), (1, 2, 5), (7, 9, 300_000), (2, 2, 0), (10, 20, 4096 * 10 + 1)])
    func sharesInteroperateWithZfec(_ k: Int, _ m: Int, _ size: Int) throws {
        try #require(Self.zfecInstalled(), "zfec and zunfec must be installed (pip install zfec); .ci/run installs them")
        let name = "data-\(k)-\(m)-\(size).bin"
        dir.file(name, testBytes(size, seed: UInt64(size + k)))
        let input = dir.at(name)
        let ours = dir.folder("ours-\(k)-\(m)-\(size)"), theirs = dir.folder("theirs-\(k)-\(m)-\(size)")
        let encode = try trove(["fec", "encode", input, "-k", String(k), "-m", String(m), "--dir", ours])
        #expect(encode.status == 0, "\(encode.stderr)")
        let zfec = try shell("zfec -q -k \(k) -m \(m) -d '\(theirs)' -p '\(name)' '\(input)' 2>&1")
        #expect(zfec.status == 0, "\(zfec.output)")
        let ourFiles = try FileManager.default.contentsOfDirectory(atPath: ours).sorted()
        let theirFiles = try FileManager.default.contentsOfDirectory(atPath: theirs).sorted()
        #expect(ourFiles == theirFiles && ourFiles.count == m, "the same names: \(ourFiles) vs \(theirFiles)")
        for file in ourFiles {
            #expect(contents(ours + "/" + file) == contents(theirs + "/" + file), "\(file) is byte-identical to zfec's")
        }
        // Any k shares: the last k of ours through zunfec (which insists on at least two), the
        // first k of zfec's through trove.
        let fromOurs = dir.at("zunfec-\(name)")
        let zunfec = try shell("zunfec -o '\(fromOurs)' " + ourFiles.suffix(max(k, 2)).map { "'\(ours)/\($0)'" }.joined(separator: " ") + " 2>&1")
        #expect(zunfec.status == 0, "\(zunfec.output)")
        #expect(contents(fromOurs) == contents(input))
        let fromTheirs = dir.at("trove-\(name)")
        let decode = try trove(["fec", "decode"] + theirFiles.prefix(k).map { theirs + "/" + $0 } + ["--to", fromTheirs])
        #expect(decode.status == 0, "\(decode.stderr)")
        #expect(contents(fromTheirs) == contents(input))
    }

    @Test func tooFewSharesOrADamagedHeaderFailClearly() throws {
        dir.file("x.bin", testBytes(50_000, seed: 1))
        #expect(try trove(["fec", "encode", dir.at("x.bin"), "-k", "3", "-m", "5", "--dir", dir.folder("s")]).status == 0)
        let few = try trove(["fec", "decode", dir.at("s/x.bin.0_5.fec"), dir.at("s/x.bin.4_5.fec"), "--to", dir.at("out")])
        #expect(few.status == 65 && few.stderr.contains("3 of the 5 are needed"), "\(few.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.at("out")))
        let again = try trove(["fec", "encode", dir.at("x.bin"), "-k", "3", "-m", "5", "--dir", dir.at("s")])
        #expect(again.status == 73 && again.stderr.contains("--overwrite"), "\(again.stderr)")
        let bad = try trove(["fec", "encode", dir.at("x.bin"), "-k", "6", "-m", "5"])
        #expect(bad.status == 64, "\(bad.stderr)")
        try Data([0xFF, 0xFF, 0xFF]).write(to: URL(fileURLWithPath: dir.at("s/x.bin.1_5.fec")))
        let damaged = try trove(["fec", "decode", dir.at("s/x.bin.0_5.fec"), dir.at("s/x.bin.1_5.fec"), dir.at("s/x.bin.2_5.fec"), "--to", dir.at("out")])
        #expect(damaged.status == 65, "\(damaged.stderr)")
    }
}

import CTroveGF
import Foundation
import Testing
import TroveCore
import TroveFEC
import TroveTesting

/// The codec against zfec's published vectors (DESIGN.md / seed-systems §4), any-k-of-n
/// decoding as a property, and every SIMD kernel against the portable one.
struct FECTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func matrixRowsAreZfecs() throws {
        let m310 = try FECMatrix(k: 3, n: 10)
        #expect(m310.rows.prefix(3).map { $0 } == [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "systematic")
        #expect(m310.rows.dropFirst(3).map(Self.hex) == ["0f0806", "2d301c", "99e078", "0be7ed", "893bb3", "46f1b6", "bad962"])
        #expect(try FECMatrix(k: 2, n: 4).rows.dropFirst(2).map(Self.hex) == ["0302", "0504"])
        #expect(throws: FECError.self) { try FECMatrix(k: 4, n: 3) }
        #expect(throws: FECError.self) { try FECMatrix(k: 1, n: 257) }
    }

    @Test func zfecsOwnEncoderTest() throws {
        let codec = try FECCodec(k: 3, n: 5)
        let shares = try codec.encode([[UInt8](repeating: 1, count: 8), [UInt8](repeating: 2, count: 8), [UInt8](repeating: 3, count: 8)],
                                      shares: [3, 4])
        #expect(shares == [[UInt8](repeating: 0x15, count: 8), [UInt8](repeating: 0x69, count: 8)])
    }

    @Test func helloWorldVectorThreeOfTen() throws {
        let text = Array("Hello, world! This is zfec test vector.".utf8)
        #expect(text.count == 39)
        let codec = try FECCodec(k: 3, n: 10)
        let blocks = (0..<3).map { Array(text[($0 * 13)..<($0 * 13 + 13)]) }
        let shares = try codec.encode(blocks, shares: Array(0..<10))
        #expect(Self.hex(shares[3]) == "42967a06d564bb3b0526361829")
        #expect(Self.hex(shares[9]) == "e6837a9c444ba19e3aa5e382ce")
        let back = try codec.decode([(3, shares[3]), (7, shares[7]), (9, shares[9])])
        #expect(back.flatMap { $0 } == text)
    }

    @Test(arguments: [1, 2])
    func anyKOfNSharesDecode(lanes: Int) throws {
        var random = SplitMix64(seed: 99)
        // Edge cases first, then a sample of (k, n) up to 256 and lengths around the stride.
        var cases: [(k: Int, n: Int, length: Int)] = [(1, 1, 10), (1, 5, 0), (5, 5, 1), (3, 10, 1), (256, 256, 3), (1, 256, 17),
                                                      (128, 256, 40), (3, 10, 16 * 1024 + 1), (4, 6, 64 * 1024 + 33)]
        for _ in 0..<40 {
            let n = 1 + Int(random.next() % 256)
            cases.append((1 + Int(random.next() % UInt64(n)), n, Int(random.next() % 3000)))
        }
        for (k, n, length) in cases {
            let codec = try FECCodec(k: k, n: n, lanes: lanes)
            let blocks = (0..<k).map { block in (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
            let shares = try codec.encode(blocks, shares: Array(0..<n))
            #expect(Array(shares.prefix(k)) == blocks, "the first k shares are the data")
            // A random k of the n, in random order.
            var numbers = Array(0..<n)
            for index in numbers.indices.reversed() { numbers.swapAt(index, Int(random.next() % UInt64(index + 1))) }
            let chosen = numbers.prefix(k).map { ($0, shares[$0]) }
            #expect(try codec.decode(chosen) == blocks, "k \(k), n \(n), length \(length), shares \(chosen.map(\.0))")
        }
    }

    @Test func tooFewOrMismatchedSharesAreRefused() throws {
        let codec = try FECCodec(k: 3, n: 5)
        let shares = try codec.encode([[1, 2], [3, 4], [5, 6]], shares: [0, 1, 2, 3, 4])
        #expect(throws: FECError.self) { try codec.decode([(0, shares[0]), (4, shares[4])]) }
        #expect(throws: FECError.self) { try codec.decode([(0, shares[0]), (0, shares[0]), (4, shares[4])]) }
        #expect(throws: FECError.self) { try codec.decode([(0, shares[0]), (1, [1]), (4, shares[4])]) }
    }

    @Test func everyKernelAgreesWithThePortableOne() {
        var random = SplitMix64(seed: 5)
        let best = trove_gf_best_kernel()
        for length in [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 4096, 70_001] {
            let source = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let start = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            for c in [UInt8(0), 1, 2, 0x1d, 0x8e, 0xff, UInt8(truncatingIfNeeded: random.next())] {
                var expected = start
                for i in 0..<length { expected[i] ^= trove_gf_mul(c, source[i]) }
                for kernel in [TROVE_GF_PORTABLE, TROVE_GF_SSSE3, TROVE_GF_AVX2] {
                    var out = start
                    out.withUnsafeMutableBufferPointer { dst in
                        source.withUnsafeBufferPointer { src in
                            _ = trove_gf_mul_add_with(kernel, dst.baseAddress, src.baseAddress, c, length)
                        }
                    }
                    #expect(out == expected, "kernel \(kernel.rawValue) (best here \(best.rawValue)), c \(c), length \(length)")
                }
            }
        }
        // The field itself: α^8 = 0x1d, 2 · 0x8e = 1.
        #expect(trove_gf_mul(0x80, 2) == 0x1d && trove_gf_mul(2, 0x8e) == 1)
    }

    @Test func shareFileHeadersRoundTripAndMatchZfecsPacking() throws {
        // m = 10, k = 3, pad = 2, share 7: 00001001 | 0010 | 10 | 0111, left-aligned in 3 bytes.
        #expect(ZfecShareFile.header(.init(m: 10, k: 3, pad: 2, share: 7)) == [0x09, 0x29, 0xC0])
        // m = 1, k = 1: 8 bits only, still 2 bytes.
        #expect(ZfecShareFile.header(.init(m: 1, k: 1, pad: 0, share: 0)) == [0x00, 0x00])
        var random = SplitMix64(seed: 3)
        for _ in 0..<2000 {
            let m = 1 + Int(random.next() % 256), k = 1 + Int(random.next() % UInt64(m))
            let header = ZfecShareFile.Header(m: m, k: k, pad: Int(random.next() % UInt64(k)), share: Int(random.next() % UInt64(m)))
            let bytes = ZfecShareFile.header(header)
            #expect((2...4).contains(bytes.count))
            let (parsed, length) = try ZfecShareFile.parseHeader(bytes + [0xAB, 0xCD])
            #expect(parsed == header && length == bytes.count)
        }
        #expect(ZfecShareFile.name(prefix: "photo.raw", share: 3, m: 10) == "photo.raw.03_10.fec")
        #expect(ZfecShareFile.name(prefix: "x", share: 7, m: 256) == "x.007_256.fec")
    }

    @Test func filesRoundTripThroughAnyKShareFiles() throws {
        let folder = TempFolder("fec")
        for (size, k, m) in [(0, 3, 10), (1, 3, 10), (4096 * 3, 3, 10), (4096 * 3 * 300 + 7, 4, 6), (100_003, 1, 3), (5000, 5, 5)] {
            let input = folder.at("in-\(size)-\(k)-\(m)")
            folder.file("in-\(size)-\(k)-\(m)", testBytes(size, seed: UInt64(size)))
            let shares = try ZfecFiles.encode(input, k: k, m: m, directory: folder.folder("shares-\(size)-\(k)-\(m)"), lanes: 2)
            #expect(shares.count == m)
            let out = folder.at("out-\(size)-\(k)-\(m)")
            try ZfecFiles.decode(Array(shares.reversed().prefix(k)), to: out, lanes: 2)
            #expect(FileManager.default.contents(atPath: out) == FileManager.default.contents(atPath: input))
            if k > 1 {
                #expect(throws: TroveError.self) { try ZfecFiles.decode(Array(shares.prefix(k - 1)), to: out + ".short", lanes: 1) }
                #expect(!FileManager.default.fileExists(atPath: out + ".short"), "nothing is left behind")
            }
        }
    }
}

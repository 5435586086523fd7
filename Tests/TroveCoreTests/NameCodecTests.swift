import Testing
import TroveCore

struct NameCodecTests {
    @Test func everyByteStringRoundTrips() {
        // Property: encode(decode(b)) == b for random byte strings, biased toward the tricky
        // bytes (continuation bytes, F4 8F BE/BF prefixes of the escape range, lone leads).
        var generator = SystemRandomNumberGenerator()
        let tricky: [UInt8] = [0x80, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0x8F, 0xBE, 0xFF, 0x2F, 0x5C, 0x0A, 0x41]
        for _ in 0..<5_000 {
            let length = Int.random(in: 0...12, using: &generator)
            let bytes = (0..<length).map { _ in
                Bool.random(using: &generator) ? tricky.randomElement(using: &generator)! : UInt8.random(in: 0...255, using: &generator)
            }
            #expect(NameCodec.encode(NameCodec.decode(bytes)) == bytes, "\(bytes)")
        }
    }

    @Test func validNamesStayAsTheyAre() {
        for name in ["plain.txt", "caf\u{e9}", "cafe\u{301}", "📷 2026", "a\\b", "-rf", "*?[", "line\nbreak"] {
            #expect(NameCodec.decode(Array(name.utf8)) == name)
            #expect(NameCodec.encode(name) == Array(name.utf8))
            #expect(!NameCodec.needsEncoding(name))
        }
    }

    @Test func aGenuineEscapeCharacterIsNotMistakenForAByte() {
        // U+10FFFE in a real (valid UTF-8) name must come back as its four bytes, not as 0xFE.
        let bytes = Array("x\u{10FFFE}y".utf8)
        let held = NameCodec.decode(bytes)
        #expect(NameCodec.encode(held) == bytes)
        #expect(NameCodec.decode([0x78, 0xFE, 0x79]) != held)
    }

    @Test func displayEscapesLikeLsDashB() {
        #expect(NameCodec.display(NameCodec.decode([0x62, 0x61, 0x64, 0xFF, 0xFE])) == "bad\\xff\\xfe")
        #expect(NameCodec.display("tab\there") == "tab\\there")
        #expect(NameCodec.display("back\\slash") == "back\\\\slash")
        #expect(NameCodec.display("new\nline") == "new\\nline")
        #expect(NameCodec.display("caf\u{e9}") == "caf\u{e9}")
    }

    @Test func readablePartsStaySearchable() {
        let held = NameCodec.decode(Array("report-".utf8) + [0xE9] + Array("t\u{e9}.pdf".utf8))
        #expect(held.hasPrefix("report-") && held.hasSuffix("t\u{e9}.pdf"))
    }
}

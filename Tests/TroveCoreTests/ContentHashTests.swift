import Testing
import TroveCore
import TroveTesting

/// Vectors computed independently with Python's hashlib from the DESIGN.md definition
/// (see docs/protocol.md). Input bytes: `i % 251` for position i, except "one byte" = "A".
struct ContentHashTests {
    static let leaf = ContentHash.leafSize

    static func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8($0 % 251) } }

    static let vectors: [(name: String, size: Int, id: String)] = [
        ("empty", 0, "tcih4jrrwbzh6m5ed6dojtyd36ztwcdgbq6mql6wqmx66kyhi27q"),
        ("leaf minus one", leaf - 1, "5nywgskbjdlnxndutefulkemlg43lxcfbrekar6owhugdf6aycua"),
        ("one leaf", leaf, "m5twobhaxlsbbqjidyrjjjwkqce53y5pmlotie6xdbmjqssh2w4q"),
        ("leaf plus one", leaf + 1, "iaur6wtsjmivtmaxwh5kofk6xdliviwfcxtmrjbere4xakvhnutq"),
        ("three leaves plus five", 3 * leaf + 5, "nu7l34jxyxueao45wal7ihgkwyr5ecittjjyn6hdgxwmphv7ovea"),
    ]

    @Test func oneByteVector() {
        let (id, leaves) = ContentHash.hash(Array("A".utf8))
        #expect(id.description == "zefx3kij3abe34xs4z2qxt7745xj4ezzfuhzbxwpjzlqg2pj4cgq")
        #expect(leaves.map(\.description) == ["hsjuvjgzzii2jmzmnju427drg5ojkpwim4e5yefqncmybf4culua"])
    }

    @Test(arguments: 0..<5)
    func boundaryVectors(_ index: Int) {
        let vector = Self.vectors[index]
        let (id, leaves) = ContentHash.hash(Self.pattern(vector.size))
        #expect(id.description == vector.id, "\(vector.name)")
        #expect(leaves.count == ContentHash.leafCount(size: UInt64(vector.size)))
    }

    /// Property: bytes fed in random pieces give the one-shot ID, and a part hashed on its own
    /// from its leaf index gives exactly that leaf's hash (what a server records per upload part).
    @Test(arguments: [UInt64(1), 2, 3])
    func hasherMatchesOneShotHashingInAnyPieces(_ seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let size = Int(random.next() % UInt64(3 * Self.leaf))
        let bytes = Self.pattern(size)
        let (id, leaves) = ContentHash.hash(bytes)
        var hasher = ContentHasher()
        var offset = 0
        while offset < size {
            let piece = min(size - offset, 1 + Int(random.next() % 3_000_000))
            hasher.update(Array(bytes[offset..<offset + piece]))
            offset += piece
        }
        #expect(hasher.finish() == id)
        for (index, leaf) in leaves.enumerated() {
            var part = ContentHasher(startingAtLeaf: index)
            part.update(Array(bytes[index * Self.leaf..<min(size, (index + 1) * Self.leaf)]))
            #expect(part.finishLeaves() == [leaf], "leaf \(index) of \(size) bytes")
        }
    }

    @Test func leafHashesOfVectors() {
        let (_, leaves) = ContentHash.hash(Self.pattern(3 * Self.leaf + 5))
        #expect(leaves.first?.description == "tfwrjgjwtw6it3jtnrwersmdmlqq5qrht3fnswawgcswjwczlqmq")
        #expect(leaves.last?.description == "2dwie63zxadg4ju5iooafricd72hrcmh53dzfddss4ulukxdiueq")
    }

    @Test func idsAre52LowercaseCharacters() {
        let id = ContentHash.hash([1, 2, 3]).id.description
        #expect(id.count == 52)
        #expect(id == id.lowercased())
        #expect(!id.contains("="))
    }

    @Test func sizeAndIndexAreBoundIn() {
        // The same leaf bytes at another index, or a different size claim, give other hashes.
        let leafBytes = testBytes(100)
        #expect(ContentHash.leafHash(index: 0, leaf: leafBytes) != ContentHash.leafHash(index: 1, leaf: leafBytes))
        let leaves = [ContentHash.leafHash(index: 0, leaf: leafBytes)]
        #expect(ContentHash.root(size: 100, leafHashes: leaves) != ContentHash.root(size: 99, leafHashes: leaves))
    }

    @Test func consistencyCheckCatchesTampering() {
        let data = testBytes(Self.leaf + 10)
        let (id, leaves) = ContentHash.hash(data)
        let good = FileRecord(id: id, size: UInt64(data.count), leafHashes: leaves, firstSeen: .now)
        #expect(good.inconsistency == nil)
        var wrongSize = good
        wrongSize.size -= 1
        #expect(wrongSize.inconsistency != nil)
        var wrongLeaf = good
        wrongLeaf.leafHashes[1] = LeafHash(bytes: [UInt8](repeating: 7, count: 32))
        #expect(wrongLeaf.inconsistency != nil)
    }
}

struct Base32Tests {
    @Test func rfc4648Vectors() {
        // RFC 4648 §10, lowercased and without padding.
        let cases = ["": "", "f": "my", "fo": "mzxq", "foo": "mzxw6", "foob": "mzxw6yq", "fooba": "mzxw6ytb", "foobar": "mzxw6ytboi"]
        for (plain, encoded) in cases {
            #expect(Base32.encode(Array(plain.utf8)) == encoded)
            #expect(Base32.decode(encoded) == Array(plain.utf8))
        }
    }

    @Test func roundTripsRandomBytes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(Base32.decode(Base32.encode(bytes)) == bytes)
        }
    }

    @Test func rejectsMalformedIDs() {
        let valid = ContentHash.hash([9]).id.description
        #expect(ContentID(valid) != nil)
        #expect(ContentID(valid.uppercased()) == nil)
        #expect(ContentID(String(valid.dropLast())) == nil)
        #expect(ContentID(valid + "a") == nil)
        #expect(ContentID(String(valid.dropLast()) + "1") == nil)
        #expect(ContentID("not-an-id") == nil)
    }
}

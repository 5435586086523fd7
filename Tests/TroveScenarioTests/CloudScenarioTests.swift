import Foundation
import Testing
import TroveCore
import TroveS3
import TroveTesting

/// Issue 11: copies off this machine, in S3 (moto) and encrypted, checked by an independent client.
@Suite(.serialized) struct CloudScenarioTests {
    let dir = TempFolder("cloud")
    var lib: String { dir.at("library") }
    static let passphrase = "correct horse battery staple"
    let env = ["AWS_ACCESS_KEY_ID": MotoServer.credentials.accessKey, "AWS_SECRET_ACCESS_KEY": MotoServer.credentials.secretKey,
               "TROVE_PASSPHRASE": passphrase]

    func run(_ args: [String]) throws -> TroveRun { try trove(args, library: lib, environment: env) }

    /// A tree with small files (each with a marker a plaintext search can find) and one of several leaves.
    func makeTree() throws -> String {
        let root = dir.folder("tree")
        for index in 0..<12 {
            try Data("PLAINTEXT-MARKER file \(index) \(String(repeating: "x", count: index * 100))".utf8)
                .write(to: URL(fileURLWithPath: "\(root)/note\(index).txt"))
        }
        var generator = SplitMix64(seed: 42)
        let big = (0..<(17 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        try Data(big).write(to: URL(fileURLWithPath: root + "/big.bin"))
        return root
    }

    func bucket(_ moto: MotoServer, _ name: String) throws -> String {
        let bucket = "\(name)-\(UUID().uuidString.prefix(8).lowercased())"
        try moto.createBucket(bucket)
        return bucket
    }

    /// Runs python with boto3 against the server; returns stdout.
    func python(_ script: String, endpoint: String, _ args: [String]) throws -> String {
        let path = dir.at("script.py")
        try Data(("import boto3, sys\ns3 = boto3.client('s3', endpoint_url='\(endpoint)', aws_access_key_id='x', aws_secret_access_key='y', region_name='us-east-1')\n" + script).utf8)
            .write(to: URL(fileURLWithPath: path))
        let result = try shell("python3 \(path) " + args.joined(separator: " ") + " 2>&1")
        #expect(result.status == 0, "\(result.output)")
        return result.output
    }

    @Test func healToS3AndReadTheBucketBackWithAnotherClient() throws {
        let moto = try MotoServer.shared.get()
        let plain = try bucket(moto, "plain"), secret = try bucket(moto, "secret")
        let endpoint = moto.endpoint.absoluteString
        #expect(try run(["init", "--copies", "3"]).status == 0)
        #expect(try run(["store", "add", dir.folder("usb1"), "--label", "usb1", "--disk", "usb1"]).status == 0)
        let cloud = try run(["store", "add", "s3://\(plain)/trove", "--endpoint", endpoint, "--path-style", "--label", "cloud"])
        #expect(cloud.status == 0, "\(cloud.stderr)")
        let vault = try run(["store", "add", "s3://\(secret)/t", "--endpoint", endpoint, "--path-style", "--label", "vault", "--encrypt"])
        #expect(vault.status == 0, "\(vault.stderr)")
        #expect(try run(["add", try makeTree()]).status == 0)
        let heal = try run(["heal"])
        #expect(heal.status == 0, "\(heal.stdout) \(heal.stderr)")
        let list = try run(["store", "list", "--json"]).json()["stores"] as? [[String: Any]] ?? []
        let byLabel = Dictionary(uniqueKeysWithValues: list.map { ($0["label"] as? String ?? "", $0) })
        #expect(byLabel["cloud"]?["kind"] as? String == "s3")
        #expect(byLabel["vault"]?["encrypted"] as? Bool == true)
        #expect(byLabel["cloud"]?["files"] as? Int == 13)
        #expect(byLabel["vault"]?["files"] as? Int == 13)

        // Every object in the plain bucket (a pack too), downloaded by boto3, hashes to the ID it
        // is stored under.
        let download = dir.folder("download")
        let names = try python("""
            for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[1], Prefix='trove/objects/'):
                for o in page.get('Contents', []):
                    name = o['Key'].split('/')[-1]
                    s3.download_file(sys.argv[1], o['Key'], sys.argv[2] + '/' + name)
                    print(name)
            """, endpoint: endpoint, [plain, download]).split(separator: "\n").map(String.init)
        // The twelve notes are one pack; the big file is an object of its own.
        #expect(names.count == 2)
        for name in names {
            let hashed = try trove(["hash", download + "/" + name])
            #expect(hashed.stdout.hasPrefix(name), "object \(name) hashes to \(hashed.stdout)")
        }

        // The encrypted bucket holds neither plaintext nor any content ID, in keys or bytes.
        let leaked = try python("""
            ids = sys.argv[2].split(',')
            found = []
            for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[1]):
                for o in page.get('Contents', []):
                    body = s3.get_object(Bucket=sys.argv[1], Key=o['Key'])['Body'].read()
                    if b'PLAINTEXT-MARKER' in body: found.append('plaintext in ' + o['Key'])
                    for i in ids:
                        if i in o['Key'] or i.encode() in body: found.append('id ' + i + ' in ' + o['Key'])
            print(len(found)); print('\\n'.join(found))
            """, endpoint: endpoint, [secret, names.joined(separator: ",")])
        #expect(leaked.hasPrefix("0\n"), "\(leaked)")
    }

    @Test func aServerThatGoesAwayMidHealIsUnreachableNotCorrupt() throws {
        let moto = try MotoServer.shared.get()
        let relay = try TCPRelay(to: moto.port)
        let plain = try bucket(moto, "flaky")
        #expect(try run(["init", "--copies", "2"]).status == 0)
        #expect(try run(["store", "add", dir.folder("usb1"), "--label", "usb1"]).status == 0)
        #expect(try run(["store", "add", "s3://\(plain)/t", "--endpoint", relay.endpoint, "--path-style", "--label", "cloud",
                         "--limit", "4MB/s"]).status == 0)
        // Imported to the drive only, so heal has 17 MiB to send to the cloud at 4 MB/s.
        #expect(try run(["add", try makeTree(), "--store", "usb1"]).status == 0)
        let heal = Process()
        heal.executableURL = URL(fileURLWithPath: troveBinary())
        heal.arguments = ["heal", "--library", lib]
        heal.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let err = Pipe()
        heal.standardError = err
        heal.standardOutput = FileHandle.nullDevice
        try heal.run()
        // Cut the server off while the big file's multipart upload is under way (about 4 s at 4 MB/s).
        let client = moto.client(bucket: plain)
        defer { client.shutdown() }
        let deadline = Date().addingTimeInterval(60)
        while heal.isRunning, Date() < deadline, (try? client.listMultipartUploads(prefix: "t/objects/").isEmpty) ?? true {
            Thread.sleep(forTimeInterval: 0.05)
        }
        relay.stop()
        heal.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(heal.terminationStatus == 75, "\(stderr)")
        #expect(stderr.contains("'cloud' is unreachable"), "\(stderr)")
        let events = try run(["events", "--json", "--limit", "1000"]).stdout
        #expect(!events.contains("corrupt_copy") && !events.contains("store_downgraded"), "\(events)")
        #expect(events.contains("store_unreachable"))
        let status = try run(["status", "--json"])
        #expect(!status.stdout.contains("drive_failure"))
        let cloud = (try status.json()["stores"] as? [[String: Any]] ?? []).first { $0["label"] as? String == "cloud" }
        #expect(cloud?["trust"] as? String == "trusted")

        try relay.start()
        let again = try run(["heal"])
        #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
        #expect(try run(["verify", "--store", "cloud"]).status == 0)
    }

    @Test func aFlippedByteInTheBucketIsNamedAndHealed() throws {
        let moto = try MotoServer.shared.get()
        let plain = try bucket(moto, "rot")
        let endpoint = moto.endpoint.absoluteString
        #expect(try run(["init", "--copies", "2"]).status == 0)
        #expect(try run(["store", "add", dir.folder("usb1"), "--label", "usb1"]).status == 0)
        #expect(try run(["store", "add", "s3://\(plain)/t", "--endpoint", endpoint, "--path-style", "--label", "cloud"]).status == 0)
        #expect(try run(["add", try makeTree()]).status == 0)
        #expect(try run(["heal"]).status == 0)
        let big = try trove(["hash", dir.at("tree/big.bin")]).stdout.split(separator: " ").first.map(String.init) ?? ""
        // Flip one byte in the second leaf (8 MiB + 5) of the big file's object, as bit rot would.
        _ = try python("""
            key = 't/objects/' + sys.argv[2]
            body = bytearray(s3.get_object(Bucket=sys.argv[1], Key=key)['Body'].read())
            body[8 * 1024 * 1024 + 5] ^= 0x40
            s3.put_object(Bucket=sys.argv[1], Key=key, Body=bytes(body))
            """, endpoint: endpoint, [plain, big])
        let verify = try run(["verify", "--store", "cloud"])
        #expect(verify.status == 2, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains("corrupt \(big) at leaf 1"), "\(verify.stdout)")
        let heal = try run(["heal"])
        #expect(heal.status == 0, "\(heal.stdout) \(heal.stderr)")
        #expect(try run(["verify", "--store", "cloud"]).status == 0)
    }

    @Test func anEncryptedStoreReadsBackOnAnotherMachineWithItsPassphraseOnly() throws {
        let drive = dir.folder("usb-enc")
        #expect(try run(["init", "--copies", "1"]).status == 0)
        let added = try run(["store", "add", drive, "--label", "vault", "--encrypt"])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(try run(["add", try makeTree()]).status == 0)
        let id = try trove(["hash", dir.at("tree/big.bin")]).stdout.split(separator: " ").first.map(String.init) ?? ""
        // Nothing on the drive names the file or holds its bytes in the clear.
        let grep = try shell("grep -rl PLAINTEXT-MARKER \(drive) | wc -l; ls -R \(drive) | grep -c \(id)")
        #expect(grep.output.split(separator: "\n").map(String.init) == ["0", "0"], "\(grep.output)")

        // Another machine: a new library, the drive, the passphrase. A wrong one is refused and changes nothing.
        let other = dir.at("other-library")
        #expect(try trove(["init", "--copies", "1"], library: other).status == 0)
        let wrong = try trove(["store", "add", drive], library: other, environment: ["TROVE_PASSPHRASE": "not the passphrase"])
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("passphrase"), "\(wrong.stderr)")
        let right = try trove(["store", "add", drive, "--json"], library: other, environment: ["TROVE_PASSPHRASE": Self.passphrase])
        #expect(right.status == 0, "\(right.stderr)")
        #expect((try right.json()["adopted"] as? [String: Any])?["new"] as? Int == 13)
        let out = dir.at("big.out")
        let get = try trove(["get", id, "--to", out], library: other)
        #expect(get.status == 0, "\(get.stderr)")
        #expect(FileManager.default.contentsEqual(atPath: out, andPath: dir.at("tree/big.bin")))
        // It runs unattended there from now on: the library keeps a key file (mode 0600).
        #expect(try trove(["verify", "--store", "vault"], library: other).status == 0)
    }

    @Test func aBucketThatDoesNotExistIsNamed() throws {
        let moto = try MotoServer.shared.get()
        #expect(try run(["init"]).status == 0)
        let result = try run(["store", "add", "s3://no-such-bucket-\(UUID().uuidString.prefix(6).lowercased())/x",
                              "--endpoint", moto.endpoint.absoluteString, "--path-style"])
        #expect(result.status == 66, "\(result.stderr)")
        #expect(result.stderr.contains("create it first"), "\(result.stderr)")
        #expect((try run(["store", "list", "--json"]).json()["stores"] as? [Any])?.isEmpty == true, "no store was recorded")
    }
}

import Foundation
import TroveCore
import Testing
import TroveTesting

@testable import TroveS3

/// A distinct, valid bucket name per test so they can share one moto server.
private func bucketName(_ stem: String) -> String {
    "\(stem)-\(UUID().uuidString.prefix(8).lowercased())"
}

private let motoCredentials = S3Credentials(accessKey: "testing", secretKey: "testing")

private func motoClient(_ stem: String, retry: RetryPolicy = RetryPolicy(attempts: 3, baseDelay: 0.05, maxDelay: 0.2)) throws -> S3Client {
    let moto = try MotoServer.shared.get()
    let client = S3Client(
        location: S3Location(endpoint: moto.endpoint, region: "us-east-1", bucket: bucketName(stem), pathStyle: true),
        credentials: motoCredentials, maxConcurrentRequests: 4, retry: retry, requestTimeout: 30)
    try client.createBucket()
    return client
}

private func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}

/// Runs a python script (boto3 installed) and returns its standard output, trimmed.
private func python(_ script: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite("S3Client against moto")
struct S3ClientMotoTests {
    @Test("createBucket twice, put/head/get/ranged get/delete")
    func basicObjectLifecycle() throws {
        let client = try motoClient("basic")
        defer { client.shutdown() }
        try client.createBucket()  // already ours: fine

        let data = bytes(1000, seed: 1)
        #expect(try client.put("a/b.bin", body: data, ifNoneMatch: false))
        #expect(try client.head("a/b.bin") == 1000)
        #expect(try client.get("a/b.bin") == data)
        #expect(try client.get("a/b.bin", range: 10..<20) == Array(data[10..<20]))
        #expect(try client.get("a/b.bin", range: 990..<1000) == Array(data[990..<1000]))
        #expect(try client.get("a/b.bin", range: 5..<5) == [])

        try client.put("empty", body: [], ifNoneMatch: false)
        #expect(try client.head("empty") == 0)
        #expect(try client.get("empty") == [])

        try client.delete("a/b.bin")
        #expect(try client.head("a/b.bin") == nil)
        try client.delete("a/b.bin")  // already gone: fine
        client.shutdown()
        client.shutdown()  // idempotent
    }

    @Test("Keys with spaces, +, ~, unicode and XML-special characters round-trip and list decoded")
    func awkwardKeys() throws {
        let client = try motoClient("keys")
        defer { client.shutdown() }
        let keys = ["dir/a b+c~d.txt", "dir/\u{E9}t\u{E9} \u{2713}", "dir/x&y<z>'\"", "dir/100%=?#"]
        for (i, key) in keys.enumerated() {
            try client.put(key, body: [UInt8(i)], ifNoneMatch: true)
            #expect(try client.get(key) == [UInt8(i)])
        }
        let listed = try client.list(prefix: "dir/", continuation: nil)
        #expect(Set(listed.objects.map(\.key)) == Set(keys))
        #expect(listed.next == nil)
    }

    @Test("get of a missing key throws .notFound naming the key")
    func missingKey() throws {
        let client = try motoClient("missing")
        defer { client.shutdown() }
        let error = #expect(throws: S3Failure.self) { try client.get("no/such/key") }
        #expect(error?.kind == .notFound)
        #expect(error?.status == 404)
        #expect(error?.message.contains("no/such/key") == true)
        #expect(try client.head("no/such/key") == nil)
        let ranged = #expect(throws: S3Failure.self) { try client.get("no/such/key", range: 0..<0) }
        #expect(ranged?.kind == .notFound)
    }

    @Test("put with ifNoneMatch twice: second returns false and the first content stays")
    func conditionalPut() throws {
        let client = try motoClient("cond")
        defer { client.shutdown() }
        #expect(try client.put("k", body: [1, 2, 3], ifNoneMatch: true) == true)
        #expect(try client.put("k", body: [9, 9], ifNoneMatch: true) == false)
        #expect(try client.get("k") == [1, 2, 3])
    }

    @Test("list with maxKeys 3 over 10 keys paginates to all 10")
    func pagination() throws {
        let client = try motoClient("list")
        defer { client.shutdown() }
        let keys = (0..<10).map { "p/key-\($0)" }
        for key in keys { try client.put(key, body: Array(key.utf8), ifNoneMatch: false) }
        try client.put("other/x", body: [0], ifNoneMatch: false)

        var seen: [S3Object] = []
        var token: String?
        var pages = 0
        repeat {
            let page = try client.list(prefix: "p/", continuation: token, maxKeys: 3)
            #expect(page.objects.count <= 3)
            seen += page.objects
            token = page.next
            pages += 1
        } while token != nil && pages < 20
        #expect(pages == 4)
        #expect(seen.map(\.key) == keys.sorted())
        #expect(seen.allSatisfy { $0.size == UInt64($0.key.utf8.count) })

        let after = try client.list(prefix: "p/", startAfter: "p/key-7", continuation: nil)
        #expect(after.objects.map(\.key) == ["p/key-8", "p/key-9"])
    }

    @Test("Multipart of 2 x 5 MiB + 1 byte round-trips, and boto3 reads the same bytes")
    func multipartRoundTrip() throws {
        let client = try motoClient("multi")
        defer { client.shutdown() }
        let part = 5 * 1024 * 1024
        let data = bytes(2 * part + 1, seed: 7)
        let key = "big/object one"
        let id = try client.createMultipart(key)
        var etags: [(number: Int, etag: String)] = []
        for (n, range) in [(1, 0..<part), (2, part..<2 * part), (3, 2 * part..<(2 * part + 1))] {
            etags.append((n, try client.uploadPart(key, uploadID: id, part: n, body: Array(data[range]))))
        }
        #expect(try client.completeMultipart(key, uploadID: id, parts: etags, ifNoneMatch: true))
        #expect(try client.head(key) == UInt64(data.count))
        #expect(try client.get(key) == data)
        #expect(try client.get(key, range: UInt64(part - 3)..<UInt64(part + 3)) == Array(data[(part - 3)..<(part + 3)]))
        #expect(try client.listMultipartUploads(prefix: "big/").isEmpty)

        // An independent client (boto3) reads the object and hashes it.
        let moto = try MotoServer.shared.get()
        let digest = try python(
            """
            import sys, hashlib, boto3
            from botocore.config import Config
            s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing",
                              config=Config(s3={"addressing_style": "path"}))
            body = s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3])["Body"].read()
            print(len(body), hashlib.sha256(body).hexdigest())
            """, [moto.endpoint.absoluteString, client.location.bucket, key])
        #expect(digest == "\(data.count) \(SigV4.sha256Hex(data))")
    }

    @Test("completeMultipart with ifNoneMatch over an existing key returns false and aborts")
    func conditionalComplete() throws {
        let client = try motoClient("condmp")
        defer { client.shutdown() }
        try client.put("taken", body: [42], ifNoneMatch: false)
        let id = try client.createMultipart("taken")
        let etag = try client.uploadPart("taken", uploadID: id, part: 1, body: [1, 2, 3])
        #expect(try client.completeMultipart("taken", uploadID: id, parts: [(1, etag)], ifNoneMatch: true) == false)
        #expect(try client.get("taken") == [42])
        #expect(try client.listMultipartUploads(prefix: "").isEmpty)
    }

    @Test("abortMultipart and listMultipartUploads")
    func abortAndList() throws {
        let client = try motoClient("abort")
        defer { client.shutdown() }
        let a = try client.createMultipart("up/a")
        let b = try client.createMultipart("up/b")
        _ = try client.createMultipart("elsewhere/c")
        _ = try client.uploadPart("up/a", uploadID: a, part: 1, body: [1])

        let listed = try client.listMultipartUploads(prefix: "up/")
        #expect(Set(listed.map(\.uploadID)) == [a, b])
        #expect(Set(listed.map(\.key)) == ["up/a", "up/b"])
        // moto quirk: every upload reports the fixed Initiated 2010-11-10T20:48:33.000Z; check it parsed.
        #expect(listed.allSatisfy { $0.initiated == S3Client.parseDate("2010-11-10T20:48:33.000Z") })
        #expect(S3Client.parseDate("2010-11-10T20:48:33.000Z") == Date(timeIntervalSince1970: 1_289_422_113))

        try client.abortMultipart("up/a", uploadID: a)
        try client.abortMultipart("up/a", uploadID: a)  // already gone: fine
        #expect(try client.listMultipartUploads(prefix: "up/").map(\.uploadID) == [b])
        #expect(try client.head("up/a") == nil)
    }

    @Test("copy")
    func copy() throws {
        let client = try motoClient("copy")
        defer { client.shutdown() }
        let data = bytes(4096, seed: 3)
        try client.put("src/one two", body: data, ifNoneMatch: false)
        try client.copy(from: "src/one two", to: "dst/thr+ee")
        #expect(try client.get("dst/thr+ee") == data)
        #expect(try client.get("src/one two") == data)
        let error = #expect(throws: S3Failure.self) { try client.copy(from: "src/none", to: "dst/none") }
        #expect(error?.kind == .notFound)
    }

    @Test("Many threads share one client")
    func concurrentUse() throws {
        let client = try motoClient("conc")
        defer { client.shutdown() }
        let failures = NSLock()
        nonisolated(unsafe) var problems: [String] = []
        DispatchQueue.concurrentPerform(iterations: 24) { i in
            do {
                let data = bytes(10_000 + i, seed: UInt64(i))
                try client.put("c/\(i)", body: data, ifNoneMatch: true)
                if try client.get("c/\(i)") != data { throw S3Failure(kind: .invalid, message: "mismatch \(i)") }
            } catch {
                failures.lock()
                problems.append("\(error)")
                failures.unlock()
            }
        }
        #expect(problems.isEmpty)
        #expect(try client.list(prefix: "c/", continuation: nil).objects.count == 24)
    }
}

@Suite("S3Client failures")
struct S3ClientFailureTests {
    @Test("A closed port is .unavailable after the retries")
    func closedPort() throws {
        let port = try MotoServer.freePort()
        let retry = RetryPolicy(attempts: 3, baseDelay: 0.01, maxDelay: 0.02)
        let client = S3Client(
            location: S3Location(endpoint: URL(string: "http://127.0.0.1:\(port)")!, region: "us-east-1", bucket: "nobucket", pathStyle: true),
            credentials: motoCredentials, retry: retry, requestTimeout: 5, connectTimeout: 0.5)
        defer { client.shutdown() }
        let start = Date()
        let error = #expect(throws: S3Failure.self) { try client.get("k") }
        #expect(error?.kind == .unavailable)
        #expect(error?.status == nil)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)
        // AsyncHTTPClient keeps retrying a refused connection until the connect timeout, so each try
        // takes about connectTimeout.
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed < 5, "took \(elapsed) s")
        let headError = #expect(throws: S3Failure.self) { try client.head("k") }
        #expect(headError?.kind == .unavailable)
    }

    @Test("After shutdown, calls fail with .invalid")
    func afterShutdown() throws {
        let client = S3Client(
            location: S3Location(endpoint: URL(string: "http://127.0.0.1:9")!, region: "us-east-1", bucket: "b", pathStyle: true),
            credentials: motoCredentials)
        client.shutdown()
        let error = #expect(throws: S3Failure.self) { try client.head("k") }
        #expect(error?.kind == .invalid)
    }
}

/// moto checks SigV4 signatures only with IAM auth switched on (INITIAL_NO_AUTH_ACTION_COUNT): the first
/// few requests create a user and key through boto3, then every request must be signed by that key.
@Suite("S3Client against moto with signature checking")
struct S3ClientAuthTests {
    static let server = Result { () throws -> (MotoServer, S3Credentials) in
        let moto = try MotoServer(environment: ["INITIAL_NO_AUTH_ACTION_COUNT": "3"])
        let out = try python(
            """
            import sys, json, boto3
            iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                               aws_access_key_id="x", aws_secret_access_key="x")
            iam.create_user(UserName="trove")
            key = iam.create_access_key(UserName="trove")["AccessKey"]
            iam.put_user_policy(UserName="trove", PolicyName="all", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
            print(key["AccessKeyId"], key["SecretAccessKey"])
            """, [moto.endpoint.absoluteString])
        let parts = out.split(separator: " ")
        guard parts.count == 2 else { throw MotoServer.StartFailure(description: "IAM setup failed: \(out)") }
        return (moto, S3Credentials(accessKey: String(parts[0]), secretKey: String(parts[1])))
    }

    /// moto quirk: its own signature check rejects keys holding non-ASCII or most punctuation
    /// (`+ * ( ) ! & = ' , ; : @ $`) even when boto3 signs them, so only keys it verifies correctly are used
    /// here, and no query value holds a '/' (`prefix=mp%2F` fails for boto3 too); the SigV4 tests cover the
    /// rest against botocore.
    @Test("Correctly signed requests pass moto's signature check")
    func signedRequestsAccepted() throws {
        let (moto, credentials) = try Self.server.get()
        let client = S3Client(
            location: S3Location(endpoint: moto.endpoint, region: "us-east-1", bucket: bucketName("auth"), pathStyle: true),
            credentials: credentials, retry: RetryPolicy(attempts: 1))
        defer { client.shutdown() }
        try client.createBucket()
        for key in ["plain", "dir/a b~c-d_e.f", "q/x?y"] {
            #expect(try client.put(key, body: Array(key.utf8), ifNoneMatch: true))
            #expect(try client.get(key, range: 0..<3) == Array(key.utf8.prefix(3)))
            #expect(try client.head(key) == UInt64(key.utf8.count))
        }
        let page = try client.list(prefix: "", continuation: nil, maxKeys: 2)
        #expect(page.objects.count == 2 && page.next != nil)
        let rest = try client.list(prefix: "", continuation: page.next, maxKeys: 2)
        #expect(rest.objects.count == 1)
        let id = try client.createMultipart("mp/k")
        let etag = try client.uploadPart("mp/k", uploadID: id, part: 1, body: [1, 2, 3])
        #expect(try client.listMultipartUploads(prefix: "mp").count == 1)  // "mp/" would hit the '/' quirk
        #expect(try client.completeMultipart("mp/k", uploadID: id, parts: [(1, etag)], ifNoneMatch: false))
        try client.copy(from: "mp/k", to: "mp/copy")
        try client.delete("plain")
    }

    @Test("A wrong secret key is .permissionDenied, not retried, and the message holds no secret")
    func wrongSecret() throws {
        let (moto, credentials) = try Self.server.get()
        let wrong = S3Credentials(accessKey: credentials.accessKey, secretKey: "not-the-secret-key")
        let client = S3Client(
            location: S3Location(endpoint: moto.endpoint, region: "us-east-1", bucket: bucketName("deny"), pathStyle: true),
            credentials: wrong)
        defer { client.shutdown() }
        let error = #expect(throws: S3Failure.self) { try client.createBucket() }
        #expect(error?.kind == .permissionDenied)
        #expect(error?.code == "SignatureDoesNotMatch")
        #expect(error?.message.contains("not-the-secret-key") == false)
        let unknown = S3Client(
            location: S3Location(endpoint: moto.endpoint, region: "us-east-1", bucket: bucketName("deny"), pathStyle: true),
            credentials: S3Credentials(accessKey: "AKIANOSUCHKEY0000000", secretKey: "x"))
        defer { unknown.shutdown() }
        let unknownError = #expect(throws: S3Failure.self) { try unknown.head("k") }
        #expect(unknownError?.kind == .permissionDenied)
    }
}

import Foundation
import TroveCore
import Testing

@testable import TroveS3

@Suite("RetryPolicy")
struct RetryPolicyTests {
    @Test("Delays stay within [0, ceiling], ceilings grow and stop at maxDelay")
    func boundedAndGrowing() {
        let policy = RetryPolicy()
        #expect(policy.attempts == 5 && policy.baseDelay == 0.2 && policy.maxDelay == 5)
        var previous = 0.0
        for attempt in 1...12 {
            let ceiling = policy.delay(attempt: attempt, random: 0.999_999_9)
            #expect(ceiling >= previous)
            #expect(ceiling <= 5)
            #expect(policy.delay(attempt: attempt, random: 0) == 0)
            for r in stride(from: 0.0, to: 1.0, by: 0.125) {
                let d = policy.delay(attempt: attempt, random: r)
                #expect(d >= 0 && d <= ceiling)
            }
            previous = ceiling
        }
        #expect(abs(policy.ceiling(attempt: 1) - 0.2) < 1e-9)
        #expect(abs(policy.ceiling(attempt: 2) - 0.4) < 1e-9)
        #expect(abs(policy.ceiling(attempt: 3) - 0.8) < 1e-9)
        #expect(policy.ceiling(attempt: 10) == 5)
        #expect(policy.ceiling(attempt: 1000) == 5)
        #expect(abs(policy.delay(attempt: 2, random: 0.5) - 0.2) < 1e-9)
    }

    @Test("Out-of-range inputs are clamped")
    func clamped() {
        let policy = RetryPolicy(attempts: 0, baseDelay: 1, maxDelay: 2)
        #expect(policy.attempts == 1)
        #expect(policy.delay(attempt: 0, random: 0.5) == 0.5)
        #expect(policy.delay(attempt: -3, random: 2) == 1)
        #expect(policy.delay(attempt: 1, random: .nan) == 0)
    }
}

@Suite("Credentials")
struct CredentialsTests {
    private func withFile(_ text: String, _ body: (String) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trove-s3-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent(".aws"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(text.utf8).write(to: dir.appendingPathComponent(".aws/credentials"))
        try body(dir.path)
    }

    private let file = """
        # comment
        [default]
        aws_access_key_id = DEFAULTKEY
        aws_secret_access_key = defaultsecret

        [work]
        aws_access_key_id=WORKKEY
        aws_secret_access_key=worksecret
        aws_session_token = worktoken
        """

    @Test("Environment wins over the file")
    func environmentFirst() throws {
        try withFile(file) { home in
            let c = try S3Credentials.resolve(
                profile: nil,
                environment: ["AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_SESSION_TOKEN": "t"],
                home: home)
            #expect(c.accessKey == "ENVKEY" && c.secretKey == "envsecret" && c.sessionToken == "t")
        }
    }

    @Test("Profile argument, then AWS_PROFILE, then default")
    func profiles() throws {
        try withFile(file) { home in
            let d = try S3Credentials.resolve(profile: nil, environment: [:], home: home)
            #expect(d.accessKey == "DEFAULTKEY" && d.secretKey == "defaultsecret" && d.sessionToken == nil)
            let w = try S3Credentials.resolve(profile: nil, environment: ["AWS_PROFILE": "work"], home: home)
            #expect(w.accessKey == "WORKKEY" && w.sessionToken == "worktoken")
            let p = try S3Credentials.resolve(profile: "default", environment: ["AWS_PROFILE": "work"], home: home)
            #expect(p.accessKey == "DEFAULTKEY")
            #expect(!"\(w)".contains("worksecret") && !"\(w)".contains("worktoken"))
        }
    }

    @Test("AWS_SHARED_CREDENTIALS_FILE is honoured")
    func sharedFile() throws {
        try withFile(file) { home in
            let c = try S3Credentials.resolve(
                profile: "work", environment: ["AWS_SHARED_CREDENTIALS_FILE": home + "/.aws/credentials"], home: "/nonexistent")
            #expect(c.accessKey == "WORKKEY")
        }
    }

    @Test("Nothing found: permissionDenied naming where it looked, no secrets")
    func missing() throws {
        try withFile(file) { home in
            let error = #expect(throws: S3Failure.self) {
                try S3Credentials.resolve(profile: "nope", environment: [:], home: home)
            }
            #expect(error?.kind == .permissionDenied)
            #expect(error?.message.contains("'nope'") == true)
            #expect(error?.message.contains(home + "/.aws/credentials") == true)
            #expect(error?.message.contains("secret") == false)
        }
        let error = #expect(throws: S3Failure.self) {
            try S3Credentials.resolve(profile: nil, environment: [:], home: "/nonexistent-home")
        }
        #expect(error?.kind == .permissionDenied)
        #expect(error?.message.contains("/nonexistent-home/.aws/credentials") == true)
    }
}

@Suite("XML and error mapping")
struct XMLTests {
    @Test("ListObjectsV2 result with entities, namespace and declaration")
    func listResult() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>b</Name><IsTruncated>true</IsTruncated>
              <Contents><Key>a &amp; b &lt;c&gt; &#233;&#x2713;</Key><Size>12</Size></Contents>
              <Contents><Key>z</Key><Size>0</Size><Owner/></Contents>
              <!-- a comment -->
              <NextContinuationToken>tok/+=</NextContinuationToken>
            </ListBucketResult>
            """
        let root = try #require(S3XMLNode.parse(Array(xml.utf8)))
        #expect(root.name == "ListBucketResult")
        let contents = root.all("Contents")
        #expect(contents.count == 2)
        #expect(contents[0].value("Key") == "a & b <c> \u{E9}\u{2713}")
        #expect(contents[1].value("Size") == "0")
        #expect(root.value("IsTruncated") == "true")
        #expect(root.value("NextContinuationToken") == "tok/+=")
        #expect(S3XMLNode.parse(Array("<a><b></a>".utf8)) == nil)
    }

    @Test("Status and code map to kinds")
    func kinds() {
        #expect(S3Failure.kind(status: 404, code: "NoSuchKey") == .notFound)
        #expect(S3Failure.kind(status: 404, code: nil) == .notFound)
        #expect(S3Failure.kind(status: 412, code: nil) == .preconditionFailed)
        #expect(S3Failure.kind(status: 403, code: "SignatureDoesNotMatch") == .permissionDenied)
        #expect(S3Failure.kind(status: 401, code: nil) == .permissionDenied)
        #expect(S3Failure.kind(status: 400, code: "RequestTimeout") == .unavailable)
        #expect(S3Failure.kind(status: 503, code: "SlowDown") == .unavailable)
        #expect(S3Failure.kind(status: 429, code: nil) == .unavailable)
        #expect(S3Failure.kind(status: 500, code: nil) == .unavailable)
        #expect(S3Failure.kind(status: 400, code: "EntityTooLarge") == .noSpace)
        #expect(S3Failure.kind(status: 403, code: "QuotaExceeded") == .noSpace)
        #expect(S3Failure.kind(status: 400, code: "InvalidArgument") == .invalid)
        #expect(S3Failure.kind(status: 400, code: nil) == .invalid)
    }
}

@Suite("Addressing")
struct AddressingTests {
    private func client(_ endpoint: String, pathStyle: Bool) -> S3Client {
        S3Client(
            location: S3Location(endpoint: URL(string: endpoint)!, region: "eu-west-1", bucket: "my-bucket", pathStyle: pathStyle),
            credentials: S3Credentials(accessKey: "a", secretKey: "b"))
    }

    @Test("Virtual-hosted: bucket in the host, default port dropped")
    func virtualHosted() {
        let c = client("https://s3.eu-west-1.amazonaws.com", pathStyle: false)
        defer { c.shutdown() }
        let t = c.target(key: "a b/c+d", query: [])
        #expect(t.url == "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b/c%2Bd")
        #expect(t.canonicalURI == "/a%20b/c%2Bd")
        let root = c.target(key: nil, query: [("list-type", "2"), ("prefix", "x/")])
        #expect(root.url == "https://my-bucket.s3.eu-west-1.amazonaws.com/?list-type=2&prefix=x%2F")
        #expect(root.canonicalURI == "/")
        let explicitPort = client("https://s3.example.com:443", pathStyle: false)
        defer { explicitPort.shutdown() }
        #expect(explicitPort.target(key: "k", query: []).url == "https://my-bucket.s3.example.com/k")
    }

    @Test("Path-style: bucket as the first segment, port kept, bare query names")
    func pathStyle() {
        let c = client("http://127.0.0.1:9000", pathStyle: true)
        defer { c.shutdown() }
        #expect(c.target(key: "k/\u{E9}", query: [("uploads", nil)]).url == "http://127.0.0.1:9000/my-bucket/k/%C3%A9?uploads")
        #expect(c.target(key: nil, query: []).url == "http://127.0.0.1:9000/my-bucket")
        #expect(c.target(key: nil, query: []).canonicalURI == "/my-bucket")
    }
}

import Foundation
import Testing

@testable import TroveS3

/// 2013-05-24T00:00:00Z, the instant of AWS's published S3 examples.
private let exampleDate = Date(timeIntervalSince1970: 1_369_353_600)
private let exampleAccess = "AKIAIOSFODNN7EXAMPLE"
private let exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

private func sign(_ request: SigV4.Request) -> SigV4.Signed {
    SigV4.sign(request, accessKey: exampleAccess, secretKey: exampleSecret, sessionToken: nil, region: "us-east-1", now: exampleDate)
}

@Suite("SigV4")
struct SigV4Tests {
    @Test("AWS example: GET /test.txt with Range bytes=0-9")
    func awsGetObjectExample() {
        let signed = sign(
            SigV4.Request(
                method: "GET", host: "examplebucket.s3.amazonaws.com", canonicalURI: "/test.txt", query: [],
                headers: ["Range": "bytes=0-9"], payloadHash: SigV4.emptyPayloadHash))
        #expect(
            signed.canonicalRequest == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """)
        #expect(
            signed.stringToSign == """
                AWS4-HMAC-SHA256
                20130524T000000Z
                20130524/us-east-1/s3/aws4_request
                7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
                """)
        #expect(signed.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        let authorization = signed.headers.first { $0.name == "authorization" }?.value
        #expect(
            authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("AWS example: PUT /test$file.text with a body")
    func awsPutObjectExample() {
        let body = Array("Welcome to Amazon S3.".utf8)
        let signed = sign(
            SigV4.Request(
                method: "PUT", host: "examplebucket.s3.amazonaws.com",
                canonicalURI: SigV4.canonicalURI(bucket: nil, key: "test$file.text"), query: [],
                headers: ["Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"],
                payloadHash: SigV4.sha256Hex(body)))
        #expect(SigV4.sha256Hex(body) == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        #expect(signed.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("AWS example: GET /?max-keys=2&prefix=J")
    func awsListExample() {
        let signed = sign(
            SigV4.Request(
                method: "GET", host: "examplebucket.s3.amazonaws.com", canonicalURI: "/",
                query: [("prefix", "J"), ("max-keys", "2")], headers: [:], payloadHash: SigV4.emptyPayloadHash))
        #expect(signed.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    /// Expected values computed with botocore's S3SigV4Auth (an independent implementation).
    @Test("Path-style key with space, +, ~ and unicode, a port, and an encoded query agree with botocore")
    func awkwardKeyAgreesWithBotocore() {
        let key = "dir/a b+c~d\u{E9}\u{2713}.txt"
        let uri = SigV4.canonicalURI(bucket: "my-bucket", key: key)
        #expect(uri == "/my-bucket/dir/a%20b%2Bc~d%C3%A9%E2%9C%93.txt")
        let signed = sign(
            SigV4.Request(
                method: "PUT", host: "127.0.0.1:9000", canonicalURI: uri,
                query: [("uploadId", "a/b+c="), ("partNumber", "3")], headers: ["If-None-Match": "*"],
                payloadHash: SigV4.sha256Hex(Array("hello".utf8))))
        #expect(signed.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[2] == "partNumber=3&uploadId=a%2Fb%2Bc%3D")
        #expect(signed.signature == "0e3465893945a5622b3b059118b3339678c9e13966bf7152bebe9fd645dd64b0")
    }

    @Test("URI encoding keeps only unreserved characters (and / in keys)")
    func uriEncoding() {
        #expect(SigV4.uriEncode("AZaz09-_.~", keepSlash: false) == "AZaz09-_.~")
        #expect(SigV4.uriEncode("a b", keepSlash: true) == "a%20b")
        #expect(SigV4.uriEncode("a+b", keepSlash: true) == "a%2Bb")
        #expect(SigV4.uriEncode("x/y", keepSlash: true) == "x/y")
        #expect(SigV4.uriEncode("x/y", keepSlash: false) == "x%2Fy")
        #expect(SigV4.uriEncode("\u{E9}", keepSlash: true) == "%C3%A9")
        #expect(SigV4.uriEncode("😀", keepSlash: true) == "%F0%9F%98%80")
        #expect(SigV4.uriEncode("*?=&%", keepSlash: true) == "%2A%3F%3D%26%25")
        #expect(SigV4.canonicalURI(bucket: nil, key: nil) == "/")
        #expect(SigV4.canonicalURI(bucket: "b", key: nil) == "/b")
        #expect(SigV4.canonicalURI(bucket: nil, key: "/lead") == "//lead")
    }

    @Test("Canonical query: sorted by encoded name, bare names get '=', values encoded")
    func canonicalQuery() {
        #expect(SigV4.canonicalQuery([("uploads", nil)]) == "uploads=")
        #expect(
            SigV4.canonicalQuery([("prefix", "a b/"), ("list-type", "2"), ("continuation-token", "x+y=")])
                == "continuation-token=x%2By%3D&list-type=2&prefix=a%20b%2F")
    }

    @Test("Session token is signed; header values are trimmed")
    func sessionToken() {
        let signed = SigV4.sign(
            SigV4.Request(
                method: "GET", host: "h", canonicalURI: "/", query: [], headers: ["X-Custom": "  a   b "],
                payloadHash: SigV4.emptyPayloadHash),
            accessKey: "AK", secretKey: "SK", sessionToken: "TOKEN", region: "eu-west-1", now: exampleDate)
        #expect(signed.canonicalRequest.contains("x-amz-security-token:TOKEN\n"))
        #expect(signed.canonicalRequest.contains("x-custom:a b\n"))
        #expect(signed.headers.contains { $0.name == "x-amz-security-token" && $0.value == "TOKEN" })
        #expect(SigV4.timestamps(Date(timeIntervalSince1970: 1_700_000_000.75)).amzDate == "20231114T221320Z")
    }
}

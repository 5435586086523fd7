import Crypto
import Foundation

/// AWS Signature Version 4 for S3, header signing, always with a signed payload.
///
/// Pure: everything it needs (including the clock) comes in as arguments, so it can be checked
/// against AWS's published examples.
enum SigV4 {
    /// One signed request's worth of input.
    struct Request {
        var method: String
        /// The value of the Host header exactly as sent (`host` or `host:port`).
        var host: String
        /// The already-encoded canonical URI, e.g. `/bucket/my%20key` (see `canonicalURI(pathSegments:)`).
        var canonicalURI: String
        /// Query parameters, unencoded. A nil value is a bare name (`?uploads`), canonicalised as `name=`.
        var query: [(name: String, value: String?)]
        /// Extra headers to sign and send (names in any case; values are trimmed when signed).
        var headers: [String: String]
        /// Hex SHA-256 of the body.
        var payloadHash: String
    }

    struct Signed {
        /// Every header to send, including host, x-amz-date, x-amz-content-sha256, the token and Authorization.
        var headers: [(name: String, value: String)]
        var canonicalRequest: String
        var stringToSign: String
        var signature: String
    }

    static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func sign(
        _ request: Request, accessKey: String, secretKey: String, sessionToken: String?,
        region: String, service: String = "s3", now: Date
    ) -> Signed {
        let (amzDate, day) = timestamps(now)
        var headers: [String: String] = [:]
        for (name, value) in request.headers { headers[name.lowercased()] = value }
        headers["host"] = request.host
        headers["x-amz-date"] = amzDate
        headers["x-amz-content-sha256"] = request.payloadHash
        if let sessionToken { headers["x-amz-security-token"] = sessionToken }

        let names = headers.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(trimmed(headers[$0]!))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalRequest = [
            request.method,
            request.canonicalURI,
            canonicalQuery(request.query),
            canonicalHeaders,
            signedHeaders,
            request.payloadHash,
        ].joined(separator: "\n")

        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256", amzDate, scope, hex(SHA256.hash(data: Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")

        var key = SymmetricKey(data: Array("AWS4\(secretKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"

        var out = names.map { (name: $0, value: headers[$0]!) }
        out.append((name: "authorization", value: authorization))
        return Signed(headers: out, canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature)
    }

    /// `/seg1/seg2/...` with each segment URI-encoded; slashes inside an object key are kept as separators.
    static func canonicalURI(bucket: String?, key: String?) -> String {
        var path = ""
        if let bucket { path += "/" + uriEncode(bucket, keepSlash: false) }
        if let key { path += "/" + uriEncode(key, keepSlash: true) }
        return path.isEmpty ? "/" : path
    }

    /// The canonical query string; also what goes on the wire, so signing and sending agree.
    static func canonicalQuery(_ query: [(name: String, value: String?)]) -> String {
        query.map { (uriEncode($0.name, keepSlash: false), uriEncode($0.value ?? "", keepSlash: false)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// AWS URI encoding: unreserved `A-Z a-z 0-9 - _ . ~` kept, everything else as `%XX` (upper-case hex) of its UTF-8 bytes.
    static func uriEncode(_ string: String, keepSlash: Bool) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `20130524T000000Z` and `20130524`, in UTC.
    static func timestamps(_ date: Date) -> (amzDate: String, day: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ v: Int?, _ width: Int) -> String {
            let s = String(v ?? 0)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let day = pad(c.year, 4) + pad(c.month, 2) + pad(c.day, 2)
        return (day + "T" + pad(c.hour, 2) + pad(c.minute, 2) + pad(c.second, 2) + "Z", day)
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        hex(SHA256.hash(data: bytes))
    }

    static func sha256Hex(_ bytes: UnsafeRawBufferPointer) -> String {
        hex(SHA256.hash(data: bytes))
    }

    private static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Leading/trailing spaces removed and inner runs of spaces collapsed to one, as SigV4 asks.
    private static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}

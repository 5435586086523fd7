import AsyncHTTPClient
import Foundation
import TroveCore
import Logging
import NIOCore
import NIOHTTP1

/// One request on the wire: signing, bounded concurrency, deadlines, retries, and turning what
/// comes back into `S3Failure` kinds.
extension S3Client {
    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
    }

    /// Sends one request, retrying what is `.unavailable`. Answers 2xx and the statuses in `accept`;
    /// throws an `S3Failure` for the rest. With `errorIn200`, a 200 whose body is an S3 Error
    /// document (CopyObject, CompleteMultipartUpload) counts as that error.
    func perform(
        _ method: HTTPMethod, key: String?, query: [(name: String, value: String?)] = [],
        headers: [String: String] = [:], body: [UInt8]? = nil, accept: Set<Int> = [], errorIn200: Bool = false,
        op: String
    ) throws -> Reply {
        try perform(method, key: key, query: query, headers: headers, buffer: body.map { ByteBuffer(bytes: $0) }, accept: accept,
                    errorIn200: errorIn200, op: op)
    }

    /// `perform` with a body already in a ByteBuffer (handed to the HTTP client without a copy).
    func perform(
        _ method: HTTPMethod, key: String?, query: [(name: String, value: String?)] = [],
        headers: [String: String] = [:], buffer body: ByteBuffer?, accept: Set<Int> = [], errorIn200: Bool = false,
        op: String
    ) throws -> Reply {
        let payloadHash = body.map { buffer in buffer.withUnsafeReadableBytes { SigV4.sha256Hex($0) } } ?? SigV4.emptyPayloadHash
        var attempt = 1
        while true {
            let failure: S3Failure
            do {
                let reply = try send(method, key: key, query: query, headers: headers, body: body, payloadHash: payloadHash, op: op)
                if accept.contains(reply.status) { return reply }
                if (200..<300).contains(reply.status) {
                    if errorIn200, let root = S3XMLNode.parse(reply.body), root.name == "Error" {
                        failure = self.failure(status: reply.status, body: reply.body, op: op, key: key)
                    } else {
                        return reply
                    }
                } else {
                    failure = self.failure(status: reply.status, body: reply.body, op: op, key: key)
                }
            } catch let error as S3Failure {
                failure = error
            }
            guard failure.kind == .unavailable, attempt < retry.attempts else { throw failure }
            let wait = retry.delay(attempt: attempt, random: Double.random(in: 0..<1))
            logger.debug(
                "S3 request failed; retrying",
                metadata: [
                    "op": "\(op)", "key": "\(key ?? "")", "attempt": "\(attempt)", "of": "\(retry.attempts)",
                    "wait": "\(String(format: "%.3f", wait))", "reason": "\(failure.message)",
                ])
            if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            attempt += 1
        }
    }

    /// The URL to send to and the canonical URI to sign, for `key` (nil: the bucket itself) and `query`.
    func target(key: String?, query: [(name: String, value: String?)]) -> (url: String, canonicalURI: String) {
        let canonicalURI = SigV4.canonicalURI(bucket: location.pathStyle ? location.bucket : nil, key: key)
        let wireQuery = query.map {
            SigV4.uriEncode($0.name, keepSlash: false) + ($0.value.map { "=" + SigV4.uriEncode($0, keepSlash: false) } ?? "")
        }.joined(separator: "&")
        return ("\(scheme)://\(hostHeader)\(canonicalURI)" + (wireQuery.isEmpty ? "" : "?" + wireQuery), canonicalURI)
    }

    /// The byte count of a `bytes=a-b` range header (0 without one).
    static func rangeLength(_ header: String?) -> Int64 {
        guard let header, header.hasPrefix("bytes=") else { return 0 }
        let bounds = header.dropFirst(6).split(separator: "-").compactMap { Int64($0) }
        return bounds.count == 2 ? max(0, bounds[1] - bounds[0] + 1) : 0
    }

    /// One try: sign now, wait for a free slot, send, collect the whole answer.
    func send(
        _ method: HTTPMethod, key: String?, query: [(name: String, value: String?)], headers: [String: String],
        body: ByteBuffer?, payloadHash: String, op: String
    ) throws -> Reply {
        let (url, canonicalURI) = target(key: key, query: query)

        slots.wait()
        defer { slots.signal() }
        let signed = SigV4.sign(
            SigV4.Request(
                method: method.rawValue, host: hostHeader, canonicalURI: canonicalURI, query: query, headers: headers,
                payloadHash: payloadHash),
            accessKey: credentials.accessKey, secretKey: credentials.secretKey, sessionToken: credentials.sessionToken,
            region: location.region, now: Date())
        do {
            let request = try HTTPClient.Request(
                url: url, method: method, headers: HTTPHeaders(signed.headers.map { ($0.name, $0.value) }),
                body: body.map { .byteBuffer($0) })
            // The deadline grows with the body (at least 32 KiB/s): a slow uplink is slow, not down.
            // …and with the bytes a ranged GET asks for, so a slow downlink is slow, not down.
            let transfer = max(Int64(body?.readableBytes ?? 0), Self.rangeLength(headers["range"]))
            let allowance = requestTimeout + .milliseconds(transfer * 1000 / 32_768)
            let response = try http.execute(request: request, deadline: .now() + allowance).wait()
            let bytes = response.body.map { Array($0.readableBytesView) } ?? []
            return Reply(status: Int(response.status.code), headers: response.headers, body: bytes)
        } catch {
            throw transportFailure(error, op: op, key: key)
        }
    }

    // MARK: Failures

    func subject(_ op: String, _ key: String?) -> String {
        if let key { return "S3 \(op) of '\(key)' in bucket '\(location.bucket)'" }
        return "S3 \(op) on bucket '\(location.bucket)'"
    }

    func failure(status: Int, body: [UInt8], op: String, key: String?) -> S3Failure {
        let root = S3XMLNode.parse(body)
        let code = root?.value("Code").flatMap { $0.isEmpty ? nil : $0 }
        var detail = root?.value("Message")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if detail.isEmpty { detail = HTTPResponseStatus(statusCode: status).reasonPhrase }
        if !detail.hasSuffix(".") { detail += "." }
        let kind = S3Failure.kind(status: status, code: code)
        let what = code.map { "\($0) (HTTP \(status))" } ?? "HTTP \(status)"
        return S3Failure(kind: kind, status: status, code: code, message: "\(subject(op, key)) failed with \(what): \(detail)")
    }

    func notFound(op: String, key: String) -> S3Failure {
        S3Failure(kind: .notFound, status: 404, code: "NoSuchKey", message: "\(subject(op, key)) failed with NoSuchKey (HTTP 404): The specified key does not exist.")
    }

    func malformed(op: String, key: String?, _ what: String) -> S3Failure {
        S3Failure(kind: .invalid, message: "\(subject(op, key)) got an answer it cannot read: \(what).")
    }

    func document(_ reply: Reply, expect name: String, op: String, key: String?) throws -> S3XMLNode {
        guard let root = S3XMLNode.parse(reply.body) else { throw malformed(op: op, key: key, "the XML does not parse") }
        guard root.name == name else { throw malformed(op: op, key: key, "expected <\(name)>, got <\(root.name)>") }
        return root
    }

    func transportFailure(_ error: Error, op: String, key: String?) -> S3Failure {
        if let failure = error as? S3Failure { return failure }
        let endpoint = "\(scheme)://\(hostHeader)"
        if let e = error as? HTTPClientError {
            let invalid: [HTTPClientError] = [
                .invalidURL, .emptyHost, .emptyScheme, .alreadyShutdown, .bodyLengthMismatch, .invalidRedirectConfiguration,
                .redirectLimitReached, .redirectCycleDetected,
            ]
            if invalid.contains(e) {
                let reason = e == .alreadyShutdown ? "the client was shut down" : "\(e)"
                return S3Failure(kind: .invalid, message: "\(subject(op, key)) could not be sent to \(endpoint): \(reason).")
            }
            if e.description.contains("unsupportedScheme") {
                return S3Failure(kind: .invalid, message: "\(subject(op, key)) could not be sent: \(endpoint) has a scheme other than http or https.")
            }
        }
        return S3Failure(kind: .unavailable, message: "\(subject(op, key)) could not reach \(endpoint): \(error).")
    }

    static func parseDate(_ text: String) -> Date? {
        let s = text.trimmingCharacters(in: .whitespaces)
        if let d = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(s) { return d }
        return try? Date.ISO8601FormatStyle().parse(s)
    }
}

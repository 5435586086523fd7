import Foundation
import TroveCore

/// Where a bucket lives.
public struct S3Location: Sendable, Equatable {
    /// `scheme://host[:port]`, no path.
    public var endpoint: URL
    public var region: String
    public var bucket: String
    /// `host/bucket/key` when true, `bucket.host/key` (virtual-hosted) when false.
    public var pathStyle: Bool

    public init(endpoint: URL, region: String, bucket: String, pathStyle: Bool) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.pathStyle = pathStyle
    }
}

public struct S3Credentials: Sendable {
    public var accessKey: String
    public var secretKey: String
    public var sessionToken: String?

    public init(accessKey: String, secretKey: String, sessionToken: String? = nil) {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
    }

    /// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN first; else the shared credentials file
    /// (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials), section `profile` ?? AWS_PROFILE ?? "default".
    /// Throws S3Failure(kind: .permissionDenied) naming where it looked when none found. Never logs secrets.
    public static func resolve(profile: String?, environment: [String: String], home: String) throws -> S3Credentials {
        func nonEmpty(_ name: String) -> String? {
            guard let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        if let access = nonEmpty("AWS_ACCESS_KEY_ID"), let secret = nonEmpty("AWS_SECRET_ACCESS_KEY") {
            return S3Credentials(accessKey: access, secretKey: secret, sessionToken: nonEmpty("AWS_SESSION_TOKEN"))
        }
        let path = nonEmpty("AWS_SHARED_CREDENTIALS_FILE")
            ?? (home.hasSuffix("/") ? home : home + "/") + ".aws/credentials"
        let section = profile ?? nonEmpty("AWS_PROFILE") ?? "default"
        let looked = "the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and profile '\(section)' in \(path)"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw S3Failure(kind: .permissionDenied, message: "No S3 credentials found: looked in \(looked), which cannot be read.")
        }
        let values = iniSection(String(decoding: data, as: UTF8.self), named: section)
        guard let values else {
            throw S3Failure(kind: .permissionDenied, message: "No S3 credentials found: looked in \(looked), which has no such profile.")
        }
        guard let access = values["aws_access_key_id"], !access.isEmpty,
            let secret = values["aws_secret_access_key"], !secret.isEmpty
        else {
            throw S3Failure(
                kind: .permissionDenied,
                message: "No S3 credentials found: looked in \(looked), whose profile lacks aws_access_key_id or aws_secret_access_key.")
        }
        let token = values["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
        return S3Credentials(accessKey: access, secretKey: secret, sessionToken: token)
    }

    /// The `key = value` pairs of `[name]` (or `[profile name]`), keys lower-cased; nil when the section is absent.
    static func iniSection(_ text: String, named name: String) -> [String: String]? {
        var current: String?
        var found: [String: String]?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                var header = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                if header.hasPrefix("profile ") { header = header.dropFirst(8).trimmingCharacters(in: .whitespaces) }
                current = header
                if header == name, found == nil { found = [:] }
                continue
            }
            guard current == name, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            found?[key] = value
        }
        return found
    }
}

extension S3Credentials: CustomStringConvertible {
    /// Names the access key only; the secret and token never appear.
    public var description: String {
        "S3Credentials(accessKey: \(accessKey), secretKey: <redacted>\(sessionToken == nil ? "" : ", sessionToken: <redacted>"))"
    }
}

public struct S3Failure: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case notFound, preconditionFailed, unavailable, permissionDenied, noSpace, invalid
    }

    public let kind: Kind
    /// The HTTP status, when a response arrived.
    public let status: Int?
    /// The S3 error code from the response body (`NoSuchKey`, `SlowDown`, ...), when there was one.
    public let code: String?
    /// One readable sentence; never holds a secret.
    public let message: String

    public init(kind: Kind, status: Int? = nil, code: String? = nil, message: String) {
        self.kind = kind
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// The kind S3's status and error code mean. The code wins when it is known.
    static func kind(status: Int, code: String?) -> Kind {
        switch code {
        case "NoSuchKey", "NoSuchBucket", "NoSuchUpload", "NoSuchVersion": return .notFound
        case "PreconditionFailed": return .preconditionFailed
        case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
            "TokenRefreshRequired", "RequestTimeTooSkewed", "AllAccessDisabled", "AccountProblem":
            return .permissionDenied
        case "EntityTooLarge", "QuotaExceeded", "XMinioStorageFull", "InsufficientStorage": return .noSpace
        case "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling", "ThrottlingException",
            "RequestLimitExceeded", "TooManyRequests", "OperationAborted", "ConditionalRequestConflict":
            return .unavailable
        default: break
        }
        switch status {
        case 404: return .notFound
        case 412: return .preconditionFailed
        case 401, 403: return .permissionDenied
        case 507: return .noSpace
        case 429, 500...599: return .unavailable
        default: return .invalid
        }
    }
}

/// One object from a listing.
public struct S3Object: Sendable, Equatable {
    public let key: String
    public let size: UInt64

    public init(key: String, size: UInt64) {
        self.key = key
        self.size = size
    }
}

/// One multipart upload that was started and neither completed nor aborted.
public struct S3Upload: Sendable, Equatable {
    public let key: String
    public let uploadID: String
    public let initiated: Date

    public init(key: String, uploadID: String, initiated: Date) {
        self.key = key
        self.uploadID = uploadID
        self.initiated = initiated
    }
}


import Dispatch
import Foundation
import TroveCore
import TroveS3
import TroveStorage

/// A store in a bucket of S3-compatible object storage (AWS S3, Backblaze B2, Wasabi, MinIO,
/// Ceph RGW, Garage). Under its prefix:
///
///     .trove/store.json          the identity
///     objects/<content ID>       one object per ID, written whole or by a multipart upload
///     corrupt/<ID>.<time>        quarantined copies
///
/// An object appears under its key only when its upload completes (S3's own atomicity), and is
/// created with `If-None-Match: *` so two writers of one ID never clobber each other. Reads are
/// ranged GETs of at most a leaf. Every request is signed with its payload's SHA-256, which
/// the service checks on arrival.
public final class S3Store: Store, @unchecked Sendable {
    public private(set) var identity: StoreIdentity
    let client: S3Client
    let config: StoreConfig
    /// The key prefix, empty or ending in "/".
    let prefix: String
    /// Size of a multipart part (at least), and of a ranged read.
    static let partSize = ContentHash.leafSize

    /// The part size for an object of `size` bytes: 8 MiB, or the multiple of it that keeps the
    /// upload within S3's 10,000 parts (objects beyond 78 GiB). An unknown size gets 8 MiB parts.
    static func partSize(for size: UInt64?) -> Int {
        let size = size ?? 0
        let minimum = (size + 9_999) / 10_000
        let leaves = max(1, (minimum + UInt64(partSize) - 1) / UInt64(partSize))
        return Int(leaves) * partSize
    }

    /// Where uploads whose ID is not known yet wait (a disk-backed folder, not a RAM-backed /tmp).
    public var spoolFolder = NSTemporaryDirectory()

    /// An anonymous temporary file in the spool folder (unlinked at once: nothing is left if Trove dies).
    func temporaryFile() throws -> FileHandle {
        try? FileManager.default.createDirectory(atPath: spoolFolder, withIntermediateDirectories: true)
        let path = spoolFolder + "/trove-s3-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forUpdatingAtPath: path) else {
            throw StoreError(.noSpace, "Cannot create a file in \(spoolFolder) to stage an upload to \(location); free some space there.")
        }
        unlink(path)
        return handle
    }
    /// Parts of one upload in flight at once (each holds one part in memory).
    static let partsInFlight = 4

    public var location: String { Self.location(config) }

    init(identity: StoreIdentity, client: S3Client, config: StoreConfig) {
        self.identity = identity
        self.client = client
        self.config = config
        prefix = Self.prefix(config)
    }

    deinit { client.shutdown() }

    /// `s3://bucket/prefix`.
    public static func location(_ config: StoreConfig) -> String {
        "s3://\(config.bucket ?? "")" + ((config.prefix ?? "").isEmpty ? "" : "/" + config.prefix!)
    }

    static func prefix(_ config: StoreConfig) -> String {
        let trimmed = (config.prefix ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return trimmed.isEmpty ? "" : trimmed + "/"
    }

    /// Parses `s3://bucket[/prefix]` into a configuration (endpoint and region from the options).
    public static func parse(_ location: String) -> (bucket: String, prefix: String)? {
        guard location.hasPrefix("s3://") else { return nil }
        let rest = location.dropFirst(5)
        let parts = rest.split(separator: "/", maxSplits: 1).map(String.init)
        guard let bucket = parts.first, !bucket.isEmpty else { return nil }
        return (bucket, parts.count > 1 ? parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "/")) : "")
    }

    /// A client for the bucket a configuration names, with credentials from the environment or
    /// the AWS credentials file.
    static func client(_ config: StoreConfig, environment: [String: String]) throws -> S3Client {
        guard let bucket = config.bucket else { throw StoreError(.permissionDenied, "An S3 store needs a bucket (s3://BUCKET/prefix).") }
        let endpointText = config.endpoint ?? "https://s3.\(config.region ?? "us-east-1").amazonaws.com"
        guard let endpoint = URL(string: endpointText), endpoint.scheme == "http" || endpoint.scheme == "https", endpoint.host != nil else {
            throw StoreError(.permissionDenied, "The endpoint \(endpointText) is not an http(s) URL; pass --endpoint https://HOST[:PORT].")
        }
        let credentials: S3Credentials
        do {
            credentials = try S3Credentials.resolve(profile: config.profile, environment: environment,
                                                    home: environment["HOME"] ?? NSHomeDirectory())
        } catch let failure as S3Failure { throw storeError(failure, location: location(config)) }
        return S3Client(location: S3Location(endpoint: endpoint, region: config.region ?? "us-east-1", bucket: bucket,
                                             pathStyle: config.pathStyle ?? false),
                        credentials: credentials)
    }

    /// Opens the store a configuration names; nil when the bucket holds none under the prefix.
    public static func open(_ config: StoreConfig, environment: [String: String]) throws -> S3Store? {
        let client = try client(config, environment: environment)
        do {
            let data = try client.get(prefix(config) + ".trove/store.json")
            let identity = try JSONCoding.decoder.decode(StoreIdentity.self, from: Data(data))
            return S3Store(identity: identity, client: client, config: config)
        } catch let failure as S3Failure where failure.kind == .notFound {
            client.shutdown()
            return nil
        } catch let failure as S3Failure {
            client.shutdown()
            throw storeError(failure, location: location(config))
        } catch let error as DecodingError {
            client.shutdown()
            throw StoreError(.media, "The store identity in \(location(config)) is damaged (\(error)).")
        }
    }

    /// A handle on a store whose identity is already known, without asking the service.
    public static func handle(_ config: StoreConfig, identity: StoreIdentity, environment: [String: String]) throws -> S3Store {
        S3Store(identity: identity, client: try client(config, environment: environment), config: config)
    }

    /// Makes a new store under the configuration's bucket and prefix (the bucket must exist).
    public static func create(_ config: StoreConfig, identity: StoreIdentity, environment: [String: String]) throws -> S3Store {
        let client = try client(config, environment: environment)
        let store = S3Store(identity: identity, client: client, config: config)
        try store.writeIdentity(replacing: false)
        return store
    }

    /// Replaces the identity object, e.g. to add a key that unlocks the store.
    public func replaceIdentity(_ identity: StoreIdentity) throws {
        self.identity = identity
        try writeIdentity(replacing: true)
    }

    /// Writes the identity; a new store never replaces one that appeared meanwhile.
    public func writeIdentity(replacing: Bool) throws {
        let data = try JSONCoding.prettyEncoder.encode(identity)
        do {
            try request {
                guard try client.put(prefix + ".trove/store.json", body: Array(data), ifNoneMatch: !replacing) else {
                    throw StoreError(.permissionDenied, "\(location) already holds a Trove store; add it without --encrypt to adopt it.")
                }
            }
        } catch let error as StoreError where error.kind == .notFound {
            throw TroveError(.pathMissing, "The bucket '\(config.bucket ?? "")' does not exist at \(config.endpoint ?? "AWS"); create it first (Trove never creates buckets), then add the store again.")
        }
    }

    func key(_ id: ContentID) -> String { prefix + "objects/" + id.description }

    public func readRecord(_ name: RecordName) throws -> [UInt8]? {
        do { return try client.get(prefix + ".trove/records/" + name.description) } catch let failure as S3Failure where failure.kind == .notFound {
            return nil
        } catch let failure as S3Failure {
            throw Self.storeError(failure, location: location)
        }
    }

    /// One PUT: S3 replaces an object atomically.
    /// `If-None-Match: *`: the service lets exactly one of two writers create it. A retried PUT
    /// whose first try landed answers 412 too, so a refusal is checked against what is there:
    /// the very bytes this writer sent mean its own write landed.
    public func createRecord(_ name: RecordName, _ bytes: [UInt8]) throws -> Bool {
        if try request({ try client.put(prefix + ".trove/records/" + name.description, body: bytes, ifNoneMatch: true) }) { return true }
        return try readRecord(name) == bytes
    }

    public func removeRecord(_ name: RecordName) throws { try request { try client.delete(prefix + ".trove/records/" + name.description) } }

    public func writeRecord(_ name: RecordName, _ bytes: [UInt8]) throws {
        try request { _ = try client.put(prefix + ".trove/records/" + name.description, body: bytes, ifNoneMatch: false) }
    }

    /// Runs a request, turning S3 failures into store errors.
    func request<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let failure as S3Failure { throw Self.storeError(failure, location: location) }
    }

    static func storeError(_ failure: S3Failure, location: String) -> StoreError {
        let message = "\(location): \(failure.message)"
        switch failure.kind {
        case .notFound: return StoreError(.notFound, message)
        case .unavailable: return StoreError(.unavailable, message + " Check the network and the endpoint; Trove retries next run.")
        case .permissionDenied: return StoreError(.permissionDenied, message + " Check the credentials (AWS_ACCESS_KEY_ID, ~/.aws/credentials) and the bucket policy.")
        case .noSpace: return StoreError(.noSpace, message + " The bucket or account is over its quota.")
        case .preconditionFailed, .invalid:
            return StoreError(.permissionDenied, message + " The service refused the request; check the endpoint, region and --path-style.")
        }
    }

    public func objectSize(_ id: ContentID) throws -> UInt64? {
        guard let size = try request({ try client.head(key(id)) }) else {
            try confirmStillThere()
            return nil
        }
        return size
    }

    private let checked = NSLock()
    private var confirmedAt: Date?

    /// An object that is not found means a missing copy only while the store itself is there: a
    /// bucket emptied or a server back on a blank volume is unreachable, not a store of missing
    /// copies. Asked at most every 30 seconds.
    func confirmStillThere() throws {
        if let last = checked.withLock({ confirmedAt }), Date().timeIntervalSince(last) < 30 { return }
        let present = (try? client.head(prefix + ".trove/store.json")) ?? nil
        guard present != nil else {
            throw StoreError(.unavailable, "\(location) no longer holds its store identity (.trove/store.json): the bucket was emptied, or the server is not the one it was. Nothing is treated as missing until it is back.")
        }
        checked.withLock { confirmedAt = Date() }
    }

    public func makeWriter(for id: ContentID?, expectedSize: UInt64?) throws -> ObjectWriter {
        S3ObjectWriter(store: self, id: id, expectedSize: expectedSize)
    }

    /// The first part of the range comes with the object's size in one GET (no HEAD first: on
    /// object storage every request is a round trip).
    public func openReader(_ id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws -> ObjectReader {
        let start = range?.lowerBound ?? 0
        // A range a little over one part (an encrypted leaf: a part plus 28 bytes) is one GET too.
        let firstLength = range.map { UInt64($0.count) <= UInt64(Self.partSize) + 4096 ? UInt64($0.count) : UInt64(Self.partSize) }
            ?? UInt64(Self.partSize)
        let wanted = start..<min(range?.upperBound ?? .max, start + firstLength)
        let first: (bytes: [UInt8], size: UInt64)
        do {
            first = try request { try client.getWithSize(key(id), range: wanted) }
        } catch let error as StoreError where error.kind == .notFound {
            try confirmStillThere()
            throw error
        }
        let size = first.size
        let clamped = range.map { $0.clamped(to: 0..<size) } ?? 0..<size
        return S3ObjectReader(store: self, key: key(id), size: size, range: clamped, first: first.bytes)
    }

    public func quarantine(_ id: ContentID) throws -> String {
        let target = prefix + "corrupt/\(id).\(Int(Date().timeIntervalSince1970))"
        // CopyObject takes at most 5 GB; a larger bad copy is deleted instead of moved.
        let size = try objectSize(id) ?? 0
        if size <= 5_000_000_000 {
            try request {
                try client.copy(from: key(id), to: target)
                try client.delete(key(id))
            }
            return "s3://\(config.bucket ?? "")/\(target)"
        }
        try request { try client.delete(key(id)) }
        return "(deleted: too large to move within the bucket)"
    }

    public func remove(_ id: ContentID) throws { try request { try client.delete(key(id)) } }

    public func listObjects(_ body: (ContentID) throws -> Bool) throws {
        var continuation: String?
        repeat {
            let page = try request { try client.list(prefix: prefix + "objects/", continuation: continuation, maxKeys: listPageSize) }
            for object in page.objects {
                guard let id = ContentID(String(object.key.dropFirst(prefix.count + 8))) else { continue }
                if try !body(id) { return }
            }
            continuation = page.next
        } while continuation != nil
    }

    /// Keys per ListObjectsV2 page (1000 is the service's maximum; tests use small pages).
    public var listPageSize = 1000

    public func space() throws -> StoreSpace? { nil }
    /// Every request carries the SHA-256 of its body, signed; the service refuses a body that
    /// does not match, so what it stored is what was sent (each part of a multipart upload alike).
    public var checksWritesOnArrival: Bool { true }
    public func isReadOnly() -> Bool { false }

    /// The failure domain: the bucket at its endpoint (two prefixes of one bucket share it).
    public func disk() -> DiskIdentity.Disk? {
        let host = URL(string: config.endpoint ?? "")?.host ?? "s3.\(config.region ?? "us-east-1").amazonaws.com"
        return DiskIdentity.Disk(id: "s3:\(host)/\(config.bucket ?? "")", name: "bucket \(config.bucket ?? "")")
    }

    /// Aborts multipart uploads left for over a day (a killed writer's parts cost storage).
    public func cleanTemporary() throws -> Int {
        let uploads = try request { try client.listMultipartUploads(prefix: prefix + "objects/") }
        var aborted = 0
        for upload in uploads where Date().timeIntervalSince(upload.initiated) > 86_400 {
            if (try? client.abortMultipart(upload.key, uploadID: upload.uploadID)) != nil { aborted += 1 }
        }
        return aborted
    }

    public var commitsEachAlone: Bool { true }

    /// Each writer is already complete on its own: uploads commit independently, many at once.
    public func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws {
        try commitIndependently(items)
    }
}

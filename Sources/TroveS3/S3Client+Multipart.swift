import AsyncHTTPClient
import Foundation
import TroveCore
import Logging
import NIOCore
import NIOHTTP1

/// Multipart uploads: create, upload parts, complete (conditionally), abort, and list the abandoned.
extension S3Client {
    /// Starts a multipart upload; returns its upload id.
    public func createMultipart(_ key: String) throws -> String {
        let reply = try perform(.POST, key: key, query: [("uploads", nil)], body: [], op: "CREATE MULTIPART")
        let root = try document(reply, expect: "InitiateMultipartUploadResult", op: "CREATE MULTIPART", key: key)
        guard let id = root.value("UploadId"), !id.isEmpty else {
            throw malformed(op: "CREATE MULTIPART", key: key, "no UploadId")
        }
        return id
    }

    /// Uploads part `part` (1...10000) and returns its ETag, as S3 sent it (quotes included).
    public func uploadPart(_ key: String, uploadID: String, part: Int, body: [UInt8]) throws -> String {
        try uploadPart(key, uploadID: uploadID, part: part, buffer: ByteBuffer(bytes: body))
    }

    /// `uploadPart` from a ByteBuffer, sent without a copy.
    public func uploadPart(_ key: String, uploadID: String, part: Int, buffer: ByteBuffer) throws -> String {
        let reply = try perform(
            .PUT, key: key, query: [("partNumber", String(part)), ("uploadId", uploadID)], buffer: buffer, op: "UPLOAD PART \(part)")
        guard let etag = reply.headers.first(name: "etag"), !etag.isEmpty else {
            throw malformed(op: "UPLOAD PART \(part)", key: key, "no ETag")
        }
        return etag
    }

    /// Joins the parts into the object. With `ifNoneMatch` and an object already at `key`, answers false
    /// (412) and aborts the upload.
    @discardableResult
    public func completeMultipart(
        _ key: String, uploadID: String, parts: [(number: Int, etag: String)], ifNoneMatch: Bool
    ) throws -> Bool {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts.sorted(by: { $0.number < $1.number }) {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(XMLText.escape(part.etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let reply = try perform(
            .POST, key: key, query: [("uploadId", uploadID)], headers: ifNoneMatch ? ["if-none-match": "*"] : [:],
            body: Array(xml.utf8), accept: ifNoneMatch ? [412] : [], errorIn200: true, op: "COMPLETE MULTIPART")
        if reply.status == 412 {
            try abortMultipart(key, uploadID: uploadID)
            return false
        }
        return true
    }

    /// Abandons a multipart upload and frees its parts; one that is already gone is fine.
    public func abortMultipart(_ key: String, uploadID: String) throws {
        _ = try perform(.DELETE, key: key, query: [("uploadId", uploadID)], accept: [404], op: "ABORT MULTIPART")
    }

    /// Every multipart upload under `prefix` that was started and neither completed nor aborted.
    public func listMultipartUploads(prefix: String) throws -> [S3Upload] {
        var uploads: [S3Upload] = []
        var keyMarker: String?
        var idMarker: String?
        while true {
            var query: [(name: String, value: String?)] = [("uploads", nil), ("prefix", prefix)]
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let idMarker { query.append(("upload-id-marker", idMarker)) }
            let reply = try perform(.GET, key: nil, query: query, op: "LIST MULTIPART")
            let root = try document(reply, expect: "ListMultipartUploadsResult", op: "LIST MULTIPART", key: prefix)
            for entry in root.all("Upload") {
                guard let key = entry.value("Key"), let id = entry.value("UploadId") else {
                    throw malformed(op: "LIST MULTIPART", key: prefix, "an Upload without Key or UploadId")
                }
                let initiated = entry.value("Initiated").flatMap(Self.parseDate) ?? Date(timeIntervalSince1970: 0)
                uploads.append(S3Upload(key: key, uploadID: id, initiated: initiated))
            }
            guard root.value("IsTruncated") == "true" else { return uploads }
            let nextKey = root.value("NextKeyMarker")
            let nextID = root.value("NextUploadIdMarker")
            guard nextKey != nil || nextID != nil, nextKey != keyMarker || nextID != idMarker else {
                throw malformed(op: "LIST MULTIPART", key: prefix, "a truncated listing without a next marker")
            }
            keyMarker = nextKey
            idMarker = nextID
        }
    }
}

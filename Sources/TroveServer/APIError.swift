import Foundation
import Hummingbird
import NIOCore
import TroveCore
import TrovePeer
import TroveStorage

/// An error answer: a status and one sentence saying what happened and what to do, sent as
/// `{"error": "…"}` (the same shape for every error the API gives).
struct APIError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    /// The answer a store error means.
    init(_ error: any Error) {
        switch error {
        case let api as APIError: self = api
        case is NIOTooManyBytesError: self.init(.contentTooLarge, "The request body is larger than this endpoint takes.")
        case let store as StoreError:
            switch store.kind {
            case .notFound: self.init(.notFound, store.message)
            case .unavailable: self.init(.serviceUnavailable, store.message)
            case .noSpace: self.init(.insufficientStorage, store.message)
            case .permissionDenied: self.init(.forbidden, store.message)
            case .media: self.init(.internalServerError, store.message)
            }
        case let trove as TroveError:
            switch trove.code {
            case .usage, .malformedID: self.init(.badRequest, trove.message)
            case .unknownFile, .storeUnknown, .pathMissing: self.init(.notFound, trove.message)
            case .busy, .storeNotConnected: self.init(.serviceUnavailable, trove.message)
            case .diskFull: self.init(.insufficientStorage, trove.message)
            default: self.init(.internalServerError, trove.message)
            }
        default: self.init(.internalServerError, "\(error)")
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response { response() }

    func response(closing: Bool = false) -> Response {
        let body = (try? JSONCoding.encoder.encode(ServerError(error: message))) ?? Data("{}".utf8)
        var headers: HTTPFields = [.contentType: "application/json"]
        if closing { headers[.connection] = "close" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension HTTPResponse.Status {
    static let insufficientStorage = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
}

/// A JSON answer in the CLI's encoding (snake_case keys, ISO 8601 dates).
func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try JSONCoding.encoder.encode(value)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

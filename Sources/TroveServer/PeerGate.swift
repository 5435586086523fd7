import Foundation
import Hummingbird
import NIOCore
import NIOSSL
import TrovePeer

/// Who may talk to this server, from the library's `peers.json`, re-read whenever the file
/// changes: a peer revoked by `trove peer revoke` is refused from its next handshake or request,
/// also on a connection already open.
public final class PeerGate: @unchecked Sendable {
    let file: PeerBookFile
    let now: @Sendable () -> Date
    private let lock = NSLock()
    private var stamp = ""
    private var cached = PeerBook()

    public init(file: PeerBookFile, now: @escaping @Sendable () -> Date = { Date() }) {
        self.file = file
        self.now = now
    }

    /// The book as on disk now (a stat per call; parsed again only when the file changed).
    public func book() -> PeerBook {
        let current = file.stamp()
        return lock.withLock {
            if current != stamp {
                // A damaged book trusts nobody rather than everybody.
                cached = (try? file.load()) ?? PeerBook()
                stamp = current
            }
            return cached
        }
    }

    /// The handshake check: a client must present a certificate, and it must be pinned, unless
    /// an invitation is open (then it may only ask to pair; the middleware sees to that).
    func verify(_ certificates: [NIOSSLCertificate]) -> NIOSSLVerificationResult {
        guard let leaf = certificates.first, let fingerprint = PeerIdentity.fingerprint(leaf) else { return .failed }
        let book = book()
        if book.peer(fingerprint: fingerprint) != nil { return .certificateVerified }
        return book.hasOpenInvite(now: now()) ? .certificateVerified : .failed
    }
}

/// The request context: who is asking (nil while an unpaired machine asks to pair).
public struct PeerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel
    public var peer: PinnedPeer?
    /// The certificate an unpaired machine presented (for the pairing request only).
    public var presented: NIOSSLCertificate?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Bodies decoded whole (JSON, records) are small; objects stream and are bounded by the handlers.
    public var maxUploadSize: Int { HostedName.maxRecordBytes }

    /// Throws 403 unless the peer has `right`.
    func require(_ right: PeerRights) throws -> PinnedPeer {
        guard let peer else { throw APIError(.forbidden, "This machine does not know your certificate; pair first (`trove peer join`).") }
        guard peer.rights.contains(right) || peer.rights.contains(.admin) else {
            throw APIError(.forbidden, "'\(peer.label)' may not \(right.words.joined()) here; its rights are \(peer.rights). Ask for a new invitation with --can \(right).")
        }
        return peer
    }

    /// Throws 403 for an append-only peer or one without the write right.
    func requireDelete() throws {
        let peer = try require(.write)
        if peer.appendOnly && !peer.rights.contains(.admin) {
            throw APIError(.forbidden, "'\(peer.label)' is append-only: it may add objects but never delete or replace them.")
        }
    }
}

/// Runs before every handler: finds the peer by its certificate, or lets an unknown certificate
/// through to the pairing request alone.
struct PeerGateMiddleware: RouterMiddleware {
    typealias Context = PeerContext
    let gate: PeerGate
    let connections = ConnectionCertificates()

    func handle(_ request: Request, context: PeerContext, next: (Request, PeerContext) async throws -> Response) async throws -> Response {
        var context = context
        guard let (certificate, fingerprint) = await connections.certificate(of: context.channel) else {
            return APIError(.unauthorized, "A client certificate is required.").response(closing: true)
        }
        context.presented = certificate
        if let peer = gate.book().peer(fingerprint: fingerprint) {
            context.peer = peer
        } else if request.method != .post || request.uri.path != "/v1/pair" {
            return APIError(.forbidden, "This machine does not know your certificate (not paired, or revoked). Pair with `trove peer join`.")
                .response(closing: true)
        }
        return try await next(request, context)
    }
}

/// The client certificate of each open connection and its fingerprint, asked of TLS once per
/// connection rather than once per request (a hop to the event loop and a hash each time).
/// An entry counts only while its very connection object is alive: a new connection is never
/// taken for an old one, whatever its address. (TLS renegotiation is off, so a connection's
/// certificate never changes.)
final class ConnectionCertificates: @unchecked Sendable {
    private struct Entry {
        weak var channel: (any Channel)?
        let certificate: NIOSSLCertificate
        let fingerprint: String
    }
    private let lock = NSLock()
    private var entries: [ObjectIdentifier: Entry] = [:]

    func certificate(of channel: any Channel) async -> (NIOSSLCertificate, String)? {
        let key = ObjectIdentifier(channel)
        if let known = lock.withLock({ entries[key] }), known.channel === channel { return (known.certificate, known.fingerprint) }
        guard let certificate = try? await channel.nioSSL_peerCertificate().get(),
              let fingerprint = PeerIdentity.fingerprint(certificate) else { return nil }
        lock.withLock {
            if entries.count >= 4096 { entries = entries.filter { $0.value.channel != nil } }
            entries[key] = Entry(channel: channel, certificate: certificate, fingerprint: fingerprint)
        }
        return (certificate, fingerprint)
    }
}

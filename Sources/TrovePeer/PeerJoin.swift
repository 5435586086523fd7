import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import TroveCore
import TroveStorage
import NIOConcurrencyHelpers

/// `trove peer join URL CODE`: pairs this library with the machine that printed the code.
///
/// First a TLS handshake that accepts the server's certificate only if its fingerprint starts
/// with the code's first half; then, over a connection that trusts exactly that certificate,
/// the code's secret half and this machine's certificate go to `POST /v1/pair`. Each side
/// ends up pinning the other's certificate.
public enum PeerJoin {
    /// `libraryID`: this library's ID, told to the server (machines of one library may reach
    /// each other's own stores).
    public static func join(library: String, identity: PeerIdentity, address: String, code: PairingCode, label: String,
                            now: Date = Date(), libraryID: String? = nil) throws -> (PinnedPeer, PairReply) {
        guard HostedName.isValid(label) else {
            throw TroveError(.usage, "'\(label)' cannot name a peer: use 1-64 of a-z, 0-9, - and _.")
        }
        guard let url = URL(string: address), url.scheme == "https", let host = url.host else {
            throw TroveError(.usage, "\(address) is not an https:// address (e.g. https://nas.local:7860).")
        }
        let port = url.port ?? 7860
        let certificate = try serverCertificate(host: host, port: port, identity: identity, code: code)
        let der = try certificate.toDERBytes()
        let pem = "-----BEGIN CERTIFICATE-----\n"
            + Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
            + "\n-----END CERTIFICATE-----\n"
        let server = PinnedPeer(label: label, fingerprint: PeerIdentity.fingerprint(der: der), certificate: pem, rights: [],
                                appendOnly: false, address: "https://\(host.contains(":") ? "[\(host)]" : host):\(port)", added: now)
        let client = try PeerClient(peer: server, identity: identity)
        defer { client.shutdown() }
        let request = PairRequest(secret: Base32.encode(code.secret), name: DiskIdentity.machineName(), library: libraryID)
        let reply: PairReply
        do {
            reply = try client.json(PairReply.self, .POST, "/v1/pair", body: Array(try JSONCoding.encoder.encode(request)))
        } catch let error as StoreError {
            throw TroveError(error.kind == .unavailable ? .storeNotConnected : .usage, error.message)
        }
        var learned = server
        learned.machine = reply.name
        learned.library = reply.library
        let pinned = try PeerBookFile(library: library).update { book in book.pin(learned, keepRights: true) }
        return (pinned, reply)
    }

    /// The server's certificate, from a handshake that fails unless it is the one the code names.
    static func serverCertificate(host: String, port: Int, identity: PeerIdentity, code: PairingCode) throws -> NIOSSLCertificate {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateChain = [.certificate(try identity.nioCertificate())]
        tls.privateKey = .privateKey(try identity.nioPrivateKey())
        tls.certificateVerification = .noHostnameVerification
        tls.minimumTLSVersion = .tlsv12
        let context = try NIOSSLContext(configuration: tls)
        let seen = NIOLockedValueBox<NIOSSLCertificate?>(nil)
        let decided = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try NIOSSLClientHandler(context: context, serverHostname: nil) { certificates, promise in
                        guard let leaf = certificates.first, let fingerprint = PeerIdentity.fingerprint(leaf),
                              code.matches(serverFingerprint: fingerprint) else {
                            promise.succeed(.failed)
                            decided.succeed(())
                            return
                        }
                        seen.withLockedValue { $0 = leaf }
                        promise.succeed(.certificateVerified)
                        decided.succeed(())
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let channel: Channel
        do { channel = try bootstrap.connect(host: host, port: port).wait() } catch {
            throw TroveError(.storeNotConnected, "Cannot reach \(host):\(port) (\(error)). Check that `trove serve --listen` runs there and the address.")
        }
        defer { try? channel.close().wait() }
        // The certificate is judged in the handshake; a connection closed before that judged nothing.
        channel.closeFuture.whenComplete { _ in decided.succeed(()) }
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(10)) { decided.succeed(()) }
        try? decided.futureResult.wait()
        timeout.cancel()
        guard let certificate = seen.withLockedValue({ $0 }) else {
            throw TroveError(.usage, "The machine at \(host):\(port) is not the one that made this code (its certificate does not match), or the code was mistyped. Nothing was sent to it.")
        }
        return certificate
    }
}

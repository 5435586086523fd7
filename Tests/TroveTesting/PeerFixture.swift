import Foundation
import Logging
import TroveCore
import TroveEngine
import TrovePeer
import TroveStorage

/// Two machines on loopback: a server library whose real `trove serve --listen` (a separate
/// process, as a user runs it) hosts the store "tank", and a client library with its own
/// identity, each pinning the other as pairing would. Tests drive the peer store kind and the
/// API against it.
public final class PeerFixture: @unchecked Sendable {
    public let folder = TempFolder("trove-peer")
    /// The server machine's library folder (its identity and peers.json).
    public let serverPath: String
    public let serverIdentity: PeerIdentity
    /// The client machine's library (its folder holds its identity and peers.json).
    public let clientLibrary: Library
    public var clientPath: String { clientLibrary.path }
    public let clientIdentity: PeerIdentity
    public private(set) var port = 0
    /// The loopback plain-HTTP port (`--metrics-port`), when asked for.
    public private(set) var metricsPort = 0
    private var process: Process?

    /// `rights` and `appendOnly`: what the server grants the client.
    public init(rights: PeerRights = [.read, .write], appendOnly: Bool = false, serverArguments: [String] = []) throws {
        serverPath = try Library.create(at: folder.at("server-library"), copies: 1).path
        serverIdentity = try PeerIdentity.loadOrCreate(library: serverPath, name: "server")
        clientLibrary = try Library.create(at: folder.at("client-library"), copies: 2)
        clientIdentity = try PeerIdentity.loadOrCreate(library: clientLibrary.path, name: "client")
        try PeerBookFile(library: serverPath).update { book in
            book.peers.append(PinnedPeer(label: "client", fingerprint: clientIdentity.fingerprint, certificate: clientIdentity.certificatePEM,
                                         rights: rights, appendOnly: appendOnly, address: nil, added: Date()))
        }
        try startServer(extraArguments: serverArguments)
    }

    deinit { stopServer() }

    /// Where the hosted store "tank" lives on the server's drive.
    public var tankFolder: String { folder.at("tank") }

    /// Starts `trove serve --listen 127.0.0.1:0 --host-store tank=…` and waits until it listens.
    public func startServer(extraArguments: [String] = []) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: troveBinary())
        process.arguments = ["serve", "--library", serverPath, "--listen", "127.0.0.1:0", "--host-store", "tank=\(tankFolder)",
                             "--interval", "3600"] + extraArguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TROVE_") }
        environment["TROVE_LOG_LEVEL"] = "error"
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        var text = ""
        let deadline = Date() + 60
        while Date() < deadline {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
            if let match = text.range(of: #"https://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(text[match].split(separator: ":").last!)!
                guard extraArguments.contains("--metrics-port") else { break }
                if let local = text.range(of: #"http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                    metricsPort = Int(text[local].split(separator: ":").last!)!
                    break
                }
            }
        }
        guard port > 0 else {
            process.terminate()
            throw TroveError(.io, "trove serve did not start: \(text)")
        }
        try PeerBookFile(library: clientPath).update { book in
            book.peers.removeAll { $0.label == "server" }
            book.peers.append(PinnedPeer(label: "server", fingerprint: serverIdentity.fingerprint, certificate: serverIdentity.certificatePEM,
                                         rights: [], appendOnly: false, address: "https://127.0.0.1:\(port)", added: Date()))
        }
    }

    /// Stops the server (SIGTERM, as a machine shutting down would): its port then refuses connections.
    public func stopServer() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// Kills the server at once (SIGKILL: a machine losing power).
    public func killServer() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The client's view of the server as a paired peer.
    public func pinnedServer() throws -> PinnedPeer {
        guard let peer = try PeerBookFile(library: clientPath).load().peer(label: "server") else { throw TroveError(.io, "not pinned") }
        return peer
    }

    /// The hosted store "tank" as a peer store seen from the client.
    public func peerStore(identity: PeerIdentity? = nil, address: String? = nil) throws -> PeerStore {
        let client = try PeerClient(peer: try pinnedServer(), identity: identity ?? clientIdentity, address: address)
        guard let store = try PeerStore.open(client: client, name: "tank") else { throw TroveError(.io, "tank is not hosted") }
        return store
    }
}

import Foundation
import TroveCore
import TroveStorage

/// A server that presents a paired machine's certificate (its key was stolen, or its software is
/// broken) and lies about one object: wrong bytes, too few or too many, or dribbled out slowly;
/// asked to verify, it calls everything good. Python's ssl and http.server, on loopback.
public final class LyingPeer: @unchecked Sendable {
    /// `steady` is no liar: a slow link that keeps sending, 256 KiB a second.
    public enum Mode: String, Sendable { case wrongBytes = "wrong", short, long, slow, steady }
    public let port: Int
    private let process: Process

    /// `certificate`/`key`: the identity it impersonates; `clientCertificate`: the one it accepts.
    public init(mode: Mode, certificate: String, key: String, clientCertificate: String, identity: StoreIdentity,
                object: ContentID, size: Int) throws {
        port = try MotoServer.freePort()
        let identityJSON = String(decoding: try JSONCoding.encoder.encode(identity), as: UTF8.self)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, String(port), mode.rawValue, certificate, key, clientCertificate, identityJSON,
                             object.description, String(size)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date() + 20
        while !MotoServer.answers(port: port) {
            guard Date() < deadline, process.isRunning else { throw MotoServer.StartFailure(description: "the lying peer did not start") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    deinit {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    private static let script = """
        import http.server, json, os, signal, ssl, sys, time
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        port, mode, cert, key, cacert, identity, oid, size = sys.argv[1:9]
        port, size = int(port), int(size)
        info = json.dumps({"name": "tank", "identity": json.loads(identity), "capacity": 1 << 40, "free": 1 << 39,
                           "read_only": False, "machine": "liar"}).encode()
        class Liar(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def send(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers: self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD": self.wfile.write(body)
            def do_HEAD(self):
                if self.path.startswith("/v1/hosted/tank/objects/" + oid):
                    return self.send(200, b"", [("x-object-size", str(size))])
                self.send(404)
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path == "/v1/hosted/tank/verify":
                    ids = json.loads(body)["ids"]
                    return self.send(200, json.dumps({"good": ids, "corrupt": [], "missing": []}).encode())
                self.send(404, b'{"error": "no"}')
            def do_GET(self):
                if self.path == "/v1/hosted/tank":
                    return self.send(200, info, [("content-type", "application/json")])
                if self.path.startswith("/v1/hosted/tank/objects/" + oid):
                    first, last = 0, size - 1
                    r = self.headers.get("range")
                    if r:
                        a, b = r[6:].split("-")
                        first, last = int(a), min(int(b), size - 1)
                    n = max(0, last - first + 1)
                    if mode == "wrong": return self.send(206, os.urandom(n), [("x-object-size", str(size))])
                    if mode == "short": return self.send(206, os.urandom(max(0, n - 100)), [("x-object-size", str(size))])
                    if mode == "long": return self.send(206, os.urandom(n + 100), [("x-object-size", str(size))])
                    self.send_response(206)
                    self.send_header("x-object-size", str(size))
                    self.send_header("content-length", str(n))
                    self.end_headers()
                    if mode == "steady":
                        for offset in range(0, n, 65536):
                            self.wfile.write(b"x" * min(65536, n - offset)); self.wfile.flush(); time.sleep(0.25)
                        return
                    for _ in range(n):
                        self.wfile.write(b"x"); self.wfile.flush(); time.sleep(1)
                    return
                self.send(404, b'{"error": "no"}')
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=cacert)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Liar)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.serve_forever()
        """
}

import Foundation
import TroveCore
import TroveS3

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

#if canImport(Glibc)
    private let streamSocket = Int32(SOCK_STREAM.rawValue)
#else
    private let streamSocket = SOCK_STREAM
#endif

/// A throwaway moto S3 server on a free loopback port.
///
/// moto_server runs under a small python watchdog that kills it when the watchdog gets SIGTERM (`stop()`)
/// or when this test process is gone (it polls its parent), so a crashed test run leaves no server behind.
/// The watchdog first clears the signal mask it inherits: processes spawned from the Swift test runner
/// start with SIGTERM blocked, and moto would otherwise ignore it.
public final class MotoServer: @unchecked Sendable {
    public let port: Int
    public let endpoint: URL
    private let process: Process?
    private let lock = NSLock()
    private var stopped = false

    /// One server for the whole test process; tests use distinct buckets so they can share it.
    /// When TROVE_TEST_S3_ENDPOINT names one (`.ci/run` starts it), that one is used.
    public static let shared = Result { () throws -> MotoServer in
        if let text = ProcessInfo.processInfo.environment["TROVE_TEST_S3_ENDPOINT"], let url = URL(string: text), let port = url.port {
            return MotoServer(external: url, port: port)
        }
        return try MotoServer()
    }

    public struct StartFailure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    private init(external: URL, port: Int) {
        self.endpoint = external
        self.port = port
        self.process = nil
    }

    /// Whether it answers now.
    public var isUp: Bool { Self.answers(port: port) }

    /// Credentials moto accepts (it does not check them unless asked to).
    public static let credentials = S3Credentials(accessKey: "trove-test", secretKey: "trove-test-secret")

    /// A client for a bucket on this server.
    public func client(bucket: String) -> S3Client {
        S3Client(location: S3Location(endpoint: endpoint, region: "us-east-1", bucket: bucket, pathStyle: true),
                 credentials: Self.credentials, retry: RetryPolicy(attempts: 2, baseDelay: 0.05, maxDelay: 0.1))
    }

    /// Makes a bucket (an existing one is fine).
    public func createBucket(_ name: String) throws {
        let client = client(bucket: name)
        defer { client.shutdown() }
        try client.createBucket()
    }

    /// `environment` adds variables for moto (e.g. INITIAL_NO_AUTH_ACTION_COUNT).
    public init(environment: [String: String] = [:], port fixedPort: Int? = nil, timeout: TimeInterval = 60) throws {
        port = try fixedPort ?? Self.freePort()
        endpoint = URL(string: "http://127.0.0.1:\(port)")!
        let executable = ProcessInfo.processInfo.environment["MOTO_SERVER"] ?? "moto_server"
        let process = Process()
        self.process = process
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.watchdog, executable, String(port)]
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()

        let deadline = Date().addingTimeInterval(timeout)
        while !Self.answers(port: port) {
            if !process.isRunning || Date() > deadline {
                process.terminate()
                throw StartFailure(description: "moto_server did not start on 127.0.0.1:\(port) within \(Int(timeout)) s")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    deinit { stop() }

    /// Stops the server (one this process started; a shared external one is left alone).
    public func stop() {
        lock.lock()
        let already = stopped
        stopped = true
        lock.unlock()
        guard !already, let process else { return }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    private static let watchdog = """
        import os, signal, subprocess, sys, time
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        parent = os.getppid()
        moto = subprocess.Popen([sys.argv[1], "-H", "127.0.0.1", "-p", sys.argv[2]],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        def stop(*_):
            moto.kill()
            moto.wait()
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while os.getppid() == parent and moto.poll() is None:
            time.sleep(0.2)
        stop()
        """

    /// A port nothing listens on right now (bound, read back, released).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, streamSocket, 0)
        guard fd >= 0 else { throw StartFailure(description: "socket() failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard ok else { throw StartFailure(description: "could not bind a loopback port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:port.
    public static func answers(port: Int) -> Bool {
        let fd = socket(AF_INET, streamSocket, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

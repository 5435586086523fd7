import Foundation

/// A TCP relay on a loopback port in front of a server: stopping it looks to a client exactly
/// like the server going away (connections refused or cut), and starting it again on the same
/// port brings the server back with everything it held (moto keeps its buckets in memory, so
/// stopping moto itself would lose them).
public final class TCPRelay: @unchecked Sendable {
    public let port: Int
    let target: Int
    private var process: Process?

    public init(to target: Int) throws {
        self.port = try MotoServer.freePort()
        self.target = target
        try start()
    }

    deinit { stop() }

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    public func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, String(port), String(target)]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(20)
        while !MotoServer.answers(port: port) {
            guard Date() < deadline, process.isRunning else { throw MotoServer.StartFailure(description: "the relay did not start") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Stops listening and cuts every open connection.
    public func stop() {
        guard let process else { return }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        self.process = nil
    }

    private static let script = """
        import asyncio, os, signal, sys
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        listen, target = int(sys.argv[1]), int(sys.argv[2])
        parent = os.getppid()
        async def pipe(reader, writer):
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except Exception:
                pass
            finally:
                writer.close()
        async def handle(client_reader, client_writer):
            try:
                server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
            except Exception:
                client_writer.close()
                return
            await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))
        async def watch():
            while os.getppid() == parent:
                await asyncio.sleep(0.2)
            os._exit(0)
        async def main():
            server = await asyncio.start_server(handle, "127.0.0.1", listen, reuse_address=True)
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: os._exit(0))
            await asyncio.gather(server.serve_forever(), watch())
        asyncio.run(main())
        """
}

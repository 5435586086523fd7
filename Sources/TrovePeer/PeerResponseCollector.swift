import AsyncHTTPClient
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Collects one answer from a peer, at most `maxBody` bytes of it, and judges whether the peer
/// is still answering: the head must come within a time limit (the server may be hashing a
/// large upload first), and then the body must keep moving — at least `minimumBytes` in every
/// `window` — so a server dribbling a byte at a time (slow-loris) is cut off in seconds, while
/// a slow but steady link is not.
final class PeerResponseCollector: HTTPClientResponseDelegate, @unchecked Sendable {
    typealias Response = PeerClient.Reply

    struct TooBig: Error {}

    static let window: TimeAmount = .seconds(3)
    static let minimumBytes = 16 << 10

    private let state = NIOLockedValueBox(State())
    private struct State {
        var head: HTTPResponseHead?
        var body = ByteBuffer()
        var received = 0
        var windowStart: NIODeadline?
        var windowBytes = 0
        var finished = false
    }
    let maxBody: Int

    init(maxBody: Int) { self.maxBody = maxBody }

    func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        state.withLockedValue {
            $0.head = head
            $0.windowStart = .now()
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let tooBig = state.withLockedValue { state -> Bool in
            state.received += buffer.readableBytes
            guard state.received <= maxBody else { return true }
            var buffer = buffer
            state.body.writeBuffer(&buffer)
            return false
        }
        return tooBig ? task.eventLoop.makeFailedFuture(TooBig()) : task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Response>) throws -> Response {
        try state.withLockedValue { state in
            state.finished = true
            guard let head = state.head else { throw HTTPClientError.remoteConnectionClosed }
            return PeerClient.Reply(status: Int(head.status.code), headers: head.headers, body: Array(state.body.readableBytesView))
        }
    }

    /// Nil while the answer is on time; otherwise why it is not.
    func stall(now: NIODeadline, started: NIODeadline, headLimit: TimeAmount) -> String? {
        state.withLockedValue { state in
            if state.finished { return nil }
            guard state.head != nil, let windowStart = state.windowStart else {
                return now - started > headLimit ? "did not answer within \(headLimit.nanoseconds / 1_000_000_000) s" : nil
            }
            guard now - windowStart >= Self.window else { return nil }
            let moved = state.received - state.windowBytes
            if moved < Self.minimumBytes {
                return "sent only \(moved) bytes in \(Self.window.nanoseconds / 1_000_000_000) s (a stalled or deliberately slow answer)"
            }
            state.windowStart = now
            state.windowBytes = state.received
            return nil
        }
    }
}

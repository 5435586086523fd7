import Foundation
import TrovePeer

// Requests per second against `trove serve --listen` over mutual TLS, as a paired client:
//   peer-load CLIENT_LIBRARY PEER_LABEL PATH SECONDS THREADS
// wrk presents no client certificate, so this stands in for it (AsyncHTTPClient, keep-alive,
// up to 8 connections). It runs on the same cores as the server, so the figure is a floor.
let arguments = CommandLine.arguments
guard arguments.count == 6, let seconds = Double(arguments[4]), let threads = Int(arguments[5]) else {
    FileHandle.standardError.write(Data("usage: peer-load CLIENT_LIBRARY PEER_LABEL PATH SECONDS THREADS\n".utf8))
    exit(64)
}
let library = arguments[1], label = arguments[2], path = arguments[3]
guard let identity = try PeerIdentity.load(library: library), let peer = try PeerBookFile(library: library).load().peer(label: label) else {
    FileHandle.standardError.write(Data("\(library) is not paired with '\(label)'\n".utf8))
    exit(66)
}
let client = try PeerClient(peer: peer, identity: identity)
final class Counter: @unchecked Sendable {
    let lock = NSLock()
    var done = 0, errors = 0
}
let counter = Counter()
let deadline = Date() + seconds
let started = Date()
DispatchQueue.concurrentPerform(iterations: threads) { _ in
    var done = 0, errors = 0
    while Date() < deadline {
        if (try? client.send(.GET, path, attempts: 1))?.status == 200 { done += 1 } else { errors += 1 }
    }
    counter.lock.withLock {
        counter.done += done
        counter.errors += errors
    }
}
let elapsed = Date().timeIntervalSince(started)
print("{\"requests\": \(counter.done), \"errors\": \(counter.errors), \"seconds\": \(elapsed), \"rps\": \(Double(counter.done) / elapsed)}")
client.shutdown()

import Foundation
import Hummingbird
import Prometheus

/// How long the API takes to answer, for /metrics:
/// `trove_http_request_duration_seconds{method,route,status}`. Routes are the endpoints'
/// patterns (`/v1/hosted/{name}/objects/{id}`), never raw paths, so a client asking for many
/// names cannot make the exposition grow without bound.
final class RequestMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    static let buckets: [Duration] = [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
                                      .milliseconds(500), .seconds(2), .seconds(10), .seconds(60)]

    func record(method: String, path: String, status: Int, duration: Duration) {
        let descriptor = MetricNameDescriptor(namespace: "trove", subsystem: "http", metricName: "request_duration", unitName: "seconds",
                                              helpText: "Time to answer an API request, by method, endpoint and status class.")
        registry.makeDurationHistogram(descriptor: descriptor,
                                       labels: [("method", method), ("route", Self.route(path)), ("status", "\(status / 100)xx")],
                                       buckets: Self.buckets).record(duration)
    }

    func text() -> String { registry.emitToString() }

    /// The endpoint pattern a path matches (`other` for none).
    static func route(_ path: String) -> String {
        let parts = path.split(separator: "?", maxSplits: 1)[0].split(separator: "/").map(String.init)
        guard parts.first == "v1" else { return parts == ["metrics"] ? "/metrics" : "other" }
        let known = ["status", "stores", "events", "whereis", "snapshots", "find", "progress", "pair"]
        if parts.count == 2, known.contains(parts[1]) { return "/v1/" + parts[1] }
        guard parts.count >= 2, parts[1] == "hosted" else { return "other" }
        let shapes: [[String]] = [
            ["hosted"], ["hosted", "{name}"], ["hosted", "{name}", "objects"], ["hosted", "{name}", "objects", "{id}"],
            ["hosted", "{name}", "objects", "{id}", "quarantine"], ["hosted", "{name}", "uploads"],
            ["hosted", "{name}", "uploads", "{upload}"], ["hosted", "{name}", "uploads", "{upload}", "commit"],
            ["hosted", "{name}", "records", "{record}"], ["hosted", "{name}", "verify"], ["hosted", "{name}", "clean"],
        ]
        let rest = Array(parts.dropFirst())
        for shape in shapes where shape.count == rest.count
            && zip(shape, rest).allSatisfy({ $0.hasPrefix("{") || $0 == $1 }) {
            return "/v1/" + shape.joined(separator: "/")
        }
        return "other"
    }
}

/// Times every request, whatever its outcome (errors are answers by the time it sees them).
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = PeerContext
    let metrics: RequestMetrics

    func handle(_ request: Request, context: PeerContext, next: (Request, PeerContext) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.record(method: request.method.rawValue, path: request.uri.path, status: response.status.code,
                           duration: ContinuousClock.now - started)
            return response
        } catch {
            metrics.record(method: request.method.rawValue, path: request.uri.path, status: 500, duration: ContinuousClock.now - started)
            throw error
        }
    }
}

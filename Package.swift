// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Trove",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "trove", targets: ["trove"]),
        .library(name: "TroveEngine", targets: ["TroveEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.36.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // Pure model and rules: content address, records, durability, alerts, lifecycle.
        .target(name: "TroveCore", dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Linux calls Swift's Glibc module lacks (extended attributes).
        .target(name: "CTroveSystem"),
        // GF(2^8) multiply-accumulate kernels (AVX2, SSSE3, portable), chosen at run time.
        .target(name: "CTroveGF"),
        // Reed-Solomon k-of-n coding, byte-compatible with zfec, and zfec's share files.
        .target(name: "TroveFEC", dependencies: ["TroveCore", "CTroveGF"]),
        // Stores and catalogs: the I/O edge.
        .target(name: "TroveStorage", dependencies: [
            "TroveCore", "CTroveSystem",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The PostgreSQL catalog: one library shared by several machines.
        .target(name: "TrovePostgres", dependencies: [
            "TroveCore", "TroveStorage",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // A small synchronous S3 client (SigV4, retries); knows nothing of stores.
        .target(name: "TroveS3", dependencies: [
            "TroveCore",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Machines together: the library's key and certificate, pinned peers, pairing codes, and
        // the client side of a store hosted by another machine's `trove serve` (mutual TLS).
        .target(name: "TrovePeer", dependencies: [
            "TroveCore", "TroveStorage",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Every kind of store and wrapper, and the registry that builds them from configuration:
        // S3, grids of k-of-n shares, encryption, retries, bandwidth limits.
        .target(name: "TroveStores", dependencies: [
            "TroveCore", "TroveStorage", "TroveS3", "TroveFEC", "TrovePeer",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
        ]),
        // The library: import, read, verify, check, status.
        .target(name: "TroveEngine", dependencies: [
            "TroveCore", "TroveStorage", "TroveStores", "TrovePostgres",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The library's state as Prometheus metrics (swift-prometheus).
        .target(name: "TroveMetrics", dependencies: [
            "TroveCore", "TroveEngine",
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // `trove serve`'s HTTPS face (Hummingbird): the JSON API, hosted stores, pairing, /metrics.
        .target(name: "TroveServer", dependencies: [
            "TroveCore", "TroveStorage", "TroveStores", "TroveEngine", "TrovePeer", "TroveMetrics",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The command line, thin: parse, call the engine, print.
        .executableTarget(name: "trove", dependencies: [
            "TroveEngine", "TroveStores", "TroveFEC", "TrovePostgres", "TroveMetrics", "TrovePeer", "TroveServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // In-memory erasure-coding throughput next to zfec's Python API (`swift run -c release fec-bench`).
        .executableTarget(name: "fec-bench", dependencies: ["TroveFEC"], path: "Benchmarks/FECBench"),
        // Requests per second against `trove serve --listen` over mutual TLS, as a paired client.
        .executableTarget(name: "peer-load", dependencies: ["TrovePeer"], path: "Benchmarks/PeerLoad"),
        // Test helpers shared by every test target (fault-injecting stores, temp folders).
        .target(name: "TroveTesting", dependencies: ["TroveCore", "TroveStorage", "TrovePostgres", "TroveStores", "TroveS3", "TroveEngine", "TrovePeer"], path: "Tests/TroveTesting"),
        .testTarget(name: "TroveCoreTests", dependencies: ["TroveCore", "TroveTesting"]),
        // (the peer store kind runs against the real `trove serve`.)
        .testTarget(name: "TroveStorageTests", dependencies: ["trove", "TroveStorage", "TroveStores", "TroveS3", "TroveTesting", "TrovePostgres"]),
        .testTarget(name: "TrovePeerTests", dependencies: [
            "trove", "TrovePeer", "TroveServer", "TroveStorage", "TroveStores", "TroveCore", "TroveTesting",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
        ]),
        .testTarget(name: "TroveFECTests", dependencies: ["TroveFEC", "CTroveGF", "TroveCore", "TroveTesting"]),
        .testTarget(name: "TroveS3Tests", dependencies: ["TroveS3", "TroveCore", "TroveTesting"]),
        .testTarget(name: "TroveEngineTests", dependencies: [
            "TroveEngine", "TroveTesting", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // Drives the real `trove` binary on real folders.
        .testTarget(name: "TroveScenarioTests", dependencies: [
            "trove", "TroveTesting", "TroveCore", "TroveStorage", "TroveS3", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
    ]
)

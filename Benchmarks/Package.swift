// swift-tools-version:6.1
import PackageDescription

// Benchmarks live in their own package so that CI's `swift test` does not build them.
// Run them with the commands in README.md in this folder.
let package = Package(
    name: "portcullis-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "portcullis", path: ".."),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .executableTarget(
            name: "gateway-bench-server",
            dependencies: [
                .product(name: "Gateway", package: "portcullis"),
                .product(name: "Resilience", package: "portcullis"),
                .product(name: "PKI", package: "portcullis"),
                .product(name: "UpstreamCredentials", package: "portcullis"),
                .product(name: "Reconcilers", package: "portcullis"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/gateway-bench-server"
        ),
        .executableTarget(
            name: "nio-floor-proxy",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/nio-floor-proxy"
        ),
        .executableTarget(
            name: "credentials-bench",
            dependencies: [
                .product(name: "PKI", package: "portcullis"),
                .product(name: "UpstreamCredentials", package: "portcullis"),
                .product(name: "Reconcilers", package: "portcullis"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/credentials-bench"
        ),
        .executableTarget(
            name: "apiserver-bench",
            dependencies: [
                .product(name: "KubernetesAPIServer", package: "portcullis"),
                .product(name: "Kubernetes", package: "portcullis"),
                .product(name: "PKI", package: "portcullis"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/apiserver-bench",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // glibc's mallinfo2, which the Glibc module does not export: the controller's live heap.
        .target(name: "CMallocInfo", path: "Sources/CMallocInfo"),
        .executableTarget(
            name: "controller-bench",
            dependencies: [
                "CMallocInfo",
                .product(name: "Reconcilers", package: "portcullis"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Gateway", package: "portcullis"),
                .product(name: "KubernetesClient", package: "portcullis"),
                .product(name: "KubernetesAPIServer", package: "portcullis"),
                .product(name: "Kubernetes", package: "portcullis"),
                .product(name: "PortcullisAPI", package: "portcullis"),
                .product(name: "PKI", package: "portcullis"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/controller-bench",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
    ]
)

// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "portcullis",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "portcullis", targets: ["portcullis"]),
        .library(name: "Kubernetes", targets: ["Kubernetes"]),
        .library(name: "PortcullisAPI", targets: ["PortcullisAPI"]),
        .library(name: "KubernetesAPIServer", targets: ["KubernetesAPIServer"]),
        .library(name: "Resilience", targets: ["Resilience"]),
        .library(name: "Gateway", targets: ["Gateway"]),
        .library(name: "PKI", targets: ["PKI"]),
        .library(name: "UpstreamCredentials", targets: ["UpstreamCredentials"]),
        .library(name: "KubernetesClient", targets: ["KubernetesClient"]),
        .library(name: "Reconcilers", targets: ["Reconcilers"]),
        .library(name: "Tunnels", targets: ["Tunnels"]),
        .library(name: "IPAddresses", targets: ["IPAddresses"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // HTTP/2 for the gateway's clients (TLS with ALPN).
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // A lock-free lazy reference: per-route metric handles made on a route's first request.
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        // Test-only: an independent JWT implementation that verifies what PKI mints.
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        // The control plane's HTTP client: token endpoints (UpstreamCredentials) and the fakes' JWKS fetches.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        // Metrics: the libraries record through swift-metrics; the executable exports them with swift-prometheus.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // IP addresses and networks (CIDR), and the special-purpose ranges a destination or a tunnel may not
        // claim. The standard library and the C library only: the resource API, the data plane and tunnels share it.
        .target(
            name: "IPAddresses",
            swiftSettings: swiftSettings
        ),
        // Kubernetes object model shared by the API server, the client and the resource API:
        // unstructured JSON values, YAML, object metadata, OpenAPI v3 schemas and their validation.
        .target(
            name: "Kubernetes",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // The portcullis.io/v1alpha1 resources (Route, UpstreamAuth, Tunnel), their CRDs and semantic validation.
        .target(
            name: "PortcullisAPI",
            dependencies: ["Kubernetes", "IPAddresses"],
            swiftSettings: swiftSettings
        ),
        // The data plane's resilience policies as pure state machines: circuit breaker, retry budget, backoff,
        // retry decisions, bulkhead and deadlines. The standard library only: nothing from Kubernetes.
        .target(
            name: "Resilience",
            swiftSettings: swiftSettings
        ),
        // The gateway data plane: the immutable GatewayConfig the reconcilers produce, and routing.
        // Nothing from Kubernetes.
        .target(
            name: "Gateway",
            dependencies: [
                "Resilience",
                "IPAddresses",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The installation's own PKI on plain values: a CA and the certificates it issues, JWT signing keys,
        // their JWKS and OIDC discovery documents, the hot-path JWT signer and the key ring's rotation.
        // No Kubernetes here: the controller stores what this produces in Secrets.
        .target(
            name: "PKI",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        // Upstream credentials on plain configuration values: gateway JWTs, GCP workload identity federation (STS and
        // IAM Credentials), Entra ID and OAuth2 client credentials, and the token cache the gateway reads per
        // request. No Kubernetes here: the reconciler maps UpstreamAuth specs to these configurations.
        .target(
            name: "UpstreamCredentials",
            dependencies: [
                "PKI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Faithful fakes of the token services on real loopback HTTP (Google STS and IAM Credentials, Entra ID,
        // a generic OAuth2 server, an OIDC issuer), and a manual clock, for the test targets.
        .target(
            name: "CredentialFakes",
            dependencies: [
                "PKI",
                "UpstreamCredentials",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        // WireGuard for Tunnels on plain values: keys, address allocation, wg-quick configs, and the gateway's
        // interfaces (kernel WireGuard or wireguard-go, `ip` and `wg`). Nothing from Kubernetes.
        .target(
            name: "Tunnels",
            dependencies: [
                "IPAddresses",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The embedded Kubernetes-compatible API server: storage, watch, discovery, OpenAPI, HTTPS.
        .target(
            name: "KubernetesAPIServer",
            dependencies: [
                "Kubernetes",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // glibc's malloc_trim, for the controller's HeapTrimmer.
        .target(name: "CHeap"),
        // The reconcilers: Route, UpstreamAuth and Tunnel resources into the gateway's config, and status.
        .target(
            name: "Reconcilers",
            dependencies: [
                "Kubernetes", "PortcullisAPI", "Gateway", "Resilience", "KubernetesClient", "UpstreamCredentials", "PKI",
                "Tunnels", "IPAddresses", "CHeap",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Kubernetes client on AsyncHTTPClient (kubeconfig, in-cluster config, typed errors, list/watch)
        // and the controller runtime on it: informers and caches, the work queue, controllers, leader
        // election, the event recorder. See docs/controller-runtime.md.
        .target(
            name: "KubernetesClient",
            dependencies: [
                "Kubernetes",
                "PortcullisAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The thin `portcullis` command line.
        .executableTarget(
            name: "portcullis",
            dependencies: [
                "Kubernetes",
                "KubernetesAPIServer",
                "PKI",
                "PortcullisAPI",
                "Gateway",
                "Reconcilers",
                "KubernetesClient",
                "Tunnels",
                "UpstreamCredentials",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // Fixtures shared by the test targets: the repository's own files (examples, crds), external tools, and an
        // upstream that requires a client certificate.
        .target(
            name: "PortcullisTestSupport",
            dependencies: [
                "Kubernetes", "PKI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KubernetesTests",
            dependencies: ["Kubernetes", "PortcullisTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KubernetesAPIServerTests",
            dependencies: [
                "KubernetesAPIServer", "Kubernetes", "PKI", "PortcullisTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KubernetesClientTests",
            dependencies: [
                "KubernetesClient", "Kubernetes", "KubernetesAPIServer", "PKI", "PortcullisAPI", "PortcullisTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PortcullisAPITests",
            dependencies: ["PortcullisAPI", "Kubernetes", "PortcullisTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "Resilience", "PKI", "PortcullisTestSupport", "IPAddresses",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ReconcilersTests",
            dependencies: [
                "Reconcilers", "Gateway", "Resilience", "PortcullisAPI", "Kubernetes", "PortcullisTestSupport",
                "KubernetesAPIServer", "KubernetesClient", "PKI", "UpstreamCredentials", "CredentialFakes", "Tunnels", "IPAddresses",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IPAddressesTests",
            dependencies: ["IPAddresses"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TunnelsTests",
            dependencies: ["Tunnels", "IPAddresses", "PortcullisTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ResilienceTests",
            dependencies: ["Resilience"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PKITests",
            dependencies: [
                "PKI",
                "PortcullisTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "UpstreamCredentialsTests",
            dependencies: [
                "UpstreamCredentials",
                "CredentialFakes",
                "PKI",
                "PortcullisTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PortcullisCLITests",
            dependencies: ["portcullis", "Kubernetes", "PKI", "PortcullisTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)

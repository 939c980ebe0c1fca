# syntax=docker/dockerfile:1

# ---- build ------------------------------------------------------------------
FROM swift:6.3-bookworm AS build
WORKDIR /src

# Resolve dependencies first so this layer is cached until Package.swift changes.
COPY Package.swift ./
RUN swift package resolve

# Test targets are declared in Package.swift, and SwiftPM refuses to build when a declared
# target's directory is missing, so Tests/ is copied too (it is not compiled for the product).
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product portcullis \
 && cp "$(swift build -c release --static-swift-stdlib --show-bin-path)/portcullis" /portcullis

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim

# wireguard-go/wireguard-tools/iproute2 are used only when Tunnels are configured
# (see manifests/overlays/tunnel). The Swift stdlib and Foundation are linked statically;
# if the code (or a dependency) ever imports FoundationNetworking, add libcurl4 here,
# and libxml2 for FoundationXML.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      wireguard-tools \
      wireguard-go \
      iproute2 \
 && rm -rf /var/lib/apt/lists/*

COPY --from=build /portcullis /usr/local/bin/portcullis
COPY crds/ /usr/share/portcullis/crds/

USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["controller"]

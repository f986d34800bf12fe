# syntax=docker/dockerfile:1
# apuntador-server as a container for ECS Fargate, for linux/amd64 (X86_64 tasks) or linux/arm64 (ARM64,
# Graviton tasks): the Rust target follows the platform being built (TARGETARCH).
#
#   docker build -t apuntador .                                    # the builder's own platform
#   docker buildx build --platform linux/arm64 -t apuntador:arm64 .  # for cpu_architecture = "ARM64"
#   docker buildx build --platform linux/amd64 -t apuntador:amd64 .  # for cpu_architecture = "X86_64"
#   docker run --rm -p 8000:8000 apuntador
#
# Stage 1 builds a fully static binary for <arch>-unknown-linux-musl (rustls only, no OpenSSL; musl-gcc
# compiles the bundled SQLite) on the platform being built, so no cross toolchain is involved (an arm64
# build on an x86_64 machine runs under buildx's emulation, slower but identical). Stage 2 is distroless
# *static* for the same platform: no shell, no package manager, no libc, user nonroot (65532).
# scripts/build-static runs the same build without Docker (both architectures) and smoke-tests it.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
# Set by BuildKit from --platform (amd64, arm64); plain `docker build` sets it to the builder's platform.
ARG TARGETARCH
RUN case "${TARGETARCH}" in \
        amd64) rust_target=x86_64-unknown-linux-musl ;; \
        arm64) rust_target=aarch64-unknown-linux-musl ;; \
        *) echo "unsupported TARGETARCH='${TARGETARCH}': build for linux/amd64 or linux/arm64" >&2; exit 1 ;; \
    esac \
    && echo "$rust_target" > /rust-target \
    && apt-get update \
    && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add "$rust_target"
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY assets ./assets
COPY src ./src
COPY bin ./bin
COPY benches ./benches
COPY tests ./tests
# The image has no .git: pass the commit for `--version`, e.g. --build-arg GIT_COMMIT=$(git rev-parse --short HEAD).
ARG GIT_COMMIT=unknown
ENV APUNTADOR_GIT_COMMIT=${GIT_COMMIT}
# Only the C code needs musl-gcc (musl headers); rustc links with the target's self-contained crt objects,
# which yields a static-pie executable with no program interpreter. The target cache is kept per
# architecture.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,id=apuntador-target-${TARGETARCH} \
    rust_target="$(cat /rust-target)" \
    && export "CC_$(echo "$rust_target" | tr - _)=musl-gcc" \
    && cargo build --release --locked --target "$rust_target" --bin apuntador-server \
    && cp "target/$rust_target/release/apuntador-server" /apuntador-server

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /apuntador-server /apuntador-server
USER nonroot:nonroot
ENV HOST=0.0.0.0 \
    PORT=8000 \
    LOG_FORMAT=json
EXPOSE 8000
# The binary probes itself: GET /health on the loopback address of HOST's family and PORT, exit 0 on a 200
# within 3 s, else 1 with the reason (shown by `docker inspect`).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["/apuntador-server", "--healthcheck"]
ENTRYPOINT ["/apuntador-server"]

# syntax=docker/dockerfile:1
# apuntador-server as a container for ECS Fargate (SPEC §12.1).
#
#   docker build -t apuntador .
#   docker run --rm -p 8000:8000 apuntador
#
# Stage 1 builds a fully static binary for x86_64-unknown-linux-musl (rustls only, no OpenSSL; musl-gcc
# compiles the bundled SQLite). Stage 2 is distroless *static*: no shell, no package manager, no libc,
# user nonroot (65532). scripts/build-static runs the same build without Docker and smoke-tests it.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
# Only the C code needs musl-gcc (musl headers); rustc links with the target's self-contained crt objects,
# which yields a static-pie executable with no program interpreter.
ENV CC_x86_64_unknown_linux_musl=musl-gcc
COPY Cargo.toml Cargo.lock build.rs ./
COPY assets ./assets
COPY src ./src
COPY bin ./bin
COPY benches ./benches
COPY tests ./tests
# The image has no .git: pass the commit for `--version`, e.g. --build-arg GIT_COMMIT=$(git rev-parse --short HEAD).
ARG GIT_COMMIT=unknown
ENV APUNTADOR_GIT_COMMIT=${GIT_COMMIT}
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target x86_64-unknown-linux-musl --bin apuntador-server \
    && cp target/x86_64-unknown-linux-musl/release/apuntador-server /apuntador-server

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

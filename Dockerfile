# syntax=docker/dockerfile:1
# tagstream: build with the Rust toolchain, run on a small Debian base as a non-root user.
#
#   docker build -t tagstream .
#   docker run --rm -i tagstream run --input - --output - < examples/sample.jsonl
#   docker run --rm -p 9898:9898 -e TAGSTREAM_KAFKA__BOOTSTRAP_SERVERS=kafka:9092 tagstream run

FROM rust:1.95-bookworm AS build
WORKDIR /src
# librdkafka is built from source by its -sys crate (a C toolchain and make, which the rust
# image has) and linked against the system's OpenSSL (scripts/deps.sh checks the toolchain
# against Cargo.toml's rust-version, and is a no-op where the image already has a C compiler,
# make, pkg-config and libssl-dev). The build command is the one scripts/test.sh runs
# (tests/integration/docker.rs holds the two together).
COPY Cargo.toml Cargo.lock ./
COPY scripts/deps.sh ./scripts/deps.sh
RUN scripts/deps.sh
COPY src ./src
COPY tests ./tests
RUN cargo build --release --locked \
 && strip target/release/tagstream

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tagstream
WORKDIR /app
COPY --from=build /src/target/release/tagstream /usr/local/bin/tagstream
COPY rules ./rules
COPY config ./config
RUN mkdir -p /app/state && chown tagstream /app/state
# /metrics, /livez and /readyz, reachable from outside the container.
ENV TAGSTREAM_HTTP__LISTEN=0.0.0.0:9898
EXPOSE 9898
USER tagstream
ENTRYPOINT ["tagstream"]
CMD ["run"]

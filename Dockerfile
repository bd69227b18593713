# syntax=docker/dockerfile:1
# tagstream: build with the Rust toolchain, run on a small Debian base as a non-root user.
#
#   docker build -t tagstream .
#   docker run --rm -i tagstream run --input - --output - < examples/sample.jsonl
#   docker run --rm -p 9898:9898 -e TAGSTREAM_KAFKA__BOOTSTRAP_SERVERS=kafka:9092 tagstream run

FROM rust:1.95-bookworm AS build
WORKDIR /src
# librdkafka and OpenSSL are built from source by their -sys crates: they need a C toolchain,
# perl and make, which the rust image has. The build command is the one scripts/test.sh runs
# (tests/integration/docker.rs holds the two together).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests ./tests
RUN cargo build --release --locked \
 && strip target/release/tagstream

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
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

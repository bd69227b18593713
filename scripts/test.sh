#!/usr/bin/env bash
# The full test suite: unit tests, integration tests (file mode, rule pack, Kafka against a
# local tansu broker) and a quick benchmark run so the benchmark cannot rot.
#
# Installs what it needs (tansu, a few minutes the first time), starts a broker on a free
# loopback port, and stops it by pid when done.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
scripts/tansu.sh install

# promtool (Debian package `prometheus`): checks the alerting rules here, and the /metrics
# output in the Kafka metrics test. Installed where apt-get works; skipped, saying so, elsewhere.
if ! command -v promtool >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends prometheus; } >/dev/null \
      || echo "could not install the prometheus package: promtool checks skipped"
  else
    echo "apt-get not available: promtool checks skipped"
  fi
fi
if command -v promtool >/dev/null; then
  promtool check rules dashboards/alerts.yml
fi
port=$(scripts/tansu.sh free-port)
pid=$(TANSU_LOG="${TMPDIR:-/tmp}/tagstream-test-tansu.log" scripts/tansu.sh start "$port")
trap 'scripts/tansu.sh stop "$pid"' EXIT
export TAGSTREAM_TEST_BOOTSTRAP="127.0.0.1:$port"
echo "tansu broker on $TAGSTREAM_TEST_BOOTSTRAP (pid $pid)"

cargo build --release --locked
cargo test --release --locked --lib --bins
cargo test --release --locked --test integration -- --test-threads=2
./target/release/tagstream bench --quick

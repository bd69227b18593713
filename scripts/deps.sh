#!/usr/bin/env bash
# What a build needs beyond the crates cargo fetches: a Rust toolchain new enough for the
# crate, a C compiler and make (the Kafka client library is built from source), and OpenSSL's
# development files found through pkg-config (Kafka TLS and SASL). Installs the system
# packages through apt-get where that is available and they are missing; a no-op when all are
# present. scripts/test.sh runs this first.
set -euo pipefail
cd "$(dirname "$0")/.."

# The oldest Rust this crate builds with: `rust-version` in Cargo.toml.
need_rust=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)

if ! command -v cargo >/dev/null; then
  echo "error: cargo (the Rust toolchain) was not found on PATH." >&2
  echo "Install Rust $need_rust or newer with rustup (https://rustup.rs), open a new shell" >&2
  echo "(or run: . \"\$HOME/.cargo/env\"), then retry." >&2
  exit 1
fi
have_rust=$(rustc --version | sed -n 's/^rustc \([0-9][0-9.]*\).*/\1/p')
if [ -n "$have_rust" ] &&
  [ "$(printf '%s\n%s\n' "$need_rust" "$have_rust" | sort -V | head -1)" != "$need_rust" ]; then
  echo "error: rustc $have_rust is older than the $need_rust this crate needs." >&2
  echo "Update it with: rustup update stable" >&2
  exit 1
fi

have_c() {
  command -v cc >/dev/null && command -v make >/dev/null
}
have_ssl() {
  command -v pkg-config >/dev/null && pkg-config --exists openssl
}

if have_c && have_ssl; then
  exit 0
fi
if command -v apt-get >/dev/null; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    sudo="sudo"
  fi
  echo "installing a C compiler, make, pkg-config and libssl-dev (the Kafka client's build and TLS)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    gcc g++ make pkg-config libssl-dev >/dev/null
fi
if ! have_c; then
  echo "error: a C compiler (cc) and make were not found; the Kafka client library is built" >&2
  echo "from source. Install them with the system's package manager (Debian/Ubuntu:" >&2
  echo "build-essential; Fedora: gcc gcc-c++ make; macOS: xcode-select --install), then retry." >&2
  exit 1
fi
if ! have_ssl; then
  echo "error: OpenSSL's development files were not found through pkg-config." >&2
  echo "Install them with the system's package manager (Debian/Ubuntu: pkg-config libssl-dev;" >&2
  echo "Fedora: pkgconf openssl-devel; macOS: brew install openssl pkg-config), then retry." >&2
  exit 1
fi

#!/usr/bin/env bash
# The system libraries a build links against: OpenSSL (Kafka TLS and SASL) found through
# pkg-config. Installs them through apt-get where that is available and they are missing;
# a no-op when they are present. scripts/test.sh runs this first.
set -euo pipefail

have() {
  command -v pkg-config >/dev/null && pkg-config --exists openssl
}

if have; then
  exit 0
fi
if command -v apt-get >/dev/null; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    sudo="sudo"
  fi
  echo "installing pkg-config and libssl-dev (OpenSSL headers for the Kafka client's TLS)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    pkg-config libssl-dev >/dev/null
fi
if ! have; then
  echo "error: OpenSSL's development files were not found through pkg-config." >&2
  echo "Install them with the system's package manager (Debian/Ubuntu: pkg-config libssl-dev;" >&2
  echo "Fedora: pkgconf openssl-devel; macOS: brew install openssl pkg-config), then retry." >&2
  exit 1
fi

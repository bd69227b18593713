#!/usr/bin/env bash
# Installs, starts and stops a local tansu broker (an Apache Kafka-compatible broker) for
# tests and local runs.
#
#   scripts/tansu.sh install                  # cargo install (a no-op once installed)
#   scripts/tansu.sh start PORT [STORAGE]     # start on 127.0.0.1:PORT, wait until it answers;
#                                             # prints the pid; STORAGE defaults to memory://tansu/
#   scripts/tansu.sh stop PID                 # stop a broker started by `start`
#   scripts/tansu.sh free-port                # print a free loopback port
set -euo pipefail

install() {
    if ! command -v tansu >/dev/null 2>&1; then
        echo "installing tansu (takes ~15-20 minutes on a fresh machine)..." >&2
        cargo install tansu --locked --features dynostore,libsql >&2
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() {
    local port=$1 pid=$2
    for _ in $(seq 1 150); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "tansu exited before answering on port $port" >&2
            return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    echo "tansu did not answer on port $port within 30 s" >&2
    return 1
}

start() {
    local port=$1 storage=${2:-memory://tansu/}
    local log=${TANSU_LOG:-/tmp/tansu-$port.log}
    tansu broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
        --storage-engine "$storage" >"$log" 2>&1 &
    local pid=$!
    wait_for "$port" "$pid"
    echo "$pid"
}

stop() {
    local pid=$1
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

cmd=${1:-}
shift || true
case "$cmd" in
    install) install ;;
    start) start "$@" ;;
    stop) stop "$@" ;;
    free-port) free_port ;;
    *) echo "usage: $0 install | start PORT [STORAGE] | stop PID | free-port" >&2; exit 2 ;;
esac

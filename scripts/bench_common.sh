# Sourced by the benchmark scripts: a work directory removed at exit with every server started
# into PIDS, a free loopback port, and waiting until a server answers PING.
WORK=$(mktemp -d)
PIDS=()
bench_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap bench_cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_ready() {
    local port=$1
    for _ in $(seq 1 500); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.02
    done
    echo "server on port $port did not start" >&2; exit 1
}

# Sets KIWI to the kiwi to measure: $KIWI_BIN if set, else the release build (built first, with
# the binaries named as arguments too, unless BUILD=0). Other binaries are then found beside it.
bench_kiwi() {
    if [ -n "${KIWI_BIN:-}" ]; then
        KIWI="$KIWI_BIN"
        return
    fi
    # shellcheck source=release_env.sh
    source scripts/release_env.sh
    if [ "${BUILD:-1}" = 1 ]; then
        local bins=(--bin kiwi)
        for b in "$@"; do bins+=(--bin "$b"); done
        cargo build --release "${bins[@]}"
    fi
    KIWI="$CARGO_TARGET_DIR/release/kiwi"
}

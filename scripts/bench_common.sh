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

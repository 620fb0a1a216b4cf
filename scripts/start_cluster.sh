#!/usr/bin/env bash
# Starts a local Kiwi cluster: writes cluster_node<i>.conf for each node, builds kiwi (release)
# and starts every node in the background, logging to cluster_logs/.
#   scripts/start_cluster.sh [--nodes N] [--no-build] [--clean]
# Then initialize it once with scripts/init_cluster.sh.
set -euo pipefail
source "$(dirname "$0")/cluster_common.sh"
NODES=3; BUILD=1; CLEAN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) NODES="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --clean) CLEAN=1; shift ;;
        -h|--help) sed -n 2,5p "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
[ "$CLEAN" = 1 ] && bash "$(dirname "$0")/clean_cluster.sh" --force --stop
if [ "$BUILD" = 1 ]; then
    (cd "$(dirname "$0")/.." && cargo build --release --bin kiwi)
fi
[ -x "$KIWI_BIN" ] || { echo "kiwi binary not found at $KIWI_BIN (build it, or set KIWI_BIN)" >&2; exit 1; }
mkdir -p "$LOG_DIR"
for i in $(seq 1 "$NODES"); do
    conf=$(conf_file "$i")
    if [ ! -f "$conf" ]; then
        cat > "$conf" <<CONF
# Kiwi Cluster Node $i Configuration

# Basic server settings
port $(resp_port "$i")
binding $HOST

# Database path (each node needs its own)
db-path $ROOT/db_node$i

# Raft configuration (the id is drawn on first start and kept in db-path; see GET /status)
raft-node-id auto
raft-addr $HOST:$(raft_port "$i")
raft-resp-addr $HOST:$(resp_port "$i")
raft-data-dir $ROOT/raft_data_$i

# Storage settings
memory 256MB
rocksdb-max-background-jobs 2
rocksdb-max-write-buffer-number 2
rocksdb-write-buffer-size 67108864

# Logging
log-dir $LOG_DIR/node$i
CONF
    fi
    if is_running "$i"; then
        echo "node $i already running (pid $(cat "$(pid_file "$i")"))"
        continue
    fi
    nohup "$KIWI_BIN" --config "$conf" > "$LOG_DIR/node$i.log" 2>&1 &
    echo $! > "$(pid_file "$i")"
    echo "node $i: resp $HOST:$(resp_port "$i"), raft/http $HOST:$(raft_port "$i"), pid $!"
done
# Wait (bounded) for every node's HTTP API.
for i in $(seq 1 "$NODES"); do
    for _ in $(seq 1 100); do
        http_get "$i" /healthz >/dev/null 2>&1 && break
        sleep 0.1
    done
    http_get "$i" /healthz >/dev/null 2>&1 || { echo "node $i did not come up; see $LOG_DIR/node$i.log" >&2; exit 1; }
done
echo "started $NODES nodes; initialize once with: scripts/init_cluster.sh $NODES"

#!/usr/bin/env bash
# Starts a local Kiwi cluster: writes cluster_node<i>.conf for each node, builds kiwi (the build
# scripts/test.sh makes) and starts every node in the background, logging to cluster_logs/.
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
    kiwi_build
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
    # Another process on one of the node's ports: say which, rather than start a node that
    # cannot bind and then report whatever answers there as this node.
    for port in $(resp_port "$i") $(raft_port "$i"); do
        if port_taken "$port"; then
            echo "node $i: port $HOST:$port is already in use$(port_owner "$port"); stop that process or move the ports (KIWI_RESP_BASE, KIWI_RAFT_BASE)" >&2
            exit 1
        fi
    done
    nohup "$KIWI_BIN" --config "$conf" > "$LOG_DIR/node$i.log" 2>&1 &
    echo $! > "$(pid_file "$i")"
    echo "node $i: resp $HOST:$(resp_port "$i"), raft/http $HOST:$(raft_port "$i"), pid $!"
done
# Wait (bounded) until each node answers on its HTTP port as the process started for it.
for i in $(seq 1 "$NODES"); do
    want=$(cat "$(pid_file "$i")")
    got=""
    for _ in $(seq 1 100); do
        got=$(node_pid "$i")
        [ "$got" = "$want" ] && break
        kill -0 "$want" 2>/dev/null || break
        sleep 0.1
    done
    if [ "$got" != "$want" ]; then
        if ! kill -0 "$want" 2>/dev/null; then
            echo "node $i (pid $want) exited; see $LOG_DIR/node$i.log:" >&2
            tail -n 5 "$LOG_DIR/node$i.log" >&2
        elif [ -n "$got" ]; then
            echo "node $i: port $(raft_port "$i") is answered by pid $got, not by the node started (pid $want)" >&2
        else
            echo "node $i did not come up; see $LOG_DIR/node$i.log" >&2
        fi
        exit 1
    fi
done
echo "started $NODES nodes; initialize once with: scripts/init_cluster.sh $NODES"

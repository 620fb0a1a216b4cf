# Shared by the cluster scripts: ports, paths and helpers. Node i (1-based) uses
# RESP port 7378+i, Raft/HTTP port 8000+i, config cluster_node<i>.conf, data db_node<i>,
# raft data raft_data_<i>, and logs and pid files in cluster_logs/. Everything lives in the
# directory the scripts are run from (the repository root by default).
ROOT="${KIWI_CLUSTER_DIR:-$(pwd)}"
LOG_DIR="$ROOT/cluster_logs"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kiwi-target}"
KIWI_BIN="${KIWI_BIN:-$CARGO_TARGET_DIR/release/kiwi}"
HOST="${KIWI_HOST:-127.0.0.1}"

resp_port() { echo $((7378 + $1)); }
raft_port() { echo $((8000 + $1)); }
conf_file() { echo "$ROOT/cluster_node$1.conf"; }
pid_file() { echo "$LOG_DIR/node$1.pid"; }

# Node numbers that have a config file, in order.
known_nodes() {
    local f
    for f in "$ROOT"/cluster_node*.conf; do
        [ -e "$f" ] || continue
        f=${f##*cluster_node}; echo "${f%.conf}"
    done | sort -n
}

is_running() {
    local pf; pf=$(pid_file "$1")
    [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null
}

http_get() { curl -s --max-time 2 "http://$HOST:$(raft_port "$1")$2"; }

# The leader's node number as seen by any running node, or empty.
leader_node() {
    local i id
    for i in $(known_nodes); do
        is_running "$i" || continue
        id=$(http_get "$i" /raft/leader | python3 -c 'import sys,json; v=json.load(sys.stdin).get("leader_id"); print(v if v is not None else "")' 2>/dev/null)
        if [ -n "$id" ]; then echo "$id"; return 0; fi
    done
    return 1
}

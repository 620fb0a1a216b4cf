# Shared by the cluster scripts: ports, paths and helpers. Node i (1-based) uses
# RESP port 7378+i, Raft/HTTP port 8000+i, config cluster_node<i>.conf, data db_node<i>,
# raft data raft_data_<i>, and logs and pid files in cluster_logs/. Everything lives in the
# directory the scripts are run from (the repository root by default). KIWI_RESP_BASE and
# KIWI_RAFT_BASE move the ports (e.g. to run a second cluster beside the first).
#
# Node numbers are only these slots: a node's Raft id is drawn at random on its first start
# (`raft-node-id auto`) and kept in its data dir, and the scripts read it from GET /status.
# A node whose data was wiped is a new node with a new id: Raft cannot tell two lives of one
# id apart, so an old id must never come back with an empty log.
ROOT="${KIWI_CLUSTER_DIR:-$(pwd)}"
LOG_DIR="$ROOT/cluster_logs"
# shellcheck source=build_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/build_env.sh"
KIWI_BIN="${KIWI_BIN:-$KIWI_DEV_BIN}"
HOST="${KIWI_HOST:-127.0.0.1}"

resp_port() { echo $((${KIWI_RESP_BASE:-7378} + $1)); }
raft_port() { echo $((${KIWI_RAFT_BASE:-8000} + $1)); }
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

# The pid of the process answering on node i's HTTP port (GET /status), or empty.
node_pid() { status_field "$1" pid; }

# One field of node i's GET /status, or empty.
status_field() {
    http_get "$1" /status | python3 -c 'import sys,json; print(json.load(sys.stdin)[sys.argv[1]])' "$2" 2>/dev/null
}

# True when something listens on (or accepts connections at) HOST:port.
port_taken() {
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# " (pid N, name)" of the process listening on a port, when ss can tell; else nothing.
port_owner() {
    command -v ss >/dev/null || return 0
    ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\("[^"]*"\),pid=\([0-9]*\).*/ (pid \2, \1)/p' | head -n 1
}

# Node i's Raft id, as it reports it on GET /status, or empty.
node_id() { status_field "$1" node_id; }

# The leader's node number (its slot, not its Raft id) as seen by any running node, or empty.
leader_node() {
    local i j id
    for i in $(known_nodes); do
        is_running "$i" || continue
        id=$(http_get "$i" /raft/leader | python3 -c 'import sys,json; v=json.load(sys.stdin).get("leader_id"); print(v if v is not None else "")' 2>/dev/null)
        [ -n "$id" ] || continue
        for j in $(known_nodes); do
            if is_running "$j" && [ "$(node_id "$j")" = "$id" ]; then echo "$j"; return 0; fi
        done
    done
    return 1
}

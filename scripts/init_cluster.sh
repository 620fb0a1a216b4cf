#!/usr/bin/env bash
# Initializes the local cluster once: POST /raft/init on node 1 with nodes 1..N (each under the
# Raft id it reports on GET /status), then waits for a leader. Running it again with the same
# nodes is harmless (the API is idempotent).
#   scripts/init_cluster.sh [N]
set -euo pipefail
source "$(dirname "$0")/cluster_common.sh"
NODES="${1:-$(known_nodes | wc -l)}"
[ "$NODES" -ge 1 ] || { echo "no nodes; run scripts/start_cluster.sh first" >&2; exit 1; }
members=()
for i in $(seq 1 "$NODES"); do
    id=$(node_id "$i" || true)
    [ -n "$id" ] || { echo "node $i does not answer GET /status on $HOST:$(raft_port "$i"); run scripts/start_cluster.sh first" >&2; exit 1; }
    members+=("$id" "$HOST:$(raft_port "$i")" "$HOST:$(resp_port "$i")")
done
body=$(python3 - "${members[@]}" <<'PY'
import json, sys
a = sys.argv[1:]
print(json.dumps({"nodes": [[int(a[k]), {"raft_addr": a[k + 1], "resp_addr": a[k + 2]}] for k in range(0, len(a), 3)]}))
PY
)
echo "POST /raft/init on node 1: $body"
curl -s --max-time 10 -X POST -H 'Content-Type: application/json' -d "$body" "http://$HOST:$(raft_port 1)/raft/init"
echo
for _ in $(seq 1 100); do
    if leader=$(leader_node); then
        echo "leader: node $leader"
        exit 0
    fi
    sleep 0.1
done
echo "no leader elected within 10s; see scripts/cluster_status.sh" >&2
exit 1

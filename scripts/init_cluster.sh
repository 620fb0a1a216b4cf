#!/usr/bin/env bash
# Initializes the local cluster once: POST /raft/init on node 1 with nodes 1..N, then waits for
# a leader. Running it again with the same nodes is harmless (the API is idempotent).
#   scripts/init_cluster.sh [N]
set -euo pipefail
source "$(dirname "$0")/cluster_common.sh"
NODES="${1:-$(known_nodes | wc -l)}"
[ "$NODES" -ge 1 ] || { echo "no nodes; run scripts/start_cluster.sh first" >&2; exit 1; }
body=$(python3 - "$NODES" "$HOST" <<'PY'
import json, sys
n, host = int(sys.argv[1]), sys.argv[2]
print(json.dumps({"nodes": [[i, {"raft_addr": f"{host}:{8000+i}", "resp_addr": f"{host}:{7378+i}"}] for i in range(1, n + 1)]}))
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

#!/usr/bin/env bash
# End to end on a real Kubernetes (kind): the image, the Helm chart and a KiwiCluster, as a user
# runs them.
#
#   1. creates a kind cluster, builds the image kiwi:0.1.0 and `kind load`s it;
#   2. `helm install`s charts/kiwi-operator and applies deploy/examples/kiwicluster.yaml (demo,
#      3 pods), waits for the Available condition;
#   3. writes through the client Service (from a client pod) and reads every write back from every
#      pod's own data;
#   4. scales 3 -> 5 -> 3, deletes the leader pod, deletes a follower pod together with its PVC,
#      and rolls a config change while a write loop runs through the Service (counting failed
#      writes); after each step every pod holds every acknowledged write;
#   5. deletes the KiwiCluster: pods, StatefulSet and Services go, the PVCs stay
#      (reclaimOnDelete: false).
#
# The checks (waits, leader discovery, write loops, "every acknowledged write on every pod") are
# tests/lib/kiwi-checks.sh, the code tests/docker/container_test.sh runs against containers; here
# it runs in the pods through `kubectl exec`.
#
# Needs kind, kubectl, helm, docker and jq. Without one of them it prints
# "kind e2e: skipped: <what> not found" and exits 0, so a machine without kind (this project's CI
# machine) reports the skip and goes on; KIWI_E2E_REQUIRED=1 (the GitHub workflow) turns the skip
# into a failure.
#
# Environment:
#   KIWI_BIN_DIR       pack kiwi and kiwi-operator from this directory (Dockerfile target
#                      runtime-host) instead of building the image from source
#   KIWI_RUNTIME_BASE  runtime base image with KIWI_BIN_DIR [debian:bookworm-slim]
#   KIWI_KIND_CLUSTER  kind cluster name [kiwi-e2e]; KIWI_E2E_KEEP=1 keeps it afterwards
#   KIWI_E2E_LOGS      on failure, `kind export logs` and object dumps go here
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
start=$SECONDS

missing=()
for tool in kind kubectl helm docker jq; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -eq 0 ] && ! docker info >/dev/null 2>&1; then
    missing+=("a Docker engine")
fi
if [ "${#missing[@]}" -gt 0 ]; then
    list=$(printf '%s, ' "${missing[@]}")
    echo "kind e2e: skipped: ${list%, } not found"
    [ "${KIWI_E2E_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
fi

# shellcheck source=tests/lib/kiwi-checks.sh
source "$repo/tests/lib/kiwi-checks.sh"

cluster="${KIWI_KIND_CLUSTER:-kiwi-e2e}"
ns=default
kc=demo
image=kiwi:0.1.0
client=kiwi-client
work=$(mktemp -d)
k() { kubectl -n "$ns" "$@"; }
# Data pods: their container is "kiwi"; the client pod has one container.
kc_exec_cmd() {
    if [ "$1" = "$client" ]; then
        KC_CMD=(kubectl -n "$ns" exec "$1" --)
    else
        KC_CMD=(kubectl -n "$ns" exec "$1" -c kiwi --)
    fi
}
# Writes "through the Service": from the client pod to demo:6379, any ready pod.
via_service() { KC_HOST=$kc KC_RESP_PORT=6379 "$@"; }

cleanup() {
    local rc=$?
    set +e
    if [ "$rc" -ne 0 ]; then
        kc_log "failed after $((SECONDS - start))s; state:"
        kubectl get kiwiclusters,statefulsets,pods,pvc,services -A -o wide >&2
        k get kiwicluster "$kc" -o yaml >&2
        kubectl -n kiwi-system logs -l app.kubernetes.io/name=kiwi-operator --tail 100 --prefix >&2
        if [ -n "${KIWI_E2E_LOGS:-}" ]; then
            mkdir -p "$KIWI_E2E_LOGS"
            kind export logs "$KIWI_E2E_LOGS" --name "$cluster" >/dev/null 2>&1
        fi
    fi
    if [ "${KIWI_E2E_KEEP:-0}" = 1 ]; then
        kc_log "kept kind cluster $cluster (kind delete cluster --name $cluster)"
    else
        kind delete cluster --name "$cluster" >/dev/null 2>&1
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. cluster and image
if ! kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    kc_log "creating kind cluster $cluster"
    kind create cluster --name "$cluster" --wait 180s
fi
kubectl config use-context "kind-$cluster" >/dev/null
if [ -n "${KIWI_BIN_DIR:-}" ]; then
    mkdir -p "$work/ctx/bins"
    for b in kiwi kiwi-operator; do
        strip -o "$work/ctx/bins/$b" "$KIWI_BIN_DIR/$b"
    done
    kc_log "building $image from $KIWI_BIN_DIR (target runtime-host)"
    docker build -q --target runtime-host \
        --build-arg RUNTIME_BASE="${KIWI_RUNTIME_BASE:-debian:bookworm-slim}" --build-arg HOST_BINS=bins \
        --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
        -f "$repo/Dockerfile" -t "$image" "$work/ctx" >/dev/null
else
    kc_log "building $image from source (RocksDB's C++ makes a cold build long)"
    docker build -q --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" -t "$image" "$repo" >/dev/null
fi
kind load docker-image "$image" --name "$cluster"

# ---- 2. operator and a three-node cluster
helm upgrade --install kiwi-operator "$repo/charts/kiwi-operator" -n kiwi-system --create-namespace \
    --set image.repository=kiwi --set image.tag=0.1.0 --wait --timeout 5m
k apply -f "$repo/deploy/examples/kiwicluster.yaml"
kubectl wait -n "$ns" "kiwicluster/$kc" --for=condition=Available --timeout=300s
# A client pod with the same image (bash for the checks): writes go through the Service from it,
# so a write loop survives every data pod restarting.
k run "$client" --image="$image" --image-pull-policy=IfNotPresent --restart=Never \
    --command -- sleep infinity >/dev/null
k wait "pod/$client" --for=condition=Ready --timeout=120s

# gone KIND NAME...: none of the objects exists (kubectl wait --for=delete fails on a name that
# is already gone in older kubectl versions).
gone() {
    local kind=$1 n
    shift
    for n in "$@"; do
        if k get "$kind" "$n" >/dev/null 2>&1; then return 1; fi
    done
}
pods() { local i; for ((i = 0; i < $1; i++)); do echo "$kc-$i"; done; }
mapfile -t three < <(pods 3)

# wait_cluster N: the KiwiCluster reports N ready replicas and Available, and every pod sees N
# voters and agrees on the leader (which it prints).
ready_is() { [ "$(k get kiwicluster "$kc" -o jsonpath='{.status.readyReplicas}')" = "$1" ]; }
wait_cluster() {
    local n=$1 p all
    mapfile -t all < <(pods "$n")
    kc_wait 600 "KiwiCluster $kc to report $n ready replicas" ready_is "$n"
    kubectl wait -n "$ns" "kiwicluster/$kc" --for=condition=Available --timeout=300s >/dev/null
    for p in "${all[@]}"; do
        kc_wait 300 "$p to see $n voters" kc_has_voters "$p" "$n"
    done
    kc_wait_leader 60 "${all[@]}"
}

acked="$work/acked"
: >"$acked"
leader=$(wait_cluster 3)
kc_log "cluster $kc available, leader $leader"

# ---- 3. writes through the Service, read from every pod
via_service kc_load "$client" svc 1 200 "$acked"
[ "$KC_FAILED" = 0 ] || kc_fail "$KC_FAILED of 200 writes through the Service failed"
kc_wait_holds 60 "$acked" "${three[@]}"
kc_log "200 writes through Service $kc, held by every pod"

# ---- 4. scale 3 -> 5 -> 3
k scale kiwicluster "$kc" --replicas 5
leader=$(wait_cluster 5)
via_service kc_load "$client" five 1 100 "$acked"
mapfile -t five < <(pods 5)
kc_wait_holds 120 "$acked" "${five[@]}"
kc_log "scaled to 5 (leader $leader), every pod holds all $(wc -l <"$acked") writes"
k scale kiwicluster "$kc" --replicas 3
kc_wait 300 "pods $kc-3 and $kc-4 to go" gone pod "$kc-3" "$kc-4"
leader=$(wait_cluster 3)
via_service kc_load "$client" back 1 100 "$acked"
kc_wait_holds 120 "$acked" "${three[@]}"
kc_log "scaled back to 3 (leader $leader)"

# ---- the leader pod deleted
k delete pod "$leader" --wait=false >/dev/null
kc_log "deleted leader pod $leader"
via_service kc_load "$client" leaderdel 1 100 "$acked"
kc_log "writes while the leader pod was replaced: $KC_ACKED acknowledged, $KC_FAILED failed"
leader=$(wait_cluster 3)
kc_wait_holds 120 "$acked" "${three[@]}"
kc_log "leader pod replaced, new leader $leader"

# ---- a follower deleted with its volume: it comes back blank, under a new node id
victim=""
for p in "${three[@]}"; do [ "$p" != "$leader" ] && victim=$p && break; done
old_id=$(kc_status "$victim" | jq -r .node_id)
k delete pvc "data-$victim" --wait=false >/dev/null
k delete pod "$victim" --wait=false >/dev/null
kc_log "deleted $victim (node $old_id) and its PVC data-$victim"
new_id_is_fresh() {
    local id
    id=$(kc_status "$victim" | jq -r .node_id) || return 1
    [ -n "$id" ] && [ "$id" != "$old_id" ]
}
kc_wait 600 "$victim to come back with a new node id" new_id_is_fresh
leader=$(wait_cluster 3)
kc_wait_holds 120 "$acked" "${three[@]}"
kc_voters "$leader" | grep -qw "$old_id" && kc_fail "node $old_id is still a voter after its volume was deleted"
kc_log "$victim rebuilt from the others as node $(kc_status "$victim" | jq -r .node_id)"

# ---- a config change rolled while a write loop runs through the Service
sts_rev() { k get statefulset "$kc" -o jsonpath='{.status.updateRevision}'; }
before=$(sts_rev)
KC_EXEC_TIMEOUT=900 via_service kc_agent_bg "$work/roll.out" "$client" load roll 1 100000 890
kc_wait 60 "the write loop to start" grep -q '^ack ' "$work/roll.out"
k patch kiwicluster "$kc" --type merge -p '{"spec":{"config":{"raft-snapshot-logs":"20000"}}}' >/dev/null
kc_log "patched config (raft-snapshot-logs 20000); waiting for the roll"
rolled() {
    local rev p
    rev=$(sts_rev)
    [ -n "$rev" ] && [ "$rev" != "$before" ] || return 1
    for p in "${three[@]}"; do
        [ "$(k get pod "$p" -o jsonpath='{.metadata.labels.controller-revision-hash}')" = "$rev" ] || return 1
        [ "$(k get pod "$p" -o jsonpath='{.status.containerStatuses[0].ready}')" = true ] || return 1
    done
}
kc_wait 900 "every pod to run the new revision" rolled
leader=$(wait_cluster 3)
kill "$KC_BG_PID" 2>/dev/null || true
wait "$KC_BG_PID" 2>/dev/null || true
kc_acks roll "$work/roll.out" "$acked"
[ "$KC_ACKED" -gt 0 ] || kc_fail "no write acknowledged during the roll"
kc_log "roll: $KC_ACKED writes acknowledged, $KC_FAILED failed while the pods restarted"
k get configmap "$kc-config" -o yaml | grep -q 'raft-snapshot-logs 20000' ||
    kc_fail "ConfigMap $kc-config lacks the new setting"
kc_wait_holds 120 "$acked" "${three[@]}"
kc_log "every pod holds all $(wc -l <"$acked") acknowledged writes after the roll"

# ---- 5. delete the cluster
k delete kiwicluster "$kc" --wait=true --timeout=300s
kc_wait 300 "the pods of $kc to go" gone pod "${three[@]}"
kc_wait 120 "StatefulSet $kc to go" gone statefulset "$kc"
kc_wait 120 "the Services of $kc to go" gone service "$kc" "$kc-headless" "$kc-leader"
for p in "${three[@]}"; do
    k get pvc "data-$p" >/dev/null 2>&1 ||
        kc_fail "PVC data-$p should stay after the KiwiCluster is deleted (reclaimOnDelete: false)"
done
k delete pvc "${three[@]/#/data-}" --wait=false >/dev/null
echo "kind e2e: passed in $((SECONDS - start))s ($(wc -l <"$acked") acknowledged writes, none lost)"

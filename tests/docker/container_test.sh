#!/usr/bin/env bash
# The image, built and fault-tested on this machine's Docker engine:
#
#   1. builds the Dockerfile's `runtime-host` target from the binaries cargo built on this host
#      (stripped here), on a base image made by base-image.sh, so no registry is needed; checks
#      the image runs as uid 10001 and carries its healthcheck and OCI labels;
#   2. `docker run` alone: a single node answers redis-cli SET/GET on a published loopback port,
#      turns healthy, and stops cleanly (exit 0) on `docker stop`;
#   3. compose.yaml's three nodes on the private network compose creates form one cluster
#      (bootstrap and --join), and a write through a follower's published port is forwarded;
#   4. faults only separate hosts show, each with writes before, during and after, and every
#      acknowledged write checked on every node afterwards:
#      - `docker network disconnect` of the leader while a write loop runs: the cut-off leader
#        acknowledges nothing, the other two elect a leader and take writes; after
#        `docker network connect` the old leader follows the new one, catches up, and the writes
#        it was sent while alone are nowhere;
#      - `docker kill` of a follower, writes, `docker restart`: it catches up;
#      - `docker pause` of the leader while a write loop runs: the other two elect and take
#        writes; after `docker unpause` it rejoins as a follower and catches up.
#
# Every wait polls with a deadline, every write loop is bounded, and the containers, network,
# volumes and test image are removed on exit (the base image is kept: it is the slow part).
# Prints "skipped: no Docker engine" and exits 0 when `docker info` does not answer.
#
#   tests/docker/container_test.sh     # uses $CARGO_TARGET_DIR/debug/{kiwi,kiwi-operator}
#   KIWI_BIN_DIR=/tmp/kiwi-bins tests/docker/container_test.sh
#   KIWI_TEST_IMAGE=kiwi:0.1.0 tests/docker/container_test.sh   # an image built already (for
#                                      # example `docker build .` from source); kept afterwards
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
start=$SECONDS

if ! docker info >/dev/null 2>&1; then
    echo "container test: skipped: no Docker engine (docker info does not answer)"
    exit 0
fi
if docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose_cmd=(docker-compose)
else
    echo "container test: FAIL: a Docker engine answers but neither 'docker compose' nor docker-compose is installed" >&2
    exit 1
fi
for tool in redis-cli jq strip timeout; do
    command -v "$tool" >/dev/null || { echo "container test: FAIL: $tool not found" >&2; exit 1; }
done

# shellcheck source=tests/lib/kiwi-checks.sh
source "$repo/tests/lib/kiwi-checks.sh"
kc_exec_cmd() { KC_CMD=(docker exec "$1"); }

bin_dir="${KIWI_BIN_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/kiwi-target}/debug}"
if [ -z "${KIWI_TEST_IMAGE:-}" ]; then
    for b in kiwi kiwi-operator; do
        [ -x "$bin_dir/$b" ] || kc_fail "$bin_dir/$b not found: build first (cargo build --workspace --bins)"
    done
fi

run="kiwict$$"
image="${KIWI_TEST_IMAGE:-kiwi-test:$run}"
single="$run-single"
work=$(mktemp -d)
export KIWI_IMAGE=$image
export KIWI_ADMIN_TOKEN KIWI_CLUSTER_SECRET
KIWI_ADMIN_TOKEN=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
KIWI_CLUSTER_SECRET=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
# Empty: compose publishes each node's RESP port on a free loopback port.
export KIWI_RESP_PORT_1="" KIWI_RESP_PORT_2="" KIWI_RESP_PORT_3=""
compose() { "${compose_cmd[@]}" -p "$run" -f "$repo/compose.yaml" "$@"; }

cleanup() {
    local rc=$?
    set +e
    if [ "$rc" -ne 0 ]; then
        for c in "$single" $(compose ps -q 2>/dev/null); do
            docker inspect "$c" >/dev/null 2>&1 || continue
            echo "---- last log lines of $(docker inspect -f '{{.Name}}' "$c")" >&2
            docker logs --tail 40 "$c" 2>&1 | sed 's/^/    /' >&2
        done
    fi
    # A paused container cannot be stopped; unpause whatever this run paused.
    for c in $(compose ps -q 2>/dev/null); do docker unpause "$c" >/dev/null 2>&1; done
    docker rm -f -v "$single" >/dev/null 2>&1
    compose down -v --remove-orphans --timeout 5 >/dev/null 2>&1
    [ -n "${KIWI_TEST_IMAGE:-}" ] || docker rmi "$image" >/dev/null 2>&1
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. the image
if [ -n "${KIWI_TEST_IMAGE:-}" ]; then
    docker image inspect "$image" >/dev/null 2>&1 || kc_fail "KIWI_TEST_IMAGE=$image does not exist"
    kc_log "testing $image as built"
else
    bash "$repo/tests/docker/base-image.sh"
    mkdir -p "$work/ctx/bins"
    for b in kiwi kiwi-operator; do
        strip -o "$work/ctx/bins/$b" "$bin_dir/$b"
    done
    kc_log "building $image (target runtime-host, base kiwi-base:bookworm)"
    docker build -q --target runtime-host \
        --build-arg RUNTIME_BASE=kiwi-base:bookworm --build-arg HOST_BINS=bins \
        --build-arg REVISION="$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)" \
        -f "$repo/Dockerfile" -t "$image" "$work/ctx" >/dev/null 2>"$work/build.log" || {
        cat "$work/build.log" >&2
        kc_fail "docker build"
    }
fi
[ "$(docker image inspect -f '{{.Config.User}}' "$image")" = 10001 ] || kc_fail "image does not run as 10001"
docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$image" | grep -q healthz ||
    kc_fail "image has no /healthz healthcheck"
for l in title version revision licenses; do
    [ -n "$(docker image inspect -f "{{index .Config.Labels \"org.opencontainers.image.$l\"}}" "$image")" ] ||
        kc_fail "image lacks label org.opencontainers.image.$l"
done
kc_log "image: $(docker image inspect -f '{{.Size}}' "$image") bytes"

# ---- 2. docker run alone: a working single node
docker run -d --name "$single" -p 127.0.0.1::7379 "$image" >/dev/null
port=$(docker port "$single" 7379/tcp | head -n1)
port=${port##*:}
kc_wait 60 "single node to answer PING on 127.0.0.1:$port" \
    bash -c "[ \"\$(redis-cli -p $port PING)\" = PONG ]"
kc_wait 30 "single node to take a write" \
    bash -c "[ \"\$(redis-cli -p $port SET greeting hello)\" = OK ]"
[ "$(redis-cli -p "$port" GET greeting)" = hello ] || kc_fail "single node: GET greeting"
[ "$(docker exec "$single" id -u)" = 10001 ] || kc_fail "single node runs as $(docker exec "$single" id -u)"
# The first healthcheck runs one interval (10 s) after the start.
kc_wait 60 "single node to turn healthy" \
    bash -c "[ \"\$(docker inspect -f '{{.State.Health.Status}}' $single)\" = healthy ]"
docker stop -t 20 "$single" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$single")
[ "$code" = 0 ] || kc_fail "single node exited $code on docker stop (SIGTERM)"
docker start "$single" >/dev/null
port=$(docker port "$single" 7379/tcp | head -n1)
port=${port##*:}
kc_wait 60 "single node to come back with its data" \
    bash -c "[ \"\$(redis-cli -p $port GET greeting)\" = hello ]"
docker rm -f -v "$single" >/dev/null
kc_log "single node: SET/GET through a published port, healthy, clean stop, data kept across restart"

# ---- 3. three containers, one cluster
compose up -d --no-build >/dev/null 2>"$work/compose.log" || {
    cat "$work/compose.log" >&2
    kc_fail "compose up"
}
n1=$(compose ps -q kiwi-1)
n2=$(compose ps -q kiwi-2)
n3=$(compose ps -q kiwi-3)
nodes=("$n1" "$n2" "$n3")
name() { docker inspect -f '{{.Name}}' "$1" | sed 's,^/,,'; }
others() { local n; for n in "${nodes[@]}"; do [ "$n" = "$1" ] || echo "$n"; done; }
net=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}' "$n1")

for n in "${nodes[@]}"; do
    kc_wait 60 "$(name "$n") to see 3 voters and a leader" kc_has_voters "$n" 3
done
leader=$(kc_wait_leader 30 "${nodes[@]}")
kc_log "cluster formed: voters $(kc_voters "$n1"), leader $(name "$leader")"

acked="$work/acked"
: >"$acked"
follower=$(others "$leader" | head -n1)
fport=$(docker port "$follower" 7379/tcp | head -n1)
fport=${fport##*:}
[ "$(redis-cli -p "$fport" SET via-follower yes)" = OK ] || kc_fail "write through a follower's published port"
echo "via-follower yes" >>"$acked"
kc_load "$leader" base 1 200 "$acked"
[ "$KC_FAILED" = 0 ] || kc_fail "healthy cluster: $KC_FAILED of 200 writes failed"
kc_wait_holds 30 "$acked" "${nodes[@]}"
kc_log "healthy cluster: 201 writes acknowledged, held by all three"

# ---- 4a. the leader cut off from the network while writes run through a follower
old=$leader
mapfile -t rest < <(others "$old")
aliases=$(docker inspect "$old" | jq -r --arg net "$net" '.[0].NetworkSettings.Networks[$net].Aliases // [] | .[]')
# Writes through a follower, bounded to 120 s in all; some are in flight when the cut happens.
KC_EXEC_TIMEOUT=120 kc_agent_bg "$work/cut.out" "${rest[0]}" load cut 1 300 110
kc_wait 30 "the write loop to start" grep -q '^ack ' "$work/cut.out"
docker network disconnect "$net" "$old"
kc_log "disconnected leader $(name "$old") from $net"
# The cut-off leader alone: every write it is sent fails (CLUSTERDOWN after raft-write-timeout,
# or the client's timeout); none may be acknowledged.
: >"$work/minority-acked"
kc_load "$old" minority 1 2 "$work/minority-acked"
[ "$KC_ACKED" = 0 ] || kc_fail "the cut-off leader acknowledged $KC_ACKED writes without a majority"
new=$(kc_wait_leader 30 "${rest[@]}")
kc_log "majority elected $(name "$new")"
kc_load "$new" majority 1 200 "$acked"
[ "$KC_FAILED" = 0 ] || kc_fail "majority side: $KC_FAILED of 200 writes failed with a leader elected"
wait "$KC_BG_PID" || true
kc_acks cut "$work/cut.out" "$acked"
[ "$KC_ACKED" -gt 0 ] || kc_fail "no write through the follower was acknowledged during the cut"
alias_args=()
for a in $aliases; do alias_args+=(--alias "$a"); done
docker network connect "${alias_args[@]}" "$net" "$old"
kc_log "reconnected $(name "$old")"
leader=$(kc_wait_leader 60 "${nodes[@]}")
kc_wait_holds 60 "$acked" "${nodes[@]}"
for n in "${nodes[@]}"; do
    kc_absent "$n" minority:1 minority:2 || kc_fail "$(name "$n") holds a write only the cut-off leader was sent"
done
kc_log "partition: old leader follows $(name "$leader"), all $(wc -l <"$acked") acknowledged writes on every node"

# ---- 4b. a follower killed and restarted
victim=$(others "$leader" | head -n1)
docker kill "$victim" >/dev/null
kc_log "killed follower $(name "$victim")"
kc_load "$leader" killed 1 200 "$acked"
[ "$KC_FAILED" = 0 ] || kc_fail "$KC_FAILED of 200 writes failed with one follower down"
docker restart "$victim" >/dev/null
kc_wait 60 "$(name "$victim") to answer after the restart" kc_status "$victim"
kc_wait_holds 60 "$acked" "${nodes[@]}"
leader=$(kc_wait_leader 30 "${nodes[@]}")
kc_log "kill/restart: $(name "$victim") caught up"

# ---- 4c. the leader paused (frozen: no crash, no network change)
old=$leader
mapfile -t rest < <(others "$old")
# Again writes through a follower are in flight when the leader freezes.
KC_EXEC_TIMEOUT=120 kc_agent_bg "$work/frozen.out" "${rest[0]}" load frozen 1 300 110
kc_wait 30 "the write loop to start" grep -q '^ack ' "$work/frozen.out"
docker pause "$old" >/dev/null
kc_log "paused leader $(name "$old")"
new=$(kc_wait_leader 30 "${rest[@]}")
kc_log "the other two elected $(name "$new")"
kc_load "$new" paused 1 200 "$acked"
[ "$KC_FAILED" = 0 ] || kc_fail "$KC_FAILED of 200 writes failed while the old leader was paused"
wait "$KC_BG_PID" || true
kc_acks frozen "$work/frozen.out" "$acked"
[ "$KC_ACKED" -gt 0 ] || kc_fail "no write through the follower was acknowledged around the pause"
docker unpause "$old" >/dev/null
leader=$(kc_wait_leader 60 "${nodes[@]}")
kc_wait_holds 60 "$acked" "${nodes[@]}"
kc_log "pause: $(name "$old") rejoined under $(name "$leader") and caught up"

for n in "${nodes[@]}"; do
    kc_has_voters "$n" 3 || kc_fail "$(name "$n") does not see 3 voters at the end"
done
echo "container test: passed in $((SECONDS - start))s ($(wc -l <"$acked") acknowledged writes, none lost)"

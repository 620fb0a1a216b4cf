# shellcheck shell=bash
# Checks shared by the container test (tests/docker/container_test.sh) and the kind end-to-end
# test (tests/e2e/kind.sh): waits with deadlines, leader discovery, bounded write loops that
# record every acknowledged write, and the check that no acknowledged write is lost.
#
# Every call runs *inside* a node's container, through the image's own bash (its /dev/tcp speaks
# RESP and HTTP), so the same code works with `docker exec` and `kubectl exec` and needs no client
# in the image and no route from the test host to the nodes. The sourcing script says how to
# exec into a target by defining
#
#     kc_exec_cmd TARGET   # sets the array KC_CMD to the command prefix, for example
#                          # KC_CMD=(docker exec -i "$1") or KC_CMD=(kubectl exec -i "$1" -c kiwi --)
#
# Inside the target, RESP is at $KC_HOST:$KC_RESP_PORT (default 127.0.0.1:7379, the node itself)
# and HTTP at 127.0.0.1:$KC_HTTP_PORT (default 8001). Set KC_HOST/KC_RESP_PORT to go through a
# Service instead; KIWI_PASS, when set, is sent with AUTH first.
#
# Needs bash, timeout and jq on the test host.

# The agent: a RESP and HTTP client in bash, run inside the target as
#   bash -c "$KC_AGENT" kiwi-agent HOST RESP_PORT HTTP_PORT SUBCOMMAND ARGS...
# Subcommands:
#   cmd ARG...             one command; prints the reply (arrays one element a line, nil as
#                          "(nil)"); exit 1 on an error reply, 3 on timeout or a closed connection
#   local KEY...           READONLY, then MGET: the values this node holds itself, stale or not
#   load PREFIX FROM TO [SECS]
#                          SET PREFIX:i i for i in FROM..TO, one attempt each, printing "ack i"
#                          or "fail i <why>"; a timed-out connection is replaced; stops after
#                          SECS seconds when given
#   http PATH              GET PATH on the node's HTTP port; prints the body, exit 1 unless 200
# KC_IO_TIMEOUT (seconds, default 8: more than the node's 5 s raft-write-timeout, so a write
# that cannot commit answers CLUSTERDOWN before the client gives up) bounds every read.
# shellcheck disable=SC2016 # the agent is expanded inside the target, not here
KC_AGENT='
set -u
export LC_ALL=C
# A write to a connection the node closed fails (EPIPE) instead of killing the agent.
trap "" PIPE
host=$1 rport=$2 hport=$3 sub=$4
shift 4
T=${KC_IO_TIMEOUT:-8}
cr=$'"'"'\r'"'"'
nl=$'"'"'\n'"'"'
send() {
    local req="*$#$cr$nl" a
    for a in "$@"; do req+="\$${#a}$cr$nl$a$cr$nl"; done
    printf "%s" "$req" >&3
}
reply() {
    local line n i rc=0
    IFS= read -r -t "$T" line <&3 || return 3
    line=${line%"$cr"}
    case $line in
        [+:]*) printf "%s\n" "${line:1}" ;;
        -*) printf "%s\n" "${line:1}"; return 1 ;;
        "\$-1" | "*-1") printf "(nil)\n" ;;
        \$*)
            n=${line:1}
            IFS= read -r -t "$T" -N $((n + 2)) line <&3 || return 3
            printf "%s\n" "${line:0:n}" ;;
        \**)
            n=${line:1}
            for ((i = 0; i < n; i++)); do reply || rc=$?; [ "$rc" = 3 ] && return 3; done
            return "$rc" ;;
        *) printf "protocol error: %s\n" "$line"; return 3 ;;
    esac
}
connect() {
    exec 3<>"/dev/tcp/$host/$rport" || return 3
    if [ -n "${KIWI_PASS:-}" ]; then
        send AUTH "$KIWI_PASS"
        reply >/dev/null || return 3
    fi
}
case $sub in
    cmd)
        connect || exit 3
        send "$@"
        reply ;;
    local)
        connect || exit 3
        send READONLY
        reply >/dev/null || exit 3
        send MGET "$@"
        reply ;;
    load)
        prefix=$1 from=$2 to=$3 max=${4:-0} open=0
        for ((i = from; i <= to; i++)); do
            # Stop at the time bound, or once whoever reads the output has gone (an echo to a
            # closed pipe fails: SIGPIPE is ignored above).
            if [ "$max" -gt 0 ] && [ "$SECONDS" -ge "$max" ]; then break; fi
            if [ "$open" = 0 ]; then
                if ! connect 2>/dev/null; then
                    echo "fail $i connect" || exit 0
                    sleep 0.2 # a refused connection returns at once: do not spin through the loop
                    continue
                fi
                open=1
            fi
            send SET "$prefix:$i" "$i" 2>/dev/null || { echo "fail $i send" || exit 0; exec 3>&-; open=0; continue; }
            out=$(reply); rc=$?
            if [ "$rc" = 0 ] && [ "$out" = OK ]; then
                echo "ack $i" || exit 0
            else
                echo "fail $i ${out:-timeout}" || exit 0
                if [ "$rc" = 3 ]; then exec 3>&-; open=0; fi
            fi
        done ;;
    http)
        exec 4<>"/dev/tcp/127.0.0.1/$hport" || exit 3
        printf "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "$1" >&4
        IFS= read -r -t "$T" line <&4 || exit 3
        read -r _ code _ <<<"$line"
        while IFS= read -r -t "$T" line <&4 && [ -n "${line%"$cr"}" ]; do :; done
        body=""
        while IFS= read -r -t "$T" line <&4 || [ -n "$line" ]; do body+="$line$nl"; done
        printf "%s" "$body"
        [ "$code" = 200 ] ;;
    *) echo "kiwi-agent: unknown subcommand $sub" >&2; exit 2 ;;
esac
'

kc_log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
kc_fail() {
    kc_log "FAIL: $*"
    exit 1
}

# kc_agent TARGET SUBCOMMAND ARGS...: runs the agent in TARGET, bounded by KC_EXEC_TIMEOUT
# seconds (default 60) on the host side too, so a paused or wedged container cannot hang the test.
kc_agent() {
    local target=$1
    shift
    kc_exec_cmd "$target"
    timeout "${KC_EXEC_TIMEOUT:-60}" "${KC_CMD[@]}" env KC_IO_TIMEOUT="${KC_IO_TIMEOUT:-8}" \
        KIWI_PASS="${KIWI_PASS:-}" bash -c "$KC_AGENT" kiwi-agent \
        "${KC_HOST:-127.0.0.1}" "${KC_RESP_PORT:-7379}" "${KC_HTTP_PORT:-8001}" "$@"
}

# kc_agent_bg OUTFILE TARGET SUBCOMMAND ARGS...: kc_agent in the background, its output in
# OUTFILE; sets KC_BG_PID to the process to `wait` for or kill (timeout, which passes a signal on
# to the exec client).
kc_agent_bg() {
    local out=$1
    shift
    (
        target=$1
        shift
        kc_exec_cmd "$target"
        exec timeout "${KC_EXEC_TIMEOUT:-60}" "${KC_CMD[@]}" env KC_IO_TIMEOUT="${KC_IO_TIMEOUT:-8}" \
            KIWI_PASS="${KIWI_PASS:-}" bash -c "$KC_AGENT" kiwi-agent \
            "${KC_HOST:-127.0.0.1}" "${KC_RESP_PORT:-7379}" "${KC_HTTP_PORT:-8001}" "$@"
    ) >"$out" 2>&1 &
    # shellcheck disable=SC2034 # read by the sourcing script
    KC_BG_PID=$!
}

# kc_resp TARGET ARG...: one RESP command; prints the reply.
kc_resp() {
    local target=$1
    shift
    kc_agent "$target" cmd "$@"
}

# kc_status TARGET: the node's GET /status JSON.
kc_status() { kc_agent "$1" http /status; }

# kc_wait SECONDS DESCRIPTION COMMAND...: runs COMMAND every 0.3 s until it succeeds or SECONDS
# pass (then fails the test naming DESCRIPTION).
kc_wait() {
    local secs=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            kc_fail "timed out after ${secs}s waiting for: $what"
        fi
        sleep 0.3
    done
}

# kc_leader_of TARGET...: succeeds, printing the leader's target name, when every listed target
# answers /status, they all name the same leader, and that leader is one of them and says so.
# Prints nothing and fails otherwise.
kc_leader_of() {
    local t st id lid="" leader="" ids=""
    for t in "$@"; do
        st=$(kc_status "$t") || return 1
        id=$(jq -r .node_id <<<"$st") || return 1
        ids+=" $id"
        local l
        l=$(jq -r '.leader_id // "none"' <<<"$st")
        [ "$l" = none ] && return 1
        [ -z "$lid" ] && lid=$l
        [ "$l" = "$lid" ] || return 1
        [ "$(jq -r .is_leader <<<"$st")" = true ] && leader=$t
    done
    [ -n "$leader" ] || return 1
    echo "$leader"
}

# kc_wait_leader SECONDS TARGET...: prints the leader the targets agree on, waiting for one.
kc_wait_leader() {
    local secs=$1 deadline leader
    shift
    deadline=$((SECONDS + secs))
    until leader=$(kc_leader_of "$@"); do
        [ "$SECONDS" -ge "$deadline" ] && kc_fail "no leader agreed on by $* within ${secs}s"
        sleep 0.3
    done
    echo "$leader"
}

# kc_voters TARGET: the voter ids this node sees, sorted, space-separated.
kc_voters() { kc_status "$1" | jq -r '.members | sort | map(tostring) | join(" ")'; }

# kc_has_voters TARGET N: succeeds when TARGET sees N voters and a leader.
kc_has_voters() {
    local st
    st=$(kc_status "$1") || return 1
    [ "$(jq '.members | length' <<<"$st")" = "$2" ] && [ "$(jq -r '.leader_id // empty' <<<"$st")" != "" ]
}

# kc_acks PREFIX OUTFILE ACKFILE: reads a load's output (the agent's "ack i" / "fail i why"
# lines), appends "PREFIX:i i" to ACKFILE for every acknowledged write, and sets KC_ACKED and
# KC_FAILED to the counts.
kc_acks() {
    local prefix=$1 out=$2 ackfile=$3
    # A load stopped by a signal (the kind test ends its write loop so) may end in half a line.
    if [ -s "$out" ] && [ -n "$(tail -c1 "$out")" ]; then sed -i '$d' "$out"; fi
    KC_ACKED=$(grep -c '^ack ' "$out" || true)
    KC_FAILED=$(grep -c '^fail ' "$out" || true)
    awk -v p="$prefix" '$1 == "ack" { print p ":" $2, $2 }' "$out" >>"$ackfile"
    if [ "$KC_FAILED" -gt 0 ]; then
        kc_log "writes $prefix:*: $KC_ACKED acknowledged, $KC_FAILED failed (first: $(grep -m1 '^fail ' "$out"))"
    fi
}

# kc_load TARGET PREFIX FROM TO ACKFILE: SET PREFIX:i i for i in FROM..TO through TARGET, each
# write tried once and bounded in time, then kc_acks. For a load running while something
# else happens: kc_agent_bg OUTFILE TARGET load PREFIX FROM TO [SECS], then kc_acks.
kc_load() {
    local target=$1 prefix=$2 from=$3 to=$4 ackfile=$5 out
    out=$(mktemp)
    KC_EXEC_TIMEOUT=$((60 + (to - from + 1) * 10)) kc_agent "$target" load "$prefix" "$from" "$to" >"$out" || true
    kc_acks "$prefix" "$out" "$ackfile"
    rm -f "$out"
}

# kc_holds TARGET ACKFILE: succeeds when TARGET's own data (READONLY reads) holds every
# acknowledged write in ACKFILE with its value; otherwise prints the first missing key.
kc_holds() {
    local target=$1 ackfile=$2 keys values
    mapfile -t keys < <(awk '{ print $1 }' "$ackfile")
    [ "${#keys[@]}" -eq 0 ] && return 0
    values=$(kc_agent "$target" local "${keys[@]}") || return 1
    paste -d' ' <(printf '%s\n' "${keys[@]}") <(printf '%s\n' "$values") |
        diff -q - <(awk '{ print $1, $2 }' "$ackfile") >/dev/null || {
        paste -d' ' <(printf '%s\n' "${keys[@]}") <(printf '%s\n' "$values") |
            diff - <(awk '{ print $1, $2 }' "$ackfile") | sed -n 2p
        return 1
    }
}

# kc_wait_holds SECONDS ACKFILE TARGET...: every target holds every acknowledged write (after
# catching up), or the test fails naming the first write missing or wrong.
kc_wait_holds() {
    local secs=$1 ackfile=$2 t deadline
    shift 2
    deadline=$((SECONDS + secs))
    for t in "$@"; do
        until kc_holds "$t" "$ackfile" >/dev/null 2>&1; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                kc_fail "$t does not hold all $(wc -l <"$ackfile") acknowledged writes after ${secs}s: $(kc_holds "$t" "$ackfile" 2>&1 | head -n1)"
            fi
            sleep 0.3
        done
    done
}

# kc_absent TARGET KEY...: succeeds when TARGET's own data holds none of the keys.
kc_absent() {
    local target=$1 values
    shift
    values=$(kc_agent "$target" local "$@") || return 1
    ! grep -qv '^(nil)$' <<<"$values"
}

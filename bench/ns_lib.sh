# shellcheck shell=bash
# Namespaces, processes and the agent for the benchmarks that build their own
# topology (forwarding_bench.sh, scale_bench.sh). Source it, then call
#   bench_ns_init NAME PREFIX
# which sets P (PREFIX + random hex), GEN, RT and SNK (namespace names), TMP
# (a temporary directory), and installs the traps that stop the processes
# this script started, run `wanlb cleanup` in the router and delete exactly
# the namespaces mkns made. WANLB must name the agent binary.

bench_ns_init() { # NAME PREFIX
    BENCH_NAME=$1
    P="$2$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
    GEN=$P-gen RT=$P-rt SNK=$P-snk
    TMP=$(mktemp -d "/tmp/wanlb-$1.XXXXXX")
    MADE_NS=()
    AGENT_PID=""
    GEN_PID=""
    trap _bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

log() { echo "$BENCH_NAME: $*" >&2; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
now_ms() { date +%s%3N; }

stop_pid() { # PID: TERM, wait up to 5 s, KILL (only processes this script started)
    local pid=$1 i
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

_bench_cleanup() {
    local rc=$? ns p
    trap - EXIT INT TERM
    stop_pid "$GEN_PID"
    stop_pid "$AGENT_PID"
    if [[ -e /run/netns/$RT ]]; then in_ns "$RT" "$WANLB" cleanup >/dev/null 2>&1 || true; fi
    for ns in "${MADE_NS[@]}"; do
        [[ -e /run/netns/$ns ]] || continue
        p=$(ip netns pids "$ns" 2>/dev/null || true)
        # shellcheck disable=SC2086
        [[ -z "$p" ]] || kill -KILL $p 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"
    done
    if [[ -n "${BENCH_BPFFS:-}" ]]; then umount "$BENCH_BPFFS" || log "could not unmount $BENCH_BPFFS"; fi
    rm -rf "$TMP"
    exit "$rc"
}

# bpffs_mount: a bpffs of this run at $TMP/bpffs (BENCH_BPFFS), for pins made
# inside the namespaces (`ip netns exec` hides /sys/fs/bpf); unmounted on exit.
bpffs_mount() {
    [[ -z "${BENCH_BPFFS:-}" ]] || return 0
    mkdir "$TMP/bpffs"
    mount -t bpf bpf "$TMP/bpffs"
    BENCH_BPFFS=$TMP/bpffs
}

mkns() { # NAME: a namespace of this run (refuses one that exists: not ours)
    [[ ! -e /run/netns/$1 ]] || { log "namespace $1 exists already (not ours)"; exit 1; }
    ip netns add "$1"
    MADE_NS+=("$1")
    ip -n "$1" link set lo up
}

# agent_start CONFIG: `wanlb run` in the router until it logs "ready:" (15 s
# at most); sets AGENT_PID, START_MS (launch) and READY_MS (ready seen).
# More arguments are wanlb options before `run` (e.g. --log-level debug).
agent_start() {
    local cfg=$1 i
    shift
    : >"$TMP/agent.log"
    START_MS=$(now_ms)
    setsid ip netns exec "$RT" "$WANLB" "$@" run -c "$cfg" >>"$TMP/agent.log" 2>&1 </dev/null &
    AGENT_PID=$!
    for ((i = 0; i < 300; i++)); do
        if grep -q "ready:" "$TMP/agent.log"; then READY_MS=$(now_ms); return 0; fi
        kill -0 "$AGENT_PID" 2>/dev/null || break
        sleep 0.05
    done
    log "agent did not become ready:"; cat "$TMP/agent.log" >&2
    return 1
}

agent_stop() { stop_pid "$AGENT_PID"; AGENT_PID=""; in_ns "$RT" "$WANLB" cleanup >/dev/null 2>&1 || true; }

# shellcheck shell=bash
# Helpers shared by the robustness tests (test_soak.sh, test_crash.sh), on
# top of wanlb_test_lib.sh. Everything runs inside the lab's namespaces; the
# only processes signalled are agents this test started (by their pid).
# shellcheck source=wanlb_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"

ms_now() { date +%s%3N; }

# Run the whole test with a private copy of the agent binary: the build tree
# may be rebuilt while a long test runs, and a restart must start the same
# agent. The copy keeps the name `wanlb` (the agent recognises its peers by
# it), with the full program it runs, wanlb-agent, next to it.
private_binary() { # DIR
    mkdir -p "$1/bin"
    cp "$WANLB_BIN" "$1/bin/wanlb" || fail "cannot copy $WANLB_BIN"
    cp "$(dirname "$WANLB_BIN")/wanlb-agent" "$1/bin/wanlb-agent" || fail "cannot copy wanlb-agent"
    log "agent under test: $WANLB_BIN ($(stat -c '%y' "$WANLB_BIN" | cut -d. -f1), $("$WANLB_BIN" --version 2>/dev/null | head -1))"
    WANLB_BIN=$1/bin/wanlb
    export WANLB_BIN
}

# The running agent's pid, as the agent itself reports it.
agent_pid() { wanlb_rt status --json | jq -r .agent.pid; }

# The pid `lab run` recorded for the agent process NAME (it is the agent
# itself: `ip netns exec` execs the command).
agent_recorded_pid() { # NAME
    awk -v n="$1" '$3 == n { p = $1 } END { print p }' "/run/wanlb-lab/$LAB.pids"
}

pid_alive() { # PID: alive and not a zombie
    [[ -e /proc/$1/stat ]] || return 1
    [[ "$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" != Z ]]
}

# SIGKILL one agent this test started, by the pid `lab run` recorded for NAME
# (never a process found by name), and only while that pid still has the
# recorded start time (no recycled pid). agent_sigkill returns at once;
# agent_kill9 also waits until the process is gone.
agent_sigkill() { # NAME
    local pid start now
    read -r pid start < <(awk -v n="$1" '$3 == n { p = $1; s = $2 } END { print p, s }' "/run/wanlb-lab/$LAB.pids")
    [[ "$pid" =~ ^[0-9]+$ ]] || fail "no recorded pid for agent $1"
    now=$(awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$pid/stat" 2>/dev/null) || return 0
    [[ "$now" == "$start" ]] || return 0
    kill -KILL "$pid" 2>/dev/null || true
}
# agent_kill9 waits until the process is gone, reaped included: the lab's
# agents are orphans, reaped by the container's init whenever it gets to
# it, and a killed agent that is not reaped yet (a zombie) still blocks a new
# `wanlb run` and `wanlb cleanup` (see test_crash.sh, phase c2).
agent_kill9() { # NAME
    local pid i
    pid=$(agent_recorded_pid "$1")
    agent_sigkill "$1"
    for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.02; done
    ! pid_alive "$pid" || fail "agent $1 (pid $pid) survived kill -9"
    for ((i = 0; i < 500; i++)); do [[ -e /proc/$pid ]] || break; sleep 0.02; done
    [[ ! -e /proc/$pid ]] || fail "agent $1 (pid $pid) killed but not reaped after 10 s"
    [[ "${AGENT_NAME:-}" != "$1" ]] || AGENT_NAME=""
}

# agent_start_bg CONFIG NAME: start the agent without waiting for it.
agent_start_bg() {
    lab run rt "$2" "$WANLB_BIN" run -c "$1" >/dev/null
    AGENT_RUNS=1
    AGENT_NAME=$2
    robust_traps
}

# agent_start (wanlb_test_lib.sh) installs _agent_teardown as the EXIT trap;
# a test with more to tear down sets ROBUST_TEARDOWN to its own function
# (which must call _agent_teardown) and calls robust_traps after each start.
robust_traps() {
    local f=${ROBUST_TEARDOWN:-_agent_teardown}
    trap "$f" EXIT
    trap "$f; exit 130" INT
    trap "$f; exit 143" TERM
}

agent_log() { echo "/run/wanlb-lab/$LAB.${1:-$AGENT_NAME}.log"; }

# Memory and descriptors of a process.
proc_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
proc_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
proc_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# The pins the agent made, seen from its own mount namespace (every
# `ip netns exec` mounts its own /sys, so the host's /sys/fs/bpf does not
# show them).
agent_pins() { # PID [BPFFS_DIR]
    local d="/proc/$1/root${2:-/sys/fs/bpf/wanlb}"
    [[ -d "$d" ]] || { echo "(no pin directory)"; return 0; }
    (cd "$d" && find . -mindepth 1 | sort)
}

# Normalise the volatile parts of `tc filter show` (program ids change when
# the program is swapped in place).
tc_norm() { sed -E 's/:\[[0-9]+\]//g; s/ id [0-9]+//g'; }

# Everything wanlb installs in the router namespace, as text, in a stable
# order: rules, the WAN and local tables, the nft table and the tc filter.
# TABLES: the routing tables to list (default 100 101 102 164).
routing_snapshot() { # [TABLE...]
    local tables=("$@") t
    ((${#tables[@]})) || tables=(100 101 102 164)
    echo "== ip -4 rule"; lab exec rt ip -4 rule show
    echo "== ip -6 rule"; lab exec rt ip -6 rule show
    for t in "${tables[@]}"; do
        echo "== ip -4 route table $t"; lab exec rt ip -4 route show table "$t" 2>/dev/null | sort
        echo "== ip -6 route table $t"; lab exec rt ip -6 route show table "$t" 2>/dev/null | sort
    done
    echo "== proto 201 routes: $(lab exec rt ip route show table all | grep -c 'proto 201' || true)"
    echo "== nft table inet wanlb"; lab exec rt nft list table inet wanlb 2>/dev/null || echo "(none)"
    echo "== tc filter lan0 ingress"; lab exec rt tc filter show dev lan0 ingress | tc_norm
}

# Compare two snapshots; on a difference print the diff and fail.
assert_same_snapshot() { # NAME EXPECTED ACTUAL
    if [[ "$2" != "$3" ]]; then
        diff <(echo "$2") <(echo "$3") >&2 || true
        fail "$1: differs from the reference (diff above: < reference, > now)"
    fi
    log "ok: $1 identical to the reference ($(wc -l <<<"$2") lines)"
}

# States and slot shares in one line, e.g. "isp1=down/0 isp2=up/0.5 isp3=up/0.5".
wan_summary() {
    wanlb_rt status --json 2>/dev/null |
        jq -r '[.wans[] | "\(.name)=\(.state)/\(.slot_share * 1000 | round / 1000)"] | join(" ")'
}

# Weights as a compact object, e.g. {"isp1":3,"isp2":1,"isp3":1}.
wan_weights() { wanlb_rt status --json | jq -c '[.wans[] | {(.name): .weight}] | add'; }

# Everything in the router namespace that wanlb may change (as in
# test_cleanup.sh): for "cleanup put everything back".
full_snapshot() {
    local cmd
    for cmd in "ip -4 rule show" "ip -6 rule show" "ip -4 route show table all" "ip -6 route show table all" \
        "tc qdisc show" "tc filter show dev lan0 ingress" "nft list ruleset" "sysctl -n net.ipv4.ip_forward" \
        "sysctl -n net.ipv6.conf.all.forwarding" "sysctl -n net.ipv4.conf.wan1.rp_filter" \
        "sysctl -n net.ipv4.conf.wan2.rp_filter" "sysctl -n net.ipv4.conf.wan3.rp_filter"; do
        echo "== $cmd"
        # shellcheck disable=SC2086
        lab exec rt $cmd 2>&1 | grep -v "proto kernel" | sort
    done
}

# burst_pairs FILE PER_PAIR [TIMEOUT_MS]: PER_PAIR connections for every
# "SRC DST ..." line of FILE (one burst per source address). Prints one JSON
# object: total, ok, failed, by_peer (summed).
burst_pairs() {
    local file=$1 per=$2 tmo=${3:-3000} src dsts n k=0 dir
    dir=$(mktemp -d "$TEST_TMP/bp.XXXXXX")
    while read -r src dsts n; do
        k=$((k + 1))
        ip netns exec "$LAB-cl" "$WANLB_LABCONN" burst --from "$src" --to "$dsts" --port "$PORT" \
            --count $((n * per)) --timeout-ms "$tmo" --json >"$dir/$k.json" 2>/dev/null &
    done < <(awk '{ d[$1] = d[$1] (d[$1] == "" ? "" : ",") $2; c[$1]++ } END { for (s in d) print s, d[s], c[s] }' "$file")
    wait
    cat "$dir"/*.json | jq -s -c '{total: (map(.total) | add // 0), ok: (map(.ok) | add // 0),
        failed: (map(.failed) | add // 0),
        by_peer: (map(.by_peer | to_entries[]) | group_by(.key) | map({(.[0].key): (map(.value) | add)}) | add // {})}'
    rm -rf "$dir"
}

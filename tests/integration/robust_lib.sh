# shellcheck shell=bash
# Helpers shared by the robustness tests (test_soak.sh, test_crash.sh), on
# top of wanlb_test_lib.sh. Everything runs inside the lab's namespaces; the
# only processes signalled are agents this test started (by their pid).
# shellcheck source=wanlb_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"

ms_now() { date +%s%3N; }

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

# kill -9 one agent this test started: PID must be the pid `lab run` recorded
# for NAME (never a process found by name).
agent_kill9() { # NAME
    local pid
    pid=$(agent_recorded_pid "$1")
    [[ "$pid" =~ ^[0-9]+$ ]] || fail "no recorded pid for agent $1"
    kill -KILL "$pid" || fail "kill -9 $pid ($1) failed"
    local i
    for ((i = 0; i < 50; i++)); do pid_alive "$pid" || break; sleep 0.02; done
    ! pid_alive "$pid" || fail "agent $1 (pid $pid) survived kill -9"
    AGENT_NAME=""
}

# agent_start_bg CONFIG NAME: start the agent without waiting for it.
agent_start_bg() {
    lab run rt "$2" "$WANLB_BIN" run -c "$1" >/dev/null
    AGENT_RUNS=1
    AGENT_NAME=$2
    trap _agent_teardown EXIT
    trap '_agent_teardown; exit 130' INT
    trap '_agent_teardown; exit 143' TERM
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

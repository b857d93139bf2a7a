# shellcheck shell=bash
# Agent helpers on top of lab_test_lib.sh for the wanlb integration tests:
# write a lab config, start/stop the agent in the router namespace, read its
# status. `agent_start` extends the EXIT trap so that a failing test still
# stops the agent and runs `wanlb cleanup` before the lab is torn down
# (cleanup also removes the agent's state file under /run/wanlb).
# shellcheck source=lab_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lab_test_lib.sh"

AGENT_RUNS=0
PORT=18080

# lab_config FILE CLASSIFIER WAN1 WAN2 ... [-- extra top-level YAML lines]
# WAN i is isp<i> on wan<i> with gateway 10.100.<i>.1, as lab.sh builds it.
# Each WAN argument is its weight, optionally followed by more keys of that
# WAN as ",key=value" (e.g. "1,nat=none" or "2,tier=2"). With
# LAB_CONFIG_DUALSTACK=1 every WAN also gets `gateway6: fd00:100:<i>::1`.
lab_config() {
    local file=$1 classifier=$2 i=0 w kv
    shift 2
    {
        echo "lan: [lan0]"
        echo "classifier: $classifier"
        echo "wans:"
        while (($#)) && [[ $1 != -- ]]; do
            i=$((i + 1))
            w=${1%%,*}
            printf '  - name: isp%d\n    interface: wan%d\n    gateway: 10.100.%d.1\n    weight: %s\n' "$i" "$i" "$i" "$w"
            [[ -z "${LAB_CONFIG_DUALSTACK:-}" ]] || printf '    gateway6: fd00:100:%d::1\n' "$i"
            if [[ "$1" == *,* ]]; then
                local IFS=,
                for kv in ${1#*,}; do printf '    %s: %s\n' "${kv%%=*}" "${kv#*=}"; done
                unset IFS
            fi
            shift
        done
        if (($#)); then shift; printf '%s\n' "$@"; fi
    } >"$file"
}

_agent_teardown() {
    if ((AGENT_RUNS)); then
        agent_stop || true
        # cleanup refuses while an agent still runs; the agent has been
        # waited for, but retry briefly rather than leave its state behind.
        local i
        for i in 1 2 3 4 5 6 7 8 9 10; do
            ip netns exec "$LAB-rt" "$WANLB_BIN" cleanup >/dev/null 2>&1 && break
            sleep 0.3
        done
    fi
    lab_stop
}

# agent_start CONFIG [NAME]: start `wanlb run` in the router and wait until
# it logs "ready:" (at most AGENT_READY_TIMEOUT seconds, default 15).
agent_start() {
    local cfg=$1 name=${2:-agent}
    lab run rt "$name" "$WANLB_BIN" run -c "$cfg" >/dev/null
    AGENT_RUNS=1
    AGENT_NAME=$name
    trap _agent_teardown EXIT
    trap '_agent_teardown; exit 130' INT
    trap '_agent_teardown; exit 143' TERM
    agent_ready() { grep -q "ready:" "/run/wanlb-lab/$LAB.$AGENT_NAME.log"; }
    wait_for "${AGENT_READY_TIMEOUT:-15}" agent_ready ||
        { cat "/run/wanlb-lab/$LAB.$name.log" >&2; fail "agent did not become ready"; }
    log "agent $name ready"
}

# agent_stop: SIGTERM the agent and wait until it has exited (it writes its
# state file on the way out); the data path stays in place.
agent_stop() {
    [[ -n "${AGENT_NAME:-}" ]] || return 0
    local pids=() pid start name rest i
    if [[ -f "/run/wanlb-lab/$LAB.pids" ]]; then
        while read -r pid start name rest; do
            [[ "$name" == "$AGENT_NAME" ]] && pids+=("$pid")
        done <"/run/wanlb-lab/$LAB.pids"
    fi
    lab stop "$AGENT_NAME" >/dev/null 2>&1 || true
    for pid in "${pids[@]}"; do
        for i in $(seq 50); do
            [[ -e /proc/$pid ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || break
            sleep 0.1
        done
    done
    AGENT_NAME=""
}

wanlb_rt() { ip netns exec "$LAB-rt" "$WANLB_BIN" "$@"; }

# server_start [EXTRA_PORT...]: wanlb-labconn serve in the internet namespace
# on $PORT (and the extra ports).
server_start() {
    local args=(--port "$PORT") p
    for p in "$@"; do args+=(--port "$p"); done
    lab run inet server "$WANLB_LABCONN" serve "${args[@]}" >/dev/null
    for p in "$PORT" "$@"; do
        wait_for 5 port_listening inet "$p" || fail "server did not start listening on port $p"
    done
}

# port_listening ROLE PORT: a TCP listener on PORT in the lab namespace ROLE.
port_listening() { ip netns exec "$LAB-$1" ss -Htln "sport = :$2" | grep -q .; }

# The agent's view: a data path counter, a WAN's state, waiting for one.
counter() { wanlb_rt status --json | jq -r ".counters.$1"; }
wan_state() { wanlb_rt status --json | jq -r ".wans[] | select(.name==\"$1\") | .state"; }
is_state() { [[ $(wan_state "$1") == "$2" ]]; }
wait_state() { # WAN STATE [TIMEOUT_S]
    wait_for "${3:-8}" is_state "$1" "$2" || fail "$1 not $2 after ${3:-8} s (state: $(wan_state "$1"))"
}

# labconn ROLE SUBCOMMAND ARGS...: wanlb-labconn in a lab namespace.
labconn() { local role=$1; shift; lab exec "$role" "$WANLB_LABCONN" "$@"; }

# burst_json ROLE ARGS...: a burst with --json; prints its JSON (without the
# per-pair list), fails the test if it cannot run at all (exit 2) or prints nothing.
burst_json() {
    local role=$1 out rc=0
    shift
    out=$(lab exec "$role" "$WANLB_LABCONN" burst "$@" --json) || rc=$?
    ((rc != 2)) && [[ -n "$out" ]] || fail "burst $* did not run (rc=$rc): $out"
    printf '%s\n' "$out"
}

# Comma-separated client / server addresses of the lab.
client_addrs() { (source "$LAB_SH" && lab_client_addrs "$@"); }  # K [6]
server_addrs() { (source "$LAB_SH" && lab_server_addrs "$@"); }  # S [6]

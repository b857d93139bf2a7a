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

# lab_config FILE CLASSIFIER WEIGHT1 WEIGHT2 ... [-- extra top-level YAML lines]
# WAN i is isp<i> on wan<i> with gateway 10.100.<i>.1, as lab.sh builds it.
lab_config() {
    local file=$1 classifier=$2 i=0
    shift 2
    {
        echo "lan: [lan0]"
        echo "classifier: $classifier"
        echo "wans:"
        while (($#)) && [[ $1 != -- ]]; do
            i=$((i + 1))
            printf '  - name: isp%d\n    interface: wan%d\n    gateway: 10.100.%d.1\n    weight: %s\n' "$i" "$i" "$i" "$1"
            shift
        done
        if (($#)); then shift; printf '%s\n' "$@"; fi
    } >"$file"
}

_agent_teardown() {
    if ((AGENT_RUNS)); then
        agent_stop || true
        ip netns exec "$LAB-rt" "$WANLB_BIN" cleanup >/dev/null 2>&1 || true
    fi
    lab_stop
}

# agent_start CONFIG [NAME]: start `wanlb run` in the router and wait until
# a separate `ip netns exec ... wanlb status` sees the data path.
agent_start() {
    local cfg=$1 name=${2:-agent}
    lab run rt "$name" "$WANLB_BIN" run -c "$cfg" >/dev/null
    AGENT_RUNS=1
    AGENT_NAME=$name
    trap _agent_teardown EXIT
    trap '_agent_teardown; exit 130' INT
    trap '_agent_teardown; exit 143' TERM
    agent_ready() { grep -q "ready:" "/run/wanlb-lab/$LAB.$AGENT_NAME.log"; }
    wait_for 15 agent_ready || { cat "/run/wanlb-lab/$LAB.$name.log" >&2; fail "agent did not become ready"; }
    log "agent $name ready"
}

# agent_stop: SIGTERM the agent; the data path stays in place.
agent_stop() {
    [[ -n "${AGENT_NAME:-}" ]] || return 0
    lab stop "$AGENT_NAME" >/dev/null 2>&1 || true
    AGENT_NAME=""
}

wanlb_rt() { ip netns exec "$LAB-rt" "$WANLB_BIN" "$@"; }

server_start() {
    lab run inet server "$WANLB_LABCONN" serve --port "$PORT" >/dev/null
    server_listening() { ip netns exec "$LAB-inet" ss -Htln "sport = :$PORT" | grep -q .; }
    wait_for 5 server_listening || fail "server did not start listening on port $PORT"
}

# Comma-separated client / server addresses of the lab.
client_addrs() { (source "$LAB_SH" && lab_client_addrs "$1"); }
server_addrs() { (source "$LAB_SH" && lab_server_addrs "$1"); }

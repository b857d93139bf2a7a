#!/usr/bin/env bash
# `wanlb cleanup` removes everything wanlb installed and nothing else: ip
# rules, routing tables, tc filters and qdiscs, sysctls and pins are as they
# were before the agent started, and a foreign rule and route survive it.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 2 --clients 4 --servers 4
server_start
CFG=$TEST_TMP/wanlb.yaml
lab_config "$CFG" both-addresses 1 1

# Something that is not wanlb's, which cleanup must leave alone.
lab exec rt ip rule add fwmark 0x7 lookup 200 pref 500
lab exec rt ip route add 192.0.2.0/24 via 10.100.2.1 table 100
lab exec rt sysctl -qw net.ipv4.conf.wan2.rp_filter=1

snapshot() {
    for cmd in "ip -4 rule show" "ip -6 rule show" "ip -4 route show table all" "ip -6 route show table all" \
        "tc qdisc show" "tc filter show dev lan0 ingress" "sysctl -n net.ipv4.ip_forward" \
        "sysctl -n net.ipv4.conf.wan1.rp_filter" "sysctl -n net.ipv4.conf.wan2.rp_filter"; do
        echo "== $cmd"
        # shellcheck disable=SC2086
        lab exec rt $cmd | grep -v "proto kernel" | sort
    done
}
before=$(snapshot)

agent_start "$CFG"
state_file=$(wanlb_rt status --json | jq -r .agent.state_file)
control_socket=$(wanlb_rt status --json | jq -r .agent.control_socket)
[[ -f "$state_file" ]] || fail "no state file at '$state_file'"
during=$(snapshot)
[[ "$during" != "$before" ]] || fail "the agent changed nothing?"
grep -q "lookup 100" <<<"$(lab exec rt ip rule show)" || fail "no fwmark rule while running"
lab exec rt tc filter show dev lan0 ingress | grep -q wanlb_tc_lan || fail "no tc filter while running"
assert_eq "rp_filter on wan2 made loose" "$(lab exec rt sysctl -n net.ipv4.conf.wan2.rp_filter)" 2
lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 4)" --to "$(server_addrs 4)" --port "$PORT" \
    --count 50 --json >/dev/null || fail "traffic through the agent failed"

# Refused while the agent runs (it would put everything back).
if wanlb_rt cleanup 2>/dev/null; then fail "cleanup ran while the agent was alive"; fi

agent_stop
wanlb_rt cleanup || fail "cleanup failed"
after=$(snapshot)
if [[ "$after" != "$before" ]]; then
    diff <(echo "$before") <(echo "$after") >&2 || true
    fail "state after cleanup differs from before start"
fi
log "ok: rules, routes, qdiscs, filters and sysctls as before"
[[ ! -e "$state_file" ]] || fail "state file $state_file left behind"
[[ ! -e "$control_socket" ]] || fail "control socket $control_socket left behind"
if wanlb_rt status >/dev/null 2>&1; then fail "status still finds a data path after cleanup"; fi
wanlb_rt cleanup || fail "a second cleanup must be a no-op"
log "PASS"

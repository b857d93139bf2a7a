#!/usr/bin/env bash
# `gateway: auto`: isp2's gateway is whatever default route the main table
# has on wan2 (as a DHCP client installs it). A renewed lease with a new
# gateway is followed within a second; losing the route takes isp2 down
# ("no gateway"); getting it back brings isp2 up again after probing.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 2 --clients 8 --servers 8
server_start
CFG=$TEST_TMP/wanlb.yaml
lab_config "$CFG" both-addresses 1 1
sed -i 's/gateway: 10.100.2.1/gateway: auto/' "$CFG"
# What a DHCP client on wan2 would have installed.
lab exec rt ip route add default via 10.100.2.1 dev wan2 metric 100
agent_start "$CFG"

table_gw() { lab exec rt ip -4 route show table 101 | awk '/^default/ {print $3}'; }
status_gw() { wanlb_rt status --json | jq -r '.wans[1].gateway'; }
state2() { wanlb_rt status --json | jq -r '.wans[1].state'; }
peers() {
    lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 8)" --to "$(server_addrs 8)" --port "$PORT" \
        --count 128 --json | jq -r 'if .failed > 0 then "FAILED \(.failed)" else (.by_peer | keys | join(",")) end'
}
assert_eq "table 101 gateway at start" "$(table_gw)" 10.100.2.1
assert_eq "peers at start" "$(peers)" "10.100.1.2,10.100.2.2"

# The lease renews with another gateway.
lab exec isp2 ip addr add 10.100.2.254/24 dev down0
t0=$(date +%s%3N)
lab exec rt ip route replace default via 10.100.2.254 dev wan2 metric 100
gw_is_new() { [[ $(table_gw) == 10.100.2.254 ]]; }
wait_for 3 gw_is_new || fail "table 101 did not follow the new gateway"
log "table 101 followed the new gateway after $(($(date +%s%3N) - t0)) ms"
assert_eq "status gateway" "$(status_gw)" 10.100.2.254
assert_eq "peers with the new gateway" "$(peers)" "10.100.1.2,10.100.2.2"

# The lease is lost: no default route on wan2.
lab exec rt ip route del default via 10.100.2.254 dev wan2 metric 100
isp2_down() { [[ $(state2) == down ]]; }
wait_for 3 isp2_down || fail "isp2 did not go down without a gateway"
assert_eq "reason" "$(wanlb_rt status --json | jq -r '.wans[1].reason')" "no gateway"
assert_eq "table 101 without a gateway" "$(table_gw)" ""
assert_eq "peers without isp2's gateway" "$(peers)" "10.100.1.2"

# A new lease: probing, then up.
lab exec rt ip route add default via 10.100.2.1 dev wan2 metric 100
isp2_up() { [[ $(state2) == up ]]; }
wait_for 8 isp2_up || fail "isp2 did not come back with its gateway"
assert_eq "table 101 gateway again" "$(table_gw)" 10.100.2.1
assert_eq "peers after the new lease" "$(peers)" "10.100.1.2,10.100.2.2"
log "PASS"

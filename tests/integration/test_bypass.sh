#!/usr/bin/env bash
# Bypass: traffic to the router itself and to its connected networks gets no
# mark, and so does traffic to a configured bypass prefix: it follows the
# main table (ISP 1 in the lab), whatever the hash would say. A connected
# network that appears while the agent runs is bypassed from then on.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 2 --clients 16 --servers 8
server_start
CFG=$TEST_TMP/wanlb.yaml
lab_config "$CFG" both-addresses-and-ports 1 1 -- "bypass: [203.0.113.0/24]"
agent_start "$CFG"

counter() { wanlb_rt status --json | jq -r ".counters.$1"; }

# Configured bypass: 203.0.113.10 always leaves by the main table (ISP 1).
b0=$(counter bypassed)
out=$(lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 16)" --to 203.0.113.10 --port "$PORT" \
    --count 200 --json) || fail "burst to the bypass prefix failed"
assert_eq "bypass prefix: peers" "$(json_get "$out" '.by_peer | keys | join(",")')" "10.100.1.2"
assert_between "bypassed counter grew" "$(($(counter bypassed) - b0))" 200 100000
# ...while balanced destinations use both WANs.
out=$(lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 16)" --to "$(server_addrs 8)" --port "$PORT" \
    --count 200 --json) || fail "balanced burst failed"
assert_eq "balanced: WANs used" "$(json_get "$out" '.by_peer | keys | length')" 2

# The router's own LAN address (local) is bypassed: a server in the router.
lab run rt rtserver "$WANLB_LABCONN" serve --port 18081 >/dev/null
rt_listening() { ip netns exec "$LAB-rt" ss -Htln "sport = :18081" | grep -q .; }
wait_for 5 rt_listening || fail "router-side server did not start"
b0=$(counter bypassed)
out=$(lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 4)" --to 192.168.77.1,10.100.2.2 \
    --port 18081 --count 40 --json) || fail "connections to the router failed: $out"
assert_eq "to the router: ok" "$(json_get "$out" .ok)" 40
assert_between "to the router: bypassed" "$(($(counter bypassed) - b0))" 40 100000
assert_eq "no flow entry for the router's addresses" \
    "$(wanlb_rt flows --json | jq '[.[] | select(.dst=="192.168.77.1" or .dst=="10.100.2.2")] | length')" 0

# A connected network added while running is followed (netlink watcher).
lab exec rt ip link add lan1 type veth peer name lan1p
lab exec rt ip addr add 172.31.5.1/24 dev lan1
lab exec rt ip link set lan1 up
bypass_has_new_net() {
    wanlb_rt status --json | jq -e '.bypass[] | select(.prefix=="172.31.5.0/24" and (.origin | index("connected")))'
}
wait_for 5 bypass_has_new_net || fail "the agent did not pick up the new connected network"
lab exec rt ip link del lan1
bypass_dropped_net() { ! bypass_has_new_net; }
wait_for 5 bypass_dropped_net || fail "the agent did not drop the removed connected network"
log "PASS"

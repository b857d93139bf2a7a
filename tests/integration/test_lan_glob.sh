#!/usr/bin/env bash
# LAN interfaces given as a pattern (`lan: ["lan*"]`, as pod interfaces on
# a Kubernetes node): an interface that appears while traffic flows is
# attached and its connections are balanced; one that goes away is
# forgotten; traffic on the others is not disturbed.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 2 --clients 4 --servers 8
server_start
CFG=$TEST_TMP/wanlb.yaml
OUT=$TEST_TMP/out
mkdir "$OUT"
lab_config "$CFG" both-addresses 1 1
sed -i 's/^lan: \[lan0\]/lan: ["lan*"]/' "$CFG"
agent_start "$CFG"
attached() { ip netns exec "$LAB-rt" tc filter show dev "$1" ingress 2>/dev/null | grep -q wanlb_tc_lan; }
attached lan0 || fail "lan0 (matches lan*) not attached"

# A stream on lan0 runs through everything below.
lab exec cl "$WANLB_LABCONN" stream --from 192.168.77.10 --to 198.51.100.10 --port "$PORT" --seconds 8 \
    --json >"$OUT/s.json" &

# A new "pod" interface appears: lan7 in the router, cl7 in the clients.
lab exec rt ip link add lan7 type veth peer name cl7 netns "$LAB-cl"
lab exec rt ip addr add 192.168.78.1/24 dev lan7
lab exec rt ip link set lan7 up
lab exec cl ip addr add 192.168.78.10/24 dev cl7
lab exec cl ip link set cl7 up
lab exec cl ip route add default via 192.168.78.1 dev cl7 table 78
lab exec cl ip rule add from 192.168.78.10 lookup 78 pref 100
wait_for 5 attached lan7 || fail "lan7 was not attached when it appeared"
grep -q "attached wanlb_tc_lan to tc ingress of lan7" "/run/wanlb-lab/$LAB.agent.log" || fail "no log line"
out=$(burst_json cl --from 192.168.78.10 --to "$(server_addrs 8)" --port "$PORT" --count 32)
assert_eq "connections from the new interface" "$(jq -r .ok <<<"$out")" 32
assert_eq "balanced over both WANs" "$(jq -r '.by_peer | keys | join(",")' <<<"$out")" "10.100.1.2,10.100.2.2"
assert_between "flows from lan7 in the flow table" \
    "$(wanlb_rt flows --json | jq '[.[] | select(.src=="192.168.78.10")] | length')" 32 1000

# It goes away.
lab exec rt ip link del lan7
gone() { grep -q "LAN interface lan7 went away" "/run/wanlb-lab/$LAB.agent.log"; }
wait_for 5 gone || fail "the agent did not notice lan7 going away"
wait
assert_eq "the stream on lan0 was not disturbed" "$(jq -r .ok "$OUT/s.json")" true
attached lan0 || fail "lan0 lost its filter"
log "PASS"

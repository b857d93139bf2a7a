#!/usr/bin/env bash
# The Prometheus endpoint (`metrics: 127.0.0.1:9469`): scraped from inside
# the router namespace it reports per-WAN state, traffic and new flows, the
# global counters and build info, and follows a failover; it is not
# reachable from a WAN (bound to loopback).
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq curl

lab_start --wans 2 --clients 4 --servers 4
server_start
CFG=$TEST_TMP/wanlb.yaml
lab_config "$CFG" both-addresses 1 1 -- "metrics: 127.0.0.1:9469"
agent_start "$CFG"
scrape() { ip netns exec "$LAB-rt" curl -fsS --max-time 5 http://127.0.0.1:9469/metrics; }
value() { scrape | awk -v m="$1" '$1 == m {print $2}'; }
wait_for 5 scrape || fail "no metrics endpoint"

m=$(scrape)
grep -q '^wanlb_build_info{version="' <<<"$m" || fail "no build info"
grep -q '^# TYPE wanlb_wan_packets_total counter' <<<"$m" || fail "no TYPE line for packets"
assert_eq "isp1 up" "$(value 'wanlb_wan_up{wan="isp1",interface="wan1"}')" 1
assert_eq "new flows before traffic" "$(value 'wanlb_wan_new_flows_total{wan="isp1"}')" 0

burst_json cl --from "$(client_addrs 4)" --to "$(server_addrs 4)" --port "$PORT" --count 100 >/dev/null
sum=$(( $(value 'wanlb_wan_new_flows_total{wan="isp1"}') + $(value 'wanlb_wan_new_flows_total{wan="isp2"}') ))
assert_between "new flows counted" "$sum" 100 110
assert_between "bytes counted" "$(value 'wanlb_wan_bytes_total{wan="isp1"}')" 1 10000000000

lab wan-down 1
down() { [[ $(value 'wanlb_wan_up{wan="isp1",interface="wan1"}') == 0 ]]; }
wait_for 5 down || fail "metrics do not show isp1 down"
assert_eq "state series" "$(value 'wanlb_wan_state{wan="isp1",state="down"}')" 1
assert_between "state changes" "$(value wanlb_state_changes_total)" 1 100
lab wan-up 1

# Not reachable from a WAN: the endpoint listens on loopback only.
if ip netns exec "$LAB-isp1" curl -s --max-time 2 http://10.100.1.2:9469/metrics >/dev/null; then
    fail "the metrics endpoint answers on a WAN address"
fi
log "PASS"

#!/usr/bin/env bash
# IPv6 end to end on dual-stack WANs (gateway 10.100.<i>.1 and gateway6
# fd00:100:<i>::1 each), wanlb masquerading both families:
#  A. IPv6 connections from the fd00:77:: clients to the 2001:db8:100::
#     servers spread over both WANs by weight (2:1, within 5 points); the
#     server sees each WAN's IPv6 address fd00:100:<i>::2. IPv4 works beside it.
#  B. Every WAN table has an IPv6 default route via its gateway6.
#  C. isp1 goes silent: once it is down, every new IPv6 (and IPv4)
#     connection uses isp2; when it answers again, both are used again.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 2 --clients 16 --servers 16
server_start
TMP=$TEST_TMP
LAB_CONFIG_DUALSTACK=1 lab_config "$TMP/cfg.yaml" both-addresses-and-ports 2 1
cat "$TMP/cfg.yaml" >&2
agent_start "$TMP/cfg.yaml"
wait_state isp1 up; wait_state isp2 up
assert_eq "router IPv6 forwarding" "$(lab exec rt sysctl -n net.ipv6.conf.all.forwarding)" 1

C6=$(client_addrs 16 6); S6=$(server_addrs 16 6)

log "A: IPv6, weights 2:1"
out=$(burst_json cl --from "$C6" --to "$S6" --port "$PORT" --count 1500)
log "A: $(jq -c 'del(.by_pair)' <<<"$out")"
assert_eq "A: IPv6 connections ok" "$(json_get "$out" .ok)" 1500
assert_eq "A: addresses the server saw" "$(json_get "$out" '.by_peer | keys | join(",")')" "fd00:100:1::2,fd00:100:2::2"
pct=$(awk -v a="$(json_get "$out" '.by_peer["fd00:100:1::2"]')" 'BEGIN { printf "%.2f", 100 * a / 1500 }')
assert_between "A: isp1 share of IPv6 connections %" "$pct" 61.67 71.67
out=$(burst_json cl --from "$(client_addrs 16)" --to "$(server_addrs 16)" --port "$PORT" --count 300)
assert_eq "A: IPv4 connections ok" "$(json_get "$out" .ok)" 300
assert_eq "A: IPv4 addresses the server saw" "$(json_get "$out" '.by_peer | keys | join(",")')" "10.100.1.2,10.100.2.2"

log "B: IPv6 routes of the WAN tables"
for i in 1 2; do
    table=$(wanlb_rt status --json | jq -r ".wans[] | select(.name==\"isp$i\") | .table")
    r=$(lab exec rt ip -6 route show table "$table" default)
    log "B: table $table: $r"
    grep -q "via fd00:100:$i::1 dev wan$i" <<<"$r" || fail "table $table has no IPv6 default via fd00:100:$i::1: '$r'"
done

log "C: isp1 silent"
lab wan-silent 1
wait_state isp1 down 8
out=$(burst_json cl --from "$C6" --to "$S6" --port "$PORT" --count 300)
log "C: $(jq -c 'del(.by_pair)' <<<"$out")"
assert_eq "C: IPv6 connections ok" "$(json_get "$out" .ok)" 300
assert_eq "C: IPv6 with isp1 down" "$(json_get "$out" '.by_peer | keys | join(",")')" "fd00:100:2::2"
out=$(burst_json cl --from "$(client_addrs 16)" --to "$(server_addrs 16)" --port "$PORT" --count 100)
assert_eq "C: IPv4 with isp1 down" "$(json_get "$out" '.by_peer | keys | join(",")')" "10.100.2.2"
lab wan-answer 1
wait_state isp1 up 10
out=$(burst_json cl --from "$C6" --to "$S6" --port "$PORT" --count 300)
assert_eq "C: IPv6 connections ok after recovery" "$(json_get "$out" .ok)" 300
assert_eq "C: IPv6 after recovery" "$(json_get "$out" '.by_peer | keys | join(",")')" "fd00:100:1::2,fd00:100:2::2"
log "PASS"

#!/usr/bin/env bash
# Source NAT by wanlb itself (the lab has no NAT of its own; ISPs do BCP38).
#  A. Default (`nat: masquerade`): the internet server sees the WAN
#     addresses 10.100.<i>.2, both WANs carry connections, and the router
#     has wanlb's nftables table `inet wanlb`. The user's own nft table is
#     left alone.
#  B. `wanlb cleanup` removes `inet wanlb` (and only it).
#  C. `nat: none` on isp2, whose ISP routes the LAN prefix to the router
#     (lab `--route-lan 2`): connections via isp2 reach the server with the
#     client's own address, those via isp1 with 10.100.1.2; every reply comes
#     back through the WAN its connection left by (BCP38 would drop a LAN
#     source at ISP 1), so every connection succeeds. wanlb's per-WAN
#     counters agree with what the server saw.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq nft

lab_start --wans 2 --clients 16 --servers 16 --route-lan 2
server_start
TMP=$TEST_TMP

has_wanlb_table() { lab exec rt nft list tables | grep -qx 'table inet wanlb'; }

# The user's own table, which wanlb must never touch.
lab exec rt nft -f - <<'NFT'
table inet userfw {
  chain input { type filter hook input priority 0; policy accept; counter; }
}
NFT

log "A: masquerade (default)"
lab_config "$TMP/a.yaml" both-addresses-and-ports 1 1
agent_start "$TMP/a.yaml"
wait_state isp1 up; wait_state isp2 up
has_wanlb_table || fail "no nft table inet wanlb in the router: $(lab exec rt nft list tables)"
lab exec rt nft list table inet wanlb >"$TMP/ruleset" || fail "nft list table inet wanlb failed"
grep -q masquerade "$TMP/ruleset" || fail "no masquerade in table inet wanlb: $(cat "$TMP/ruleset")"
out=$(burst_json cl --from "$(client_addrs 16)" --to "$(server_addrs 16)" --port "$PORT" --count 400)
log "A: $(jq -c 'del(.by_pair)' <<<"$out")"
assert_eq "A: connections ok" "$(json_get "$out" .ok)" 400
assert_eq "A: addresses the server saw" "$(json_get "$out" '.by_peer | keys | join(",")')" "10.100.1.2,10.100.2.2"
assert_between "A: connections via isp2" "$(json_get "$out" '.by_peer["10.100.2.2"]')" 120 280

log "B: cleanup removes the table"
agent_stop
wanlb_rt cleanup >/dev/null || fail "wanlb cleanup failed"
! has_wanlb_table || fail "table inet wanlb still there after cleanup: $(lab exec rt nft list tables)"
lab exec rt nft list table inet userfw >/dev/null || fail "cleanup removed the user's own table inet userfw"

log "C: nat: none on isp2"
lab_config "$TMP/c.yaml" both-addresses-and-ports 1 1,nat=none,nat6=none
cat "$TMP/c.yaml" >&2
agent_start "$TMP/c.yaml" agent2
wait_state isp1 up; wait_state isp2 up
has_wanlb_table || fail "no nft table inet wanlb in the router"
f0=$(wanlb_rt status --json | jq '[.wans[] | {(.name): .new_flows}] | add')
out=$(lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 16)" --to "$(server_addrs 16)" --port "$PORT" \
    --count 400 --json --pairs-out "$TMP/pairs") || true
[[ -n "$out" ]] || fail "C: burst printed nothing"
log "C: $(jq -c 'del(.by_pair)' <<<"$out")"
assert_eq "C: connections ok (replies through the same WAN)" "$(json_get "$out" .ok)" 400
assert_eq "C: connections seen from isp2's address" "$(json_get "$out" '.by_peer["10.100.2.2"] // 0')" 0
via1=$(json_get "$out" '.by_peer["10.100.1.2"] // 0')
# Every other connection reached the server with its own client address.
assert_eq "C: connections seen with another client's address" \
    "$(awk '$3 != "10.100.1.2" && $3 != $1' "$TMP/pairs" | wc -l)" 0
via2=$(awk '$3 == $1' "$TMP/pairs" | wc -l)
log "C: via isp1 (NAT) $via1, via isp2 (no NAT) $via2"
assert_eq "C: total" "$((via1 + via2))" 400
assert_between "C: connections via isp2 (no NAT)" "$via2" 120 280
f1=$(wanlb_rt status --json | jq '[.wans[] | {(.name): .new_flows}] | add')
# New flows count every new 5-tuple, so a stray packet of the router's
# neighbours (ICMPv6, a retransmitted SYN on a reused port) may add one or two.
assert_between "C: isp1 new flows vs connections the server saw from 10.100.1.2" \
    "$(($(jq .isp1 <<<"$f1") - $(jq .isp1 <<<"$f0")))" "$via1" "$((via1 + 3))"
assert_between "C: isp2 new flows vs connections the server saw from client addresses" \
    "$(($(jq .isp2 <<<"$f1") - $(jq .isp2 <<<"$f0")))" "$via2" "$((via2 + 3))"
assert_eq "C: packets dropped by an ISP for another WAN's address" \
    "$(($(bcp38_drops 1 wrong-wan) + $(bcp38_drops 2 wrong-wan)))" 0
log "C: packets with a LAN source dropped at isp1 (not NATed; e.g. late packets of finished connections): $(bcp38_drops 1 spoofed)"

log "D: cleanup again"
agent_stop
wanlb_rt cleanup >/dev/null || fail "wanlb cleanup failed"
! has_wanlb_table || fail "table inet wanlb still there after cleanup"
lab exec rt nft list table inet userfw >/dev/null || fail "cleanup removed the user's own table inet userfw"
log "PASS"

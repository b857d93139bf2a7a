#!/usr/bin/env bash
# The router's own traffic (3 WANs, BCP38 at every ISP):
#  A. A service on the router (wanlb-labconn serve in the router namespace)
#     is reachable on every WAN address from the internet: the replies leave
#     through the WAN whose address they come from (wanlb's source-address
#     rules), not through the main table's default (ISP 1), whose BCP38
#     would drop those with ISP 2's or ISP 3's address.
#  B. Connections the router starts itself succeed and use every WAN (the
#     local table: a weighted multipath default over the live WANs).
#  C. ISP 1, the main table's default, goes silent: once isp1 is down in
#     status, the router's own new connections still succeed, over the
#     surviving WANs; the service stays reachable on isp2's and isp3's
#     addresses.
#  D. ISP 1 answers again: once it is up in status, everything works as in
#     A and B (isp1 is back in the local table).
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

RT_PORT=18090
lab_start --wans 3 --clients 4 --servers 16
server_start
CFG=$TEST_TMP/wanlb.yaml
lab_config "$CFG" both-addresses-and-ports 1 1 1
agent_start "$CFG"
for w in isp1 isp2 isp3; do wait_state "$w" up; done

lab run rt rtserver "$WANLB_LABCONN" serve --port "$RT_PORT" >/dev/null
wait_for 5 port_listening rt "$RT_PORT" || fail "router-side server did not start"
SOURCES=$(server_addrs 8)

inbound_to_router() { # LABEL WAN_INDEX...
    local label=$1 i out
    shift
    for i in "$@"; do
        out=$(burst_json inet --from "$SOURCES" --to "10.100.$i.2" --port "$RT_PORT" --count 100 --parallel 16)
        log "$label: to the router's wan$i address: $(jq -c 'del(.by_pair)' <<<"$out")"
        assert_eq "$label: connections to 10.100.$i.2 ok" "$(json_get "$out" .ok)" 100
        assert_eq "$label: replies dropped by an ISP for another WAN's address" "$(wrong_total)" "$wrong0"
    done
}
router_burst() { # LABEL -> JSON of a burst the router itself makes
    burst_json rt --to "$(server_addrs 16)" --port "$PORT" --count 200 --parallel 16
}
wrong_total() { for k in 1 2 3; do bcp38_drops "$k" wrong-wan; done | awk '{ s += $1 } END { print s + 0 }'; }

log "A: the router's service on every WAN address"
wrong0=$(wrong_total)
inbound_to_router A 1 2 3

log "B: the router's own connections"
out=$(router_burst)
log "B: $(jq -c 'del(.by_pair)' <<<"$out")"
assert_eq "B: router's own connections ok" "$(json_get "$out" .ok)" 200
# 16 destinations over a 3-way multipath default: every WAN gets some.
assert_eq "B: WANs the router's own connections used" "$(json_get "$out" '.by_peer | keys | join(",")')" \
    "10.100.1.2,10.100.2.2,10.100.3.2"
assert_eq "B: wrong-WAN drops" "$(wrong_total)" "$wrong0"

log "C: ISP 1 (the main table's default) goes silent"
lab wan-silent 1
wait_state isp1 down 8
out=$(router_burst)
log "C: $(jq -c 'del(.by_pair)' <<<"$out")"
if [[ "$(json_get "$out" .ok)" != 200 ]]; then
    log "C: the router's rules and wanlb's routes:"
    { lab exec rt ip rule; lab exec rt ip route show table all proto 201; } | sed 's/^/    /' >&2
    grep -E 'isp1|route' "/run/wanlb-lab/$LAB.agent.log" | tail -8 | sed 's/^/    /' >&2
fi
assert_eq "C: router's own connections ok with isp1 down" "$(json_get "$out" .ok)" 200
assert_eq "C: none through isp1" "$(json_get "$out" '.by_peer["10.100.1.2"] // 0')" 0
log "C: spread over the live WANs: isp2 $(json_get "$out" '.by_peer["10.100.2.2"] // 0'), isp3 $(json_get "$out" '.by_peer["10.100.3.2"] // 0')"
inbound_to_router C 2 3
# The LAN is still served as well.
out=$(burst_json cl --from "$(client_addrs 4)" --to "$(server_addrs 16)" --port "$PORT" --count 200)
assert_eq "C: LAN connections ok" "$(json_get "$out" .ok)" 200
assert_eq "C: LAN connections through isp1" "$(json_get "$out" '.by_peer["10.100.1.2"] // 0')" 0

log "D: ISP 1 answers again"
lab wan-answer 1
wait_state isp1 up 10
wrong0=$(wrong_total)
inbound_to_router D 1 2 3
out=$(router_burst)
log "D: $(jq -c 'del(.by_pair)' <<<"$out")"
assert_eq "D: router's own connections ok" "$(json_get "$out" .ok)" 200
assert_eq "D: WANs the router's own connections used (isp1 back in the local table)" \
    "$(json_get "$out" '.by_peer | keys | join(",")')" "10.100.1.2,10.100.2.2,10.100.3.2"
log "PASS"

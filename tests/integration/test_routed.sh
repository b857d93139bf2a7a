#!/usr/bin/env bash
# A routed setup: both ISPs route the LAN prefix to the router (lab
# `--route-lan 1 --route-lan 2`) and no WAN NATs.
#  A. Default `inbound: conntrack`: connections are balanced over both WANs
#     and reach the server with the client's own address; wanlb's nft table
#     tags connections, so the router tracks them (conntrack has entries).
#  B. `wanlb reload` to `inbound: none`: table inet wanlb is left without
#     chains, the data path stops looking up conntrack, and nothing in the
#     router loads conntrack any more: after a flush, 400 more connections
#     leave no conntrack entry behind, and they are still balanced and all
#     succeed.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq nft conntrack

lab_start --wans 2 --clients 16 --servers 16 --route-lan 1 --route-lan 2
server_start
CFG=$TEST_TMP/wanlb.yaml

ct_count() { lab exec rt conntrack -C 2>/dev/null || echo 0; }

# BURST_LABEL: 400 connections; all succeed, with the client's address, and
# isp1/isp2 new flows split about evenly.
burst_routed() {
    local label=$1 f0 f1 out d1 d2
    f0=$(wanlb_rt status --json | jq '[.wans[] | {(.name): .new_flows}] | add')
    out=$(burst_json cl --from "$(client_addrs 16)" --to "$(server_addrs 16)" --port "$PORT" --count 400)
    log "$label: $(jq -c 'del(.by_pair)' <<<"$out")"
    assert_eq "$label: connections ok" "$(json_get "$out" .ok)" 400
    assert_eq "$label: connections seen from a WAN address (NAT)" \
        "$(json_get "$out" '[.by_peer | to_entries[] | select(.key | startswith("10.100.")) | .value] | add // 0')" 0
    f1=$(wanlb_rt status --json | jq '[.wans[] | {(.name): .new_flows}] | add')
    d1=$(($(jq .isp1 <<<"$f1") - $(jq .isp1 <<<"$f0")))
    d2=$(($(jq .isp2 <<<"$f1") - $(jq .isp2 <<<"$f0")))
    log "$label: new flows isp1 $d1, isp2 $d2"
    assert_between "$label: new flows via isp1" "$d1" 120 280
    assert_between "$label: new flows via isp2" "$d2" 120 280
}

log "A: inbound: conntrack (default), nat: none on both WANs"
lab_config "$CFG" both-addresses-and-ports 1,nat=none,nat6=none 1,nat=none,nat6=none
agent_start "$CFG"
wait_state isp1 up; wait_state isp2 up
lab exec rt nft list table inet wanlb | grep -q "ct mark set" || fail "A: no conntrack tagging in table inet wanlb"
! lab exec rt nft list table inet wanlb | grep -q masquerade || fail "A: masquerade without NAT configured"
burst_routed A
ct=$(ct_count)
log "A: conntrack entries in the router: $ct"
assert_between "A: conntrack entries (connections are tracked)" "$ct" 1 100000

log "B: reload to inbound: none"
lab_config "$CFG" both-addresses-and-ports 1,nat=none,nat6=none 1,nat=none,nat6=none -- "inbound: none"
wanlb_rt reload >/dev/null || fail "B: reload refused: $(tail -3 "/run/wanlb-lab/$LAB.agent.log")"
ruleset=$(lab exec rt nft list table inet wanlb) || fail "B: table inet wanlb is gone"
! grep -q chain <<<"$ruleset" || fail "B: table inet wanlb still has chains: $ruleset"
lab exec rt conntrack -F >/dev/null 2>&1 || true
inb0=$(counter inbound)
burst_routed B
ct=$(ct_count)
log "B: conntrack entries in the router: $ct"
assert_eq "B: conntrack entries (nothing loads conntrack)" "$ct" 0
assert_eq "B: inbound counter" "$(counter inbound)" "$inb0"
log "PASS"

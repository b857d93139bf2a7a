#!/usr/bin/env bash
# IPv6 next to IPv4 for the rest of the feature set, in the lab:
#  - a policy on an IPv6 destination prefix (2001:db8:200::/48 -> isp2);
#  - an IPv6 bypass prefix (follows the main table's IPv6 default: isp1);
#  - ICMPv6 probes: isp2 probes only its IPv6 gateway and goes down when
#    that gateway falls silent, and up again when it answers;
#  - the router's own service answers on every WAN's IPv6 address through
#    that WAN (the ISPs drop packets with another WAN's source).
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 2 --clients 8 --servers 8
server_start
TMP=$TEST_TMP
LAB_CONFIG_DUALSTACK=1 lab_config "$TMP/cfg.yaml" both-addresses-and-ports 1 1 -- \
    "bypass: [2001:db8:100::12/128]" \
    "policies:" "  - {name: v6docs, destination: [2001:db8:200::/48], to: isp2}"
# isp2 probes its IPv6 gateway only (ICMPv6).
awk '{print} /gateway6: fd00:100:2::1/ {print "    probe: {targets: [fd00:100:2::1]}"}' "$TMP/cfg.yaml" >"$TMP/c" &&
    mv "$TMP/c" "$TMP/cfg.yaml"
agent_start "$TMP/cfg.yaml"
wait_state isp1 up; wait_state isp2 up
clients6=$(client_addrs 8 6)

peers() { jq -r 'if .failed > 0 then "FAILED \(.failed)" else (.by_peer | keys | join(",")) end'; }
assert_eq "IPv6 policy: 2001:db8:200::10 via isp2" \
    "$(burst_json cl --from "$clients6" --to 2001:db8:200::10 --port "$PORT" --count 64 | peers)" "fd00:100:2::2"
assert_eq "other IPv6 destinations balanced" \
    "$(burst_json cl --from "$clients6" --to "$(server_addrs 8 6)" --port "$PORT" --count 64 | peers)" \
    "fd00:100:1::2,fd00:100:2::2"
b0=$(counter bypassed)
assert_eq "IPv6 bypass prefix via the main table (isp1)" \
    "$(burst_json cl --from "$clients6" --to 2001:db8:100::12 --port "$PORT" --count 32 | peers)" "fd00:100:1::2"
assert_between "bypassed counter grew" "$(($(counter bypassed) - b0))" 32 100000
wanlb_rt status --json | jq -e '.bypass[] | select(.prefix=="2001:db8:100::12/128")' >/dev/null ||
    fail "status does not list the IPv6 bypass prefix"

# The router's service on each WAN's IPv6 address, from the internet.
lab run rt rtsrv "$WANLB_LABCONN" serve --port 18090 >/dev/null
wait_for 5 port_listening rt 18090 || fail "router service did not start"
for i in 1 2; do
    out=$(burst_json inet --to "fd00:100:$i::2" --port 18090 --count 20)
    assert_eq "router service on fd00:100:$i::2" "$(jq -r .ok <<<"$out")" 20
done

# ICMPv6 probing: isp2's IPv6 gateway falls silent.
lab wan-silent 2
wait_state isp2 down 5 || fail "isp2 did not go down on lost ICMPv6 probes"
wanlb_rt status --json | jq -e '.wans[1].reason | test("probe rounds failed")' >/dev/null || fail "reason"
lab wan-answer 2
wait_state isp2 up 8 || fail "isp2 did not come back"
log "PASS"

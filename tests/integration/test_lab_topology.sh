#!/usr/bin/env bash
# The lab itself, without wanlb: 2 WANs, router forwarding on, the lab's own
# NAT on every WAN (--lab-nat; without it NAT is wanlb's job), only the
# main-table default route (ISP 1).  Every connection from the LAN must
# succeed and reach the internet from ISP 1's address 10.100.1.2.  Every ISP
# validates source addresses (BCP38): a packet from the router with a source
# that is not the customer's is dropped.  Teardown must leave no namespace
# of this lab behind.
# shellcheck source=lab_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lab_test_lib.sh"

need_root
need_labconn
need_cmd jq

PORT=18080
lab_start --wans 2 --forwarding --lab-nat --clients 8 --servers 4
P=$LAB

# The topology as built.
for role in cl rt inet isp1 isp2; do
    [[ -e /run/netns/$P-$role ]] || fail "namespace $P-$role missing"
done
assert_eq "router forwarding" "$(lab exec rt sysctl -n net.ipv4.ip_forward)" 1
assert_eq "router default route" "$(lab exec rt ip -4 route show default | awk '{print $3, $5}')" "10.100.1.1 wan1"
lab exec rt nft list table ip labnat >/dev/null || fail "nft table ip labnat missing in $P-rt"
lab exec rt nft list table ip6 labnat6 >/dev/null || fail "nft table ip6 labnat6 missing in $P-rt"
for i in 1 2; do
    lab exec "isp$i" nft list table inet bcp38 >/dev/null || fail "nft table inet bcp38 missing in $P-isp$i"
done
# BCP38 at work: a ping to ISP 1 with ISP 2's address as source leaves
# through wan1 (notrack, so the lab NAT leaves its source alone) and ISP 1
# drops it; its drop counter counts it.
d0=$(bcp38_drops 1 wrong-wan)
lab exec rt nft -f - <<'NFT'
table ip labtopo_notrack {
  chain out { type filter hook output priority -300; policy accept; ip daddr 10.100.1.1 icmp type echo-request notrack; }
}
NFT
lab exec rt ping -c 2 -W 1 -i 0.2 -I 10.100.2.2 10.100.1.1 >/dev/null 2>&1 && fail "ISP 1 answered a packet with ISP 2's source"
lab exec rt nft delete table ip labtopo_notrack
assert_between "BCP38 drops at ISP 1" "$(($(bcp38_drops 1 wrong-wan) - d0))" 2 100
lab exec rt ping -c 1 -W 1 -I 10.100.1.2 10.100.1.1 >/dev/null || fail "ISP 1 dropped the router's own source"

lab run inet server "$WANLB_LABCONN" serve --port "$PORT" >/dev/null
server_listening() { ip netns exec "$P-inet" ss -Htln "sport = :$PORT" | grep -q .; }
wait_for 5 server_listening || fail "server did not start listening on port $PORT"

# shellcheck source=../../deploy/lab/lab.sh
CLIENTS=$(source "$LAB_SH" && lab_client_addrs 8)
# shellcheck source=../../deploy/lab/lab.sh
SERVERS=$(source "$LAB_SH" && lab_server_addrs 4),203.0.113.10
log "burst from $CLIENTS to $SERVERS"
PAIRS=$TEST_TMP/pairs
out=$(lab exec cl "$WANLB_LABCONN" burst --to "$SERVERS" --from "$CLIENTS" --port "$PORT" \
    --count 50 --parallel 16 --json --pairs-out "$PAIRS") || true
log "burst: $(jq -c 'del(.by_pair)' <<<"$out" 2>/dev/null || echo "$out")"
[[ -n "$out" ]] || fail "no output from burst"
assert_eq "total" "$(json_get "$out" .total)" 50
assert_eq "ok" "$(json_get "$out" .ok)" 50
assert_eq "failed" "$(json_get "$out" .failed)" 0
assert_eq "peers" "$(json_get "$out" '.by_peer | keys | join(",")')" "10.100.1.2"
assert_eq "peer 10.100.1.2 count" "$(json_get "$out" '.by_peer["10.100.1.2"]')" 50
assert_eq "pairs-out lines" "$(wc -l <"$PAIRS")" 50
assert_eq "pairs-out peers" "$(awk '{print $3}' "$PAIRS" | sort -u | tr '\n' ' ')" "10.100.1.2 "

# A short stream over the same path.
sout=$(lab exec cl "$WANLB_LABCONN" stream --to 198.51.100.10 --port "$PORT" --seconds 1 --json) || true
log "stream: $sout"
assert_eq "stream ok" "$(json_get "$sout" .ok)" true
assert_eq "stream peer" "$(json_get "$sout" .peer)" 10.100.1.2

# Teardown: the namespaces are gone and nothing with this prefix is left.
lab_stop
for role in cl rt inet isp1 isp2; do
    [[ ! -e /run/netns/$P-$role ]] || fail "namespace $P-$role still exists after teardown"
done
left=$(ip netns list | awk '{print $1}' | grep -c "^$P-" || true)
assert_eq "namespaces left with prefix $P" "$left" 0
[[ ! -e /run/wanlb-lab/$P.ns ]] || fail "record /run/wanlb-lab/$P.ns still exists"
[[ ! -e /run/wanlb-lab/$P.pids ]] || fail "pid record still exists"
log "PASS"

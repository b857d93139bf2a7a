#!/usr/bin/env bash
# The XDP fast path (`lan: [{interface: lan0, mode: xdp}]`) in a routed lab:
# both ISPs accept and route the LAN prefix (see below), so the WANs need no
# NAT.
#  A. `nat: none` on both WANs, weights 2:1: every connection succeeds, the
#     agent attached wanlb_xdp_lan next to the tc program, connections are
#     balanced by weight (per-WAN new flows), the servers see the clients'
#     own addresses, and the xdp_redirect counter shows that the packets
#     were forwarded by XDP itself (at least one per connection).
#  B. `nat: masquerade` on isp2 (reload): isp2's flows take the stack path
#     (XDP passes them up with their WAN in the metadata, tc marks them,
#     nftables NATs them), isp1's stay in XDP; everything succeeds, the server
#     sees 10.100.2.2 for exactly isp2's new flows (the WAN XDP chose is the
#     one the stack used), and no ISP dropped a packet for a wrong source.
#  C. `wanlb cleanup` removes the XDP program with the tc filter.
#
# veth specifics (docs/config.md, `mode`): redirecting into a veth needs the
# receiving end (the ISP side, down0) to run NAPI: an XDP program there (or
# GRO on, which needs ethtool). The test attaches a trivial XDP_PASS program
# to down0 in each ISP namespace (lab namespaces only, never the host's
# interfaces), and switches off transmit checksum offload on the clients'
# veth (see below). Real NICs with ndo_xdp_xmit need neither.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq nft clang python3

TMP=$TEST_TMP

# The XDP_PASS program for the ISP ends of the WAN veths.
cat >"$TMP/pass.bpf.c" <<'EOF'
#include <linux/bpf.h>
__attribute__((section("xdp"), used)) int xdp_pass(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
EOF
clang -O2 -target bpf -I"/usr/include/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)" \
    -c "$TMP/pass.bpf.c" -o "$TMP/pass.bpf.o" || skip "cannot build a BPF object with clang"

# lab.sh takes one --route-lan per prefix owner (the internet routes the LAN
# prefix via that ISP); ISP 2 is made to route it too here: a route to the
# router and its BCP38 filter accepting the LAN prefix from down0. Replies
# of both WANs' connections come back through ISP 1 (no NAT: the router
# forwards them to the LAN whichever WAN they arrive on).
lab_start --wans 2 --clients 16 --servers 16 --route-lan 1
ip -n "$LAB-isp2" route add 192.168.77.0/24 via 10.100.2.2 dev down0 || fail "route in isp2"
ip netns exec "$LAB-isp2" nft insert rule inet bcp38 prerouting iifname down0 ip saddr 192.168.77.0/24 accept ||
    fail "bcp38 exception in isp2"
for i in 1 2; do
    ip -n "$LAB-isp$i" link set dev down0 xdpdrv obj "$TMP/pass.bpf.o" sec xdp ||
        skip "cannot attach an XDP program to a veth (kernel without native veth XDP?)"
done
# The clients send from a veth with transmit checksum offload: their TCP and
# UDP checksums are left to "the hardware" (CHECKSUM_PARTIAL), which an skb
# keeps through the stack, but native XDP on the other end (lan0) turns the
# packet into a raw frame and the redirect sends it as it is. Real clients
# behind a real NIC send complete checksums; here the offload is switched
# off on the clients' eth0 (ethtool -K eth0 tx off, through SIOCETHTOOL
# without needing ethtool).
lab exec cl python3 - <<'PY' || fail "cannot switch off tx checksum offload on the clients' eth0"
import array, fcntl, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
value = array.array("I", [0x17, 0])  # ETHTOOL_STXCSUM, off
fcntl.ioctl(s.fileno(), 0x8946, struct.pack("16sP", b"eth0", value.buffer_info()[0]))  # SIOCETHTOOL
PY
server_start

# lab_config with the LAN entry in XDP mode.
xdp_config() { # FILE WAN-ARGS...
    local file=$1
    shift
    lab_config "$file" both-addresses-and-ports "$@"
    sed -i 's/^lan: \[lan0\]$/lan:\n  - {interface: lan0, mode: xdp}/' "$file"
    grep -q 'mode: xdp' "$file" || fail "lab_config changed its lan line: $(head -3 "$file")"
}
xdp_redirects() { counter xdp_redirect; }
new_flows() { wanlb_rt status --json | jq "[.wans[] | {(.name): .new_flows}] | add"; }

log "A: routed, nat: none on both WANs, weights 2:1"
xdp_config "$TMP/a.yaml" 2,nat=none,nat6=none 1,nat=none,nat6=none
agent_start "$TMP/a.yaml"
grep -q "attached wanlb_xdp_lan (XDP" "/run/wanlb-lab/$LAB.agent.log" ||
    fail "agent did not attach the XDP program: $(cat "/run/wanlb-lab/$LAB.agent.log")"
log "A: $(grep -o 'lan0: attached wanlb_xdp_lan.*' "/run/wanlb-lab/$LAB.agent.log")"
lab exec rt ip link show lan0 | grep -q 'prog/xdp' || fail "no XDP program on lan0: $(lab exec rt ip link show lan0)"
wait_state isp1 up; wait_state isp2 up
r0=$(xdp_redirects); f0=$(new_flows)
out=$(lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 16)" --to "$(server_addrs 16)" --port "$PORT" \
    --count 600 --json --pairs-out "$TMP/pairs-a") || true
[[ -n "$out" ]] || fail "A: burst printed nothing"
log "A: $(jq -c 'del(.by_pair)' <<<"$out")"
assert_eq "A: connections ok" "$(json_get "$out" .ok)" 600
assert_eq "A: connections the server saw with another address than the client's" \
    "$(awk '$3 != $1' "$TMP/pairs-a" | wc -l)" 0
r1=$(xdp_redirects); f1=$(new_flows)
n1=$(($(jq .isp1 <<<"$f1") - $(jq .isp1 <<<"$f0"))); n2=$(($(jq .isp2 <<<"$f1") - $(jq .isp2 <<<"$f0")))
log "A: new flows isp1 $n1, isp2 $n2; packets forwarded by XDP: $((r1 - r0))"
assert_eq "A: new flows" "$((n1 + n2))" 600
assert_between "A: isp1 share of new flows (target 400)" "$n1" 340 460
((r1 - r0 >= 600)) || fail "A: only $((r1 - r0)) packets forwarded by XDP for 600 connections"
assert_eq "A: packets dropped by an ISP for a wrong source" \
    "$(($(bcp38_drops 1 all) + $(bcp38_drops 2 all)))" 0

log "B: nat: masquerade on isp2 (reload): its flows take the stack path"
xdp_config "$TMP/a.yaml" 2,nat=none,nat6=none 1,nat=masquerade
wanlb_rt reload >/dev/null || fail "reload failed"
r0=$(xdp_redirects); f0=$(new_flows)
out=$(lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 16)" --to "$(server_addrs 16)" --port "$PORT" \
    --count 600 --json --pairs-out "$TMP/pairs-b") || true
[[ -n "$out" ]] || fail "B: burst printed nothing"
log "B: $(jq -c 'del(.by_pair)' <<<"$out")"
assert_eq "B: connections ok" "$(json_get "$out" .ok)" 600
r1=$(xdp_redirects); f1=$(new_flows)
n1=$(($(jq .isp1 <<<"$f1") - $(jq .isp1 <<<"$f0"))); n2=$(($(jq .isp2 <<<"$f1") - $(jq .isp2 <<<"$f0")))
nat=$(awk '$3 == "10.100.2.2"' "$TMP/pairs-b" | wc -l)
own=$(awk '$3 == $1' "$TMP/pairs-b" | wc -l)
log "B: new flows isp1 $n1 (XDP), isp2 $n2 (stack, NAT); server saw 10.100.2.2 $nat times, client addresses $own times; XDP forwarded $((r1 - r0)) packets"
assert_eq "B: total" "$((nat + own))" 600
assert_eq "B: isp2 new flows = connections NATed to isp2's address" "$n2" "$nat"
assert_eq "B: isp1 new flows = connections with the client's own address" "$n1" "$own"
((n2 > 100 && n1 > 300)) || fail "B: split $n1/$n2 is not by weight 2:1"
((r1 - r0 >= n1)) || fail "B: XDP forwarded only $((r1 - r0)) packets for $n1 routed connections"
assert_eq "B: packets dropped by an ISP for another WAN's address" \
    "$(($(bcp38_drops 1 wrong-wan) + $(bcp38_drops 2 wrong-wan)))" 0

log "C: cleanup removes the XDP program too"
agent_stop
wanlb_rt cleanup >/dev/null || fail "wanlb cleanup failed"
! lab exec rt ip link show lan0 | grep -q 'prog/xdp' || fail "XDP program still on lan0 after cleanup"
log "PASS"

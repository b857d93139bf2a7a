#!/usr/bin/env bash
# Inbound connections are answered through the WAN they arrived on.
# The user's own port forward (an nft table `ip portfwd` in the router, not
# wanlb's) sends TCP port 9000 on every WAN to a LAN server 192.168.77.10.
# Internet hosts connect to 10.100.<i>.2:9000 on each of the 3 WANs, from 8
# source addresses with distinct source ports: the server's replies enter
# wanlb on the LAN side like any outbound packet, and without pinning them
# to the WAN the connection came in on, the hash would send about two thirds
# of them out of another WAN, whose ISP drops them (BCP38 in the lab: the
# source 10.100.<i>.2 is not that ISP's customer). So: every connection must
# succeed, the server must see the real internet source (no NAT on the way
# in), and the `inbound` counter must grow.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq nft

WANS=3
FWD_PORT=9000
PER_WAN=100
lab_start --wans "$WANS" --clients 4 --servers 16
CFG=$TEST_TMP/wanlb.yaml

# The user's port forward on every WAN.
rules=""
for ((i = 1; i <= WANS; i++)); do
    rules+="    iifname \"wan$i\" tcp dport $FWD_PORT dnat to 192.168.77.10:$FWD_PORT"$'\n'
done
lab exec rt nft -f - <<NFT
table ip portfwd {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
$rules  }
}
NFT

# The LAN server.
lab run cl lanserver "$WANLB_LABCONN" serve --bind 192.168.77.10 --port "$FWD_PORT" >/dev/null
wait_for 5 port_listening cl "$FWD_PORT" || fail "LAN server did not start"

lab_config "$CFG" both-addresses-and-ports 1 1 1
agent_start "$CFG"
for ((i = 1; i <= WANS; i++)); do wait_state "isp$i" up; done
lab exec rt nft list table ip portfwd >/dev/null || fail "the user's port forward table is gone after the agent started"

SOURCES=$(server_addrs 8)   # internet-side addresses (srv0 in the internet namespace)
in0=$(counter inbound)
for ((i = 1; i <= WANS; i++)); do
    out=$(burst_json inet --from "$SOURCES" --to "10.100.$i.2" --port "$FWD_PORT" --count "$PER_WAN" --parallel 16)
    log "inbound via wan$i: $(jq -c 'del(.by_pair)' <<<"$out")"
    assert_eq "inbound via wan$i: connections ok" "$(json_get "$out" .ok)" "$PER_WAN"
    # The LAN server sees the internet sources themselves.
    assert_eq "inbound via wan$i: sources seen by the LAN server" \
        "$(json_get "$out" '.by_peer | keys | sort | join(",")')" \
        "$(tr ',' '\n' <<<"$SOURCES" | sort | paste -sd,)"
done
in1=$(counter inbound)
log "inbound counter: $in0 -> $in1"
assert_between "inbound counter grew by at least one reply per connection" "$((in1 - in0))" \
    "$((WANS * PER_WAN))" 100000000

# All at once, mixed over the WANs, with outbound traffic from the LAN at the same time.
server_start
lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 4)" --to "$(server_addrs 16)" --port "$PORT" \
    --count 600 --json >/tmp/wanlb-inbound-out.$$ &
outpid=$!
out=$(burst_json inet --from "$SOURCES" --to "10.100.1.2,10.100.2.2,10.100.3.2" --port "$FWD_PORT" \
    --count 600 --parallel 32)
log "inbound on all WANs at once: $(jq -c 'del(.by_pair)' <<<"$out")"
assert_eq "inbound on all WANs at once: connections ok" "$(json_get "$out" .ok)" 600
wait "$outpid" || true
outb=$(cat /tmp/wanlb-inbound-out.$$); rm -f /tmp/wanlb-inbound-out.$$
log "outbound meanwhile: $(jq -c 'del(.by_pair)' <<<"$outb")"
assert_eq "outbound meanwhile: connections ok" "$(json_get "$outb" .ok)" 600
assert_eq "outbound meanwhile: WANs used" "$(json_get "$outb" '.by_peer | keys | join(",")')" \
    "10.100.1.2,10.100.2.2,10.100.3.2"

# The inbound replies are pinned, not hashed: no reply was dropped at an ISP.
for ((i = 1; i <= WANS; i++)); do
    assert_eq "packets with another WAN's address dropped at isp$i" "$(bcp38_drops "$i" wrong-wan)" 0
done
log "PASS"

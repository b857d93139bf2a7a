#!/usr/bin/env bash
# An attacker on the WAN side (the "internet" namespace, or an on-link
# neighbour in an ISP namespace) against the agent and the data path.
# Packets are made with trafgen (netsniff-ng) at bounded rates, only inside
# the lab namespaces, and counted on arrival in the router.
#  a. blind forged echo replies (random identifier, sequence and payload,
#     source = isp1's probe target) at 5000 pps while isp1's upstream is
#     dead: isp1 still goes down in time; the agent counts them as ignored
#  b. an ICMP flood of 1200-byte echo requests, then of forged echo replies,
#     at 20000 pps for 10 s each to isp2's address: isp2 stays up throughout
#     (no false down from a starved prober)
#  c. TCP/UDP packets whose tuples mirror running LAN flows (reply tuples on
#     the other WAN, spoofed LAN sources, the flows' own forward tuples and
#     un-NATed reply tuples from an on-link neighbour): the flows keep their
#     WAN, the streams keep flowing, and the flow table gains no entry for a
#     packet that arrived on a WAN (the program runs on LAN ingress only)
#  d. the control socket is a unix socket and the metrics endpoint listens
#     on 127.0.0.1 only: nothing of the agent is reachable from a WAN
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq trafgen curl ss conntrack

lab_start --wans 2 --clients 8 --servers 8
server_start
TMP=$TEST_TMP
CFG=$TMP/wanlb.yaml
# isp1 probes a target beyond its gateway (as many routers probe a public
# resolver): forged replies from the internet reach the router through isp1.
PROBE_TARGET=198.51.100.17
lab_config "$CFG" both-addresses 1 1 -- "metrics: 127.0.0.1:9469"
sed -i "0,/    weight: 1\$/s//    weight: 1\n    probe: {targets: [$PROBE_TARGET]}/" "$CFG"
agent_start "$CFG"
for w in isp1 isp2; do wait_state "$w" up 5; done

mac_of() { ip -n "$LAB-$1" -j link show "$2" | jq -r '.[0].address'; }
# trafgen ROLE DEV RATE_PPS COUNT CONFIG: bounded, no system tuning (no
# socket memory or IRQ changes), one process.
trafgen_run() {
    lab exec "$1" trafgen --no-sock-mem --notouch-irq --no-cpu-stats --cpus 1 --dev "$2" \
        --rate "${3}pps" --num "$4" --conf "$5" >"$TMP/trafgen.out" 2>&1 ||
        { cat "$TMP/trafgen.out" >&2; fail "trafgen failed"; }
}
# icmp_in FIELD: the router's Icmp counter (InMsgs, InEchos, InEchoReps, ...).
icmp_in() {
    lab exec rt awk -v f="$1" '/^Icmp:/ { if (!h) { for (i = 2; i <= NF; i++) if ($i == f) c = i; h = 1 } else print $c }' \
        /proc/net/snmp
}
ignored() { wanlb_rt status --json | jq -r .agent.probe_replies_ignored; }
# raw_drops: datagrams the router's raw sockets (the prober's) dropped
# because their receive queue was full (/proc/net/raw, last column).
raw_drops() { lab exec rt awk 'NR > 1 {n += $NF} END {print n + 0}' /proc/net/raw; }
ms_now() { date +%s%3N; }
RT_WAN2=$(mac_of rt wan2)
ISP1_UP=$(mac_of isp1 up0) ISP2_UP=$(mac_of isp2 up0)
INET_ISP1=$(mac_of inet isp1) INET_ISP2=$(mac_of inet isp2) ISP2_DOWN=$(mac_of isp2 down0)

log "a: isp1's upstream dies; blind forged echo replies from the internet, 5000 pps"
cat >"$TMP/forged.cfg" <<EOF
{ eth(da=$ISP1_UP, sa=$INET_ISP1), ipv4(saddr=$PROBE_TARGET, daddr=10.100.1.2, ttl=64),
  icmp4(type=0, code=0, id=drnd(), seq=drnd()), drnd(48) }
EOF
ign0=$(ignored) reps0=$(icmp_in InEchoReps) drops0=$(raw_drops)
# Everything the router sends through isp1 is lost upstream; isp1 still
# forwards what comes from the internet, so the forgeries get through.
lab exec isp1 nft -f - <<'NFT'
table inet upstreamdead {
  chain forward_c { type filter hook forward priority -300; policy accept; iifname "down0" drop; }
}
NFT
t0=$(ms_now)
trafgen_run inet isp1 5000 25000 "$TMP/forged.cfg" &
tg=$!
wait_for 5 is_state isp1 down || fail "isp1 did not go down under blind forged replies (state: $(wan_state isp1))"
t_down=$(($(ms_now) - t0))
wait $tg
sleep 0.5
arrived=$(($(icmp_in InEchoReps) - reps0)) ign=$(($(ignored) - ign0)) drops=$(($(raw_drops) - drops0))
assert_between "forged echo replies that reached the router" "$arrived" 24000 25100
log "the prober read and ignored $ign of them; its socket dropped $drops (receive queue full)"
# isp1's socket sees the forgeries and isp2's real replies do not count here.
assert_between "forgeries either ignored by the prober or dropped by a full socket" "$((ign + drops))" 24000 25100
assert_between "replies the prober ignored" "$ign" 1000 1000000
assert_between "isp1 down after (ms, default probes: 3 rounds of 200 ms + 500 ms timeout)" "$t_down" 0 2500
assert_eq "isp2 unaffected" "$(wan_state isp2)" up
lab exec isp1 nft delete table inet upstreamdead
wait_state isp1 up 8

flood() { # NAME CONFIG
    local name=$1 cfg=$2 msgs0 t0 t1 down_seen=0 n drops0
    msgs0=$(icmp_in InMsgs) drops0=$(raw_drops)
    t0=$(ms_now)
    trafgen_run inet isp2 20000 200000 "$cfg" &
    local tg=$!
    # isp2's state every 100 ms through the flood and 2 s after it.
    local st maxloss=0
    while kill -0 "$tg" 2>/dev/null; do
        st=$(wanlb_rt status --json | jq -r '.wans[] | select(.name=="isp2") | "\(.state) \(.loss_percent)"')
        [[ ${st%% *} == up ]] || down_seen=1
        maxloss=$(awk -v a="$maxloss" -v b="${st#* }" 'BEGIN {print (b > a ? b : a)}')
        sleep 0.1
    done
    wait "$tg"
    t1=$(ms_now)
    n=$(($(icmp_in InMsgs) - msgs0))
    RATE=$((n * 1000 / (t1 - t0)))
    log "$name: $n ICMP messages reached the router in $((t1 - t0)) ms: $RATE pps; raw socket drops $(($(raw_drops) - drops0)); isp2's probe loss at most ${maxloss}%"
    for _ in $(seq 20); do [[ $(wan_state isp2) == up ]] || down_seen=1; sleep 0.1; done
    assert_between "$name: ICMP messages that reached the router" "$n" 190000 210000
    assert_eq "$name: isp2 stayed up through the flood" "$down_seen" 0
    assert_eq "$name: isp2 state changes in the agent log" \
        "$(grep -c "WAN isp2: up ->" "/run/wanlb-lab/$LAB.agent.log" || true)" 0
}
log "b: ICMP floods of 1200-byte packets at 20000 pps for 10 s toward isp2's address"
cat >"$TMP/flood-req.cfg" <<EOF
{ eth(da=$ISP2_UP, sa=$INET_ISP2), ipv4(saddr=10.200.2.2, daddr=10.100.2.2, ttl=64),
  icmp4(type=8, code=0, id=drnd(), seq=dinc()), fill(0x41, 1172) }
EOF
cat >"$TMP/flood-rep.cfg" <<EOF
{ eth(da=$ISP2_UP, sa=$INET_ISP2), ipv4(saddr=198.51.100.30, daddr=10.100.2.2, ttl=64),
  icmp4(type=0, code=0, id=drnd(), seq=drnd()), fill(0x52, 1172) }
EOF
flood "echo-request flood" "$TMP/flood-req.cfg"
RATE_REQ=$RATE
# Echo replies pass the prober's ICMP filter and land in isp2's probe
# socket: the flood that could crowd out the real replies.
flood "echo-reply flood" "$TMP/flood-rep.cfg"
RATE_REP=$RATE

log "c: WAN packets that mirror running LAN flows"
clients=(192.168.77.10 192.168.77.11 192.168.77.12 192.168.77.13 192.168.77.14 192.168.77.15)
for i in "${!clients[@]}"; do
    lab exec cl "$WANLB_LABCONN" stream --from "${clients[i]}" --to "198.51.100.$((10 + i))" --port "$PORT" \
        --seconds 12 --json >"$TMP/s$i.json" &
done
sleep 2
stream_flows() {
    wanlb_rt flows --json |
        jq -c '[.[] | select(.proto=="tcp" and .dport==18080 and .idle_s < 3) | {src, sport, dst, wan}] | sort'
}
before=$(stream_flows)
assert_eq "streams in the flow table" "$(jq length <<<"$before")" "${#clients[@]}"
jq -r '.[].wan' <<<"$before" | sort -u | tr '\n' ' ' | grep -q "isp1 isp2" || log "note: streams on one WAN only"
before_all=$(wanlb_rt flows --json | jq -c '[.[] | {proto, src, sport, dst, dport}]')
inet1="" inet2="" link2=""
while read -r src sport dst _wan; do
    ct=$(lab exec rt conntrack -L -p tcp --orig-src "$src" --sport "$sport" 2>/dev/null | sed -n 1p)
    nat_addr=$(grep -o 'dst=[0-9.]*' <<<"$ct" | sed -n 2p | cut -d= -f2)
    nat_port=$(grep -o 'dport=[0-9]*' <<<"$ct" | sed -n 2p | cut -d= -f2)
    [[ -n "$nat_addr" && -n "$nat_port" ]] || fail "no conntrack entry for $src:$sport"
    other=10.100.1.2; [[ $nat_addr == 10.100.1.2 ]] && other=10.100.2.2
    tos="tos=0xa0, ttl=64"
    for a in "$nat_addr" "$other"; do
        if [[ $a == 10.100.1.2 ]]; then var=inet1; mac="eth(da=$ISP1_UP, sa=$INET_ISP1)"; else var=inet2; mac="eth(da=$ISP2_UP, sa=$INET_ISP2)"; fi
        blocks=""
        # the flow's reply tuple, TCP on the other WAN, UDP on both
        [[ $a == "$other" ]] && blocks+="{ $mac, ipv4(saddr=$dst, daddr=$a, $tos), tcp(sp=18080, dp=$nat_port, seq=drnd(), aseq=drnd(), ack), fill(0x42, 32) }"$'\n'
        blocks+="{ $mac, ipv4(saddr=$dst, daddr=$a, $tos), udp(sp=18080, dp=$nat_port), fill(0x42, 32) }"$'\n'
        # spoofed LAN source with the flow's port, to the router's WAN address
        blocks+="{ $mac, ipv4(saddr=$src, daddr=$a, $tos), tcp(sp=$sport, dp=18080, seq=drnd(), syn), fill(0x43, 16) }"$'\n'
        blocks+="{ $mac, ipv4(saddr=$src, daddr=$a, $tos), udp(sp=$sport, dp=$nat_port), fill(0x43, 32) }"$'\n'
        printf -v "$var" '%s%s' "${!var}" "$blocks"
    done
    # On-link neighbour on wan2 (in isp2): the flow's own forward tuple and
    # its un-NATed reply tuple, sent to the router's MAC.
    mac="eth(da=$RT_WAN2, sa=$ISP2_DOWN)"
    link2+="{ $mac, ipv4(saddr=$src, daddr=$dst, $tos), tcp(sp=$sport, dp=18080, seq=drnd(), aseq=drnd(), ack), fill(0x44, 32) }"$'\n'
    link2+="{ $mac, ipv4(saddr=$src, daddr=$dst, $tos), udp(sp=$sport, dp=18080), fill(0x44, 32) }"$'\n'
    link2+="{ $mac, ipv4(saddr=$dst, daddr=$src, $tos), tcp(sp=18080, dp=$sport, seq=drnd(), aseq=drnd(), ack), fill(0x45, 32) }"$'\n'
    link2+="{ $mac, ipv4(saddr=$dst, daddr=$src, $tos), udp(sp=18080, dp=$sport), fill(0x45, 32) }"$'\n'
done < <(jq -r '.[] | "\(.src) \(.sport) \(.dst) \(.wan)"' <<<"$before")
printf '%s' "$inet1" >"$TMP/c-inet1.cfg"; printf '%s' "$inet2" >"$TMP/c-inet2.cfg"; printf '%s' "$link2" >"$TMP/c-link2.cfg"
# Count the marked packets (DSCP CS5) as they arrive in the router.
lab exec rt nft -f - <<'NFT'
table inet attackcount {
  chain pre {
    type filter hook prerouting priority -400; policy accept;
    iifname "wan1" ip dscp cs5 counter comment "wan1"
    iifname "wan2" ip dscp cs5 counter comment "wan2"
  }
}
NFT
trafgen_run inet isp1 2000 8000 "$TMP/c-inet1.cfg" &
p1=$!
trafgen_run inet isp2 2000 8000 "$TMP/c-inet2.cfg" &
p2=$!
trafgen_run isp2 down0 2000 8000 "$TMP/c-link2.cfg" &
p3=$!
wait $p1 $p2 $p3
arrived=$(lab exec rt nft list table inet attackcount | awk '/counter packets/ {for (i = 1; i <= NF; i++) if ($i == "packets") n += $(i + 1)} END {print n + 0}')
# 24000 sent; a few more come back: the servers' RSTs to the forwarded
# bogus ACKs reflect the DSCP.
assert_between "mirrored/spoofed packets that arrived on the WANs" "$arrived" 22000 25000
after=$(stream_flows)
assert_eq "every stream's flow kept its WAN" "$after" "$before"
flows=$(wanlb_rt flows --json)
assert_eq "flow entries for packets that arrived on a WAN (to a WAN address, from a server, UDP mirrors)" \
    "$(jq '[.[] | select((.dst | test("^10\\.100\\.")) or (.src | test("^(198\\.51\\.100|10\\.)")) or .proto == "udp")] | length' <<<"$flows")" 0
# New entries may appear, but only for packets the LAN clients sent: the
# router forwards the on-link neighbour's reply-tuple packets to the client
# (conntrack gives them a fresh source port, as the tuple clashes with the
# stream's), and the client answers with a RST or an ICMP error, which is a
# LAN packet like any other (pinned to wan2 as the reply of an inbound
# connection). None is keyed by a WAN-side packet.
new=$(jq -c --argjson before "$before_all" '[.[] | {proto, src, sport, dst, dport} as $k | select(($before | index([$k])) | not)]' <<<"$flows")
log "new flow entries: $(jq length <<<"$new") ($(jq -c 'group_by(.proto) | map({(.[0].proto): length}) | add // {}' <<<"$new"))"
assert_eq "new flow entries not sent by a LAN client to a server" \
    "$(jq -c --argjson c "$(printf '%s\n' "${clients[@]}" | jq -R . | jq -sc .)" \
        '[.[] | select(.src | startswith("fe80:") | not) | select(((.src as $s | $c | index($s)) | not) or (.dst | test("^198\\.51\\.100\\.") | not))]' <<<"$new")" "[]"
wait
# The steering properties are asserted above (every flow kept its WAN, no
# flow entry for WAN-side packets). Whether each TCP stream also survives a
# flood of blind injected segments is a matter of the end hosts' TCP stacks
# and of CPU (a 2-core machine flooding itself), not of wanlb: every
# stream's fate is logged, not asserted.
broken=0
for i in "${!clients[@]}"; do
    s=$(cat "$TMP/s$i.json")
    log "stream ${clients[i]}: $(jq -c '{ok, max_gap_ms, error}' <<<"$s")"
    [[ $(jq -r .ok <<<"$s") == true ]] || broken=$((broken + 1))
done
log "streams broken by the injection: $broken of ${#clients[@]} (their flows kept their WANs)"
lab exec rt nft delete table inet attackcount

log "d: nothing of the agent listens on a WAN"
PID=$(wanlb_rt status --json | jq -r .agent.pid)
sock=$(wanlb_rt status --json | jq -r .agent.control_socket)
[[ -S "$sock" ]] || fail "control socket $sock is not a unix socket"
unix_listeners=$(lab exec rt ss -Hxlp)
grep -F "$sock" <<<"$unix_listeners" | grep -q "pid=$PID," || fail "the agent does not listen on $sock"
listening=$(lab exec rt ss -Htulnp | grep "pid=$PID," | awk '{print $1, $5}' | sort | tr '\n' ';')
assert_eq "the agent's TCP/UDP listeners" "$listening" "tcp 127.0.0.1:9469;"
for from in isp1:10.100.1.2 isp2:10.100.2.2 inet:10.100.1.2 inet:10.100.2.2; do
    if lab exec "${from%%:*}" curl -s --max-time 2 "http://${from#*:}:9469/metrics" >/dev/null 2>&1; then
        fail "metrics reachable from ${from%%:*} at ${from#*:}:9469"
    fi
done
log "ok: metrics not reachable from isp1, isp2 or the internet"
log "measured flood rates at the router: echo requests $RATE_REQ pps, echo replies $RATE_REP pps (1200-byte packets)"
log "PASS"

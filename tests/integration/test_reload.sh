#!/usr/bin/env bash
# Reload (`wanlb reload` and SIGHUP) applies a changed config while long
# transfers run: weights, a WAN added, a policy, probe settings. No stream
# breaks and no established flow whose WAN is unchanged moves. The new WAN's
# route and NAT are in place before any slot names it. Removing a
# WAN that is listed first keeps the other WANs' flows where they are (WAN
# ids are kept by name). An invalid config, or one that changes a key only a
# restart can change, is refused with a clear message and the running config
# stays in force.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 3 --clients 8 --servers 8 --rate 50mbit
server_start
TMP=$TEST_TMP
CFG=$TMP/wanlb.yaml
lab_config "$CFG" both-addresses 1 1
agent_start "$CFG"

weights() { wanlb_rt status --json | jq -c '[.wans[] | {(.name): .weight}] | add'; }
flow_wans() { # the long streams' flows: source address/port -> WAN
    wanlb_rt flows --json | jq -c '[.[] | select(.proto=="tcp" and .dport==18080 and .idle_s < 3) | {src, sport, wan}] | sort'
}

# Eight long streams over both WANs.
clients=$(client_addrs 8)
i=0
for src in ${clients//,/ }; do
    i=$((i + 1))
    lab exec cl "$WANLB_LABCONN" stream --from "$src" --to "198.51.100.$((9 + i))" --port "$PORT" \
        --seconds 16 --json >"$TMP/s$i.json" &
done
sleep 2
before=$(flow_wans)
assert_eq "streams tracked" "$(jq length <<<"$before")" 8

log "reload 1: weights 3:1, a third WAN, a policy, faster probes"
lab_config "$CFG" both-addresses 3 1 1 -- "policies:" "  - {name: docs, destination: [203.0.113.0/24], to: isp3}"
sed -i '0,/    weight: 3/s//    weight: 3\n    probe: {interval: 100ms}/' "$CFG"
out=$(wanlb_rt reload) || fail "reload failed: $out"
log "$out"
assert_eq "weights after reload" "$(weights)" '{"isp1":3,"isp2":1,"isp3":1}'
# Agent log up to this reload's end: isp3's route and NAT before the slots.
upto=$(awk '{print} / reloaded /{exit}' "/run/wanlb-lab/$LAB.agent.log")
line_of() { grep -n -E "$1" <<<"$upto" | tail -1 | cut -d: -f1 || true; }
l_route=$(line_of "added route .*via 10\.100\.3\.1") l_nat=$(line_of "nftables: .*previous config")
l_slots=$(line_of "slot table:")
[[ -n "$l_route" && -n "$l_nat" && -n "$l_slots" ]] && ((l_route < l_slots && l_nat < l_slots)) ||
    fail "isp3's route (line ${l_route:-none}) and NAT (${l_nat:-none}) must come before the slots (${l_slots:-none}): $upto"
log "ok: isp3's route (log line $l_route) and NAT ($l_nat) before the slot table ($l_slots)"
assert_eq "established flows kept their WANs" "$(flow_wans)" "$before"
n=$(burst_json cl --from "$(client_addrs 8)" --to "$(server_addrs 8)" --port "$PORT" --count 64 |
    jq -r '.by_peer | keys | join(",")')
assert_eq "new connections use the new WAN too" "$n" "10.100.1.2,10.100.2.2,10.100.3.2"
assert_eq "policy in force" "$(burst_json cl --from "$(client_addrs 8)" --to 203.0.113.10 --port "$PORT" --count 16 |
    jq -r '.by_peer | keys | join(",")')" "10.100.3.2"

log "reload 2: an invalid config is refused; the running one stays"
cp "$CFG" "$TMP/good.yaml"
sed -i 's/    weight: 1$/    weight: 0/' "$CFG"
set +e
msg=$(wanlb_rt reload 2>&1); rc=$?
set -e
assert_eq "invalid reload: exit code" "$rc" 2
grep -qF "$CFG:" <<<"$msg" && grep -q "weight" <<<"$msg" || fail "unclear message: $msg"
assert_eq "weights unchanged" "$(weights)" '{"isp1":3,"isp2":1,"isp3":1}'
cp "$TMP/good.yaml" "$CFG"
sed -i 's/^lan: \[lan0\]/lan: [lan0]\nflow_table_size: 4096/' "$CFG"
set +e
msg=$(wanlb_rt reload 2>&1); rc=$?
set -e
assert_eq "restart-only key: exit code" "$rc" 2
grep -q "flow_table_size.*needs a restart" <<<"$msg" || fail "unclear message: $msg"

log "reload 3 (SIGHUP): isp1, listed first, is removed"
isp2_flows=$(jq -c '[.[] | select(.wan=="isp2")]' <<<"$before")
lab_config "$CFG" both-addresses 1 1
sed -i 's/name: isp1/name: isp2/; s/interface: wan1/interface: wan2/; s/10.100.1.1/10.100.2.1/' "$CFG"
awk 'BEGIN{n=0} /name: isp2/{n++} n==2{sub(/isp2/,"isp3"); sub(/wan2/,"wan3")} {print}' "$CFG" >"$TMP/c" && mv "$TMP/c" "$CFG"
sed -i '0,/10.100.2.1/! s/10.100.2.1/10.100.3.1/' "$CFG"
kill -HUP "$(wanlb_rt status --json | jq -r .agent.pid)"
reloaded() { [[ $(weights) == '{"isp2":1,"isp3":1}' ]]; }
wait_for 5 reloaded || fail "SIGHUP reload not applied: $(weights)"
still=$(wanlb_rt flows --json | jq -c --argjson b "$isp2_flows" \
    '[.[] | {src, sport, wan} | select(. as $f | $b | index($f))] | sort')
assert_eq "isp2's flows stayed on isp2 although isp1 (listed first) was removed" "$still" "$(jq -c sort <<<"$isp2_flows")"

wait
for n in $(seq 1 8); do
    wan=$(jq -r --arg s "$(sed -n "${n}p" <<<"${clients//,/$'\n'}")" '.[] | select(.src==$s) | .wan' <<<"$before")
    s=$(cat "$TMP/s$n.json")
    [[ $wan == isp1 ]] && continue  # its WAN was removed: it had to move
    assert_eq "stream $n on $wan survived every reload" "$(jq -r .ok <<<"$s")" true
done
log "PASS"

#!/usr/bin/env bash
# Health probing and failover in the lab, default probe settings:
#  A. isp1's gateway goes silent (carrier stays up): isp1 goes down within a
#     few seconds, new connections use isp2 only (the backup tier stays out),
#     conntrack entries NATed to isp1 are flushed, streams on isp2 go on.
#  B. isp1 answers again: it stays down for the hysteresis (10 rounds), then
#     comes up; the slot table is back to the configured one (every address
#     pair returns to its WAN) and no established flow moved.
#  C. tier failover: isp1 silent and isp2's carrier cut -> the tier-2 backup
#     isp3 carries new connections; carrier loss acts at once.
#  D. failback: tier 1 returns, new connections leave isp3, and a stream
#     opened over isp3 during the outage keeps flowing.
#  E. all WANs down: visible in status and logged.
# The state-change hook sees every change with its reason.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq conntrack

lab_start --wans 3 --clients 8 --servers 8
server_start
TMP=$TEST_TMP
cat >"$TMP/hook.sh" <<HOOK
#!/bin/sh
echo "\$WANLB_WAN \$WANLB_INTERFACE \$WANLB_OLD_STATE \$WANLB_NEW_STATE \$WANLB_REASON" >>"$TMP/hook.log"
HOOK
chmod +x "$TMP/hook.sh"
lab_config "$TMP/cfg.yaml" both-addresses 1 1 1 -- "hook: $TMP/hook.sh"
# isp3 is the backup tier
sed -i '/name: isp3/,$ s/    weight: 1/    weight: 1\n    tier: 2/' "$TMP/cfg.yaml"
agent_start "$TMP/cfg.yaml"

state() { wanlb_rt status --json | jq -r ".wans[] | select(.name==\"$1\") | .state"; }
is_state() { [[ $(state "$1") == "$2" ]]; }
ms_now() { date +%s%3N; }
burst_peers() { # COUNT -> sorted list of peers used
    lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 8)" --to "$(server_addrs 8)" --port "$PORT" \
        --count "$1" --json --pairs-out "$TMP/pairs" >"$TMP/burst.json" || fail "burst: $(jq -c 'del(.by_pair)' "$TMP/burst.json")"
    jq -r '.by_peer | keys | join(",")' "$TMP/burst.json"
}
stream() { # NAME FROM TO SECONDS
    lab exec cl "$WANLB_LABCONN" stream --from "$2" --to "$3" --port "$PORT" --seconds "$4" --json >"$TMP/$1.json" &
}
check_stream() { # NAME
    local s; s=$(cat "$TMP/$1.json")
    assert_eq "stream $1 ($(jq -r .peer <<<"$s")) survived" "$(jq -r .ok <<<"$s")" true
}

for w in isp1 isp2 isp3; do wait_for 5 is_state "$w" up || fail "$w not up at start"; done
assert_eq "peers with every WAN up" "$(burst_peers 128)" "10.100.1.2,10.100.2.2"
sort -u "$TMP/pairs" >"$TMP/pairs.configured"
# Streams on isp2, the WAN that survives phase A.
mapfile -t on_isp2 < <(awk '$3=="10.100.2.2" {print $1, $2}' "$TMP/pairs.configured" | sort -u -k1,1 | head -3)
((${#on_isp2[@]} >= 2)) || fail "too few address pairs on isp2"
i=0
for pair in "${on_isp2[@]}"; do i=$((i + 1)); stream "a$i" ${pair} 14; done
sleep 1

log "A: isp1's gateway goes silent; a forger on isp1 answers every probe (right id/seq, wrong payload)"
lab run isp1 spoofer "$WANLB_LABCONN" spoof-echo --dev down0 --seconds 4 >/dev/null
sleep 0.2
t0=$(ms_now)
lab wan-silent 1
wait_for 5 is_state isp1 down || fail "isp1 did not go down (forged echo replies kept it up?)"
log "isp1 down after $(($(ms_now) - t0)) ms (measured by polling status; see bench/failover_bench.sh for the real figure)"
wanlb_rt status --json | jq -e '.wans[0].reason | test("probe rounds failed")' >/dev/null || fail "reason missing"
assert_eq "peers while isp1 is down" "$(burst_peers 128)" "10.100.2.2"
assert_eq "TCP conntrack entries NATed to isp1" \
    "$(lab exec rt conntrack -L -p tcp --reply-dst 10.100.1.2 2>/dev/null | wc -l)" 0

spoofed() { grep -o '"spoofed_replies":[0-9]*' "/run/wanlb-lab/$LAB.spoofer.log" | cut -d: -f2; }
wait_for 5 spoofed >/dev/null || fail "the spoofer did not report"
assert_between "forged echo replies sent to the router" "$(spoofed)" 3 100000

log "B: isp1 answers again"
lab wan-answer 1
sleep 0.6
assert_eq "isp1 held back by the hysteresis" "$(state isp1)" down
wait_for 6 is_state isp1 up || fail "isp1 did not come back"
burst_peers 128 >/dev/null
sort -u "$TMP/pairs" >"$TMP/pairs.after"
assert_eq "every address pair back on its configured WAN" "$(cat "$TMP/pairs.after")" "$(cat "$TMP/pairs.configured")"
wait
for n in $(seq 1 $i); do check_stream "a$n"; done

log "C: tier 1 fails: isp1 silent, isp2 carrier cut"
lab wan-silent 1
t0=$(ms_now)
lab wan-down 2
wait_for 3 is_state isp2 down || fail "isp2 did not go down on carrier loss"
log "isp2 down $(($(ms_now) - t0)) ms after the carrier cut"
wanlb_rt status --json | jq -e '.wans[1].reason == "carrier lost"' >/dev/null || fail "isp2 reason not 'carrier lost'"
wait_for 5 is_state isp1 down || fail "isp1 did not go down"
assert_eq "peers with tier 1 down (backup)" "$(burst_peers 64)" "10.100.3.2"
pair=$(awk '{print $1, $2; exit}' "$TMP/pairs")
stream backup ${pair} 12
sleep 1

log "D: tier 1 returns"
lab wan-answer 1
lab wan-up 2
wait_for 8 is_state isp1 up || fail "isp1 did not come back"
wait_for 8 is_state isp2 up || fail "isp2 did not come back"
assert_eq "peers after failback" "$(burst_peers 128)" "10.100.1.2,10.100.2.2"
wait
check_stream backup
assert_eq "isp3 still up (it was never down)" "$(state isp3)" up

log "E: every WAN down"
lab wan-down 1; lab wan-down 2; lab wan-down 3
all_down() { [[ $(wanlb_rt status --json | jq -r .all_down) == true ]]; }
wait_for 3 all_down || fail "status does not show all WANs down"
grep -q "no WAN can carry traffic" "/run/wanlb-lab/$LAB.agent.log" || fail "all-down not logged"
lab wan-up 1; lab wan-up 2; lab wan-up 3

# The hook saw the changes, with reasons.
sleep 0.5
cat "$TMP/hook.log" >&2
grep -q "^isp1 wan1 up down 3 probe rounds failed in a row" "$TMP/hook.log" || fail "hook: isp1 up->down missing"
grep -q "^isp2 wan2 up down carrier lost" "$TMP/hook.log" || fail "hook: isp2 carrier loss missing"
grep -q "^isp1 wan1 down up 10 probe rounds passed in a row" "$TMP/hook.log" || fail "hook: isp1 recovery missing"
log "PASS"

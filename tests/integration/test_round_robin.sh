#!/usr/bin/env bash
# classifier: round-robin (RouterOS "nth"): every new connection takes the
# next slot of the weighted slot table, whatever its addresses and ports.
#  A. Weights 2:1, 300 connections from 64 address pairs: isp1's share is
#     within 5 points of 66.67%.
#  B. 60 consecutive connections of one address pair (one at a time) use
#     both WANs, roughly 2:1, alternating rather than in long runs (a hash
#     of the pair would put all 60 on one WAN).
#  C. With isp2 down, everything goes to isp1; back up, both again.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 2 --clients 8 --servers 8
server_start
TMP=$TEST_TMP
lab_config "$TMP/cfg.yaml" round-robin 2 1
agent_start "$TMP/cfg.yaml"
wait_state isp1 up; wait_state isp2 up
assert_eq "status classifier" "$(wanlb_rt status --json | jq -r .classifier)" round-robin

log "A: 300 connections, weights 2:1"
out=$(burst_json cl --from "$(client_addrs 8)" --to "$(server_addrs 8)" --port "$PORT" --count 300)
log "A: $(jq -c 'del(.by_pair)' <<<"$out")"
assert_eq "A: connections ok" "$(json_get "$out" .ok)" 300
isp1=$(json_get "$out" '.by_peer["10.100.1.2"] // 0')
pct=$(awk -v a="$isp1" 'BEGIN { printf "%.2f", 100 * a / 300 }')
log "A: isp1 $isp1 ($pct%), isp2 $(json_get "$out" '.by_peer["10.100.2.2"] // 0') (target 66.67% / 33.33%)"
assert_between "A: isp1 share %" "$pct" 61.67 71.67

log "B: 60 consecutive connections of one address pair"
out=$(lab exec cl "$WANLB_LABCONN" burst --from 192.168.77.10 --to 198.51.100.10 --port "$PORT" --count 60 \
    --parallel 1 --json --pairs-out "$TMP/seq") || true
assert_eq "B: connections ok" "$(json_get "$out" .ok)" 60
seq=$(awk '{ printf "%s", ($3 == "10.100.1.2") ? "1" : ($3 == "10.100.2.2") ? "2" : "?" }' "$TMP/seq")
log "B: WAN sequence $seq"
n1=$(tr -cd 1 <<<"$seq" | wc -c); n2=$(tr -cd 2 <<<"$seq" | wc -c)
switches=$(awk -v s="$seq" 'BEGIN { for (i = 2; i <= length(s); i++) n += substr(s, i, 1) != substr(s, i - 1, 1); print n + 0 }')
longest=$(awk -v s="$seq" 'BEGIN { r = m = 1; for (i = 2; i <= length(s); i++) { r = substr(s, i, 1) == substr(s, i - 1, 1) ? r + 1 : 1; if (r > m) m = r } print m }')
assert_between "B: connections on isp1" "$n1" 28 52
assert_between "B: connections on isp2" "$n2" 8 32
assert_between "B: WAN changes between consecutive connections" "$switches" 10 59
assert_between "B: longest run on one WAN" "$longest" 1 12

log "C: isp2 down"
lab wan-down 2
wait_state isp2 down 5
out=$(burst_json cl --from "$(client_addrs 8)" --to "$(server_addrs 8)" --port "$PORT" --count 100)
assert_eq "C: connections ok" "$(json_get "$out" .ok)" 100
assert_eq "C: WANs with isp2 down" "$(json_get "$out" '.by_peer | keys | join(",")')" 10.100.1.2
lab wan-up 2
wait_state isp2 up 10
out=$(burst_json cl --from 192.168.77.10 --to 198.51.100.10 --port "$PORT" --count 30 --parallel 1)
assert_eq "C: WANs after isp2 is back" "$(json_get "$out" '.by_peer | keys | join(",")')" 10.100.1.2,10.100.2.2
log "PASS"

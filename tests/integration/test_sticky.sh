#!/usr/bin/env bash
# Sticky address pairs (`sticky: pair`) with the per-connection classifier
# both-addresses-and-ports: every new connection of an address pair follows
# the WAN of the pair's earlier connections (e.g. banking sites that tie a
# session to the client's address).
#  A. Without sticky, 10 connections of each of 64 address pairs spread over
#     both WANs (most pairs use both). The pair table then has one entry, so
#     a reload that turns sticky on is refused (restart needed), and the
#     running config stays.
#  B. Restarted with sticky (the new agent adopts the running data path and
#     replaces its 1-entry pair table by a full-size one): every pair uses
#     exactly one WAN, pairs still spread over both WANs, and the `sticky`
#     counter grows.
#  C. Failover: the WAN of a pair goes silent; once it is down, the pair's
#     new connections use the survivor, and keep using it.
#  D. Recovery: once that WAN is up again, the pair stays on the survivor;
#     pairs that lived on the survivor all along never moved.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 2 --clients 8 --servers 8
server_start
TMP=$TEST_TMP

all_pairs() { # NAME: 640 connections, 10 per pair, pairs in $TMP/NAME.pairs
    local out
    out=$(lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 8)" --to "$(server_addrs 8)" --port "$PORT" \
        --count 640 --json --pairs-out "$TMP/$1.pairs") || true
    [[ -n "$out" ]] || fail "burst $1 printed nothing"
    printf '%s\n' "$out"
}
# pair_wans FILE: "src dst wan1[,wan2]" per pair
pair_wans() { awk '{ k = $1 " " $2; if ((k, $3) in seen) next; seen[k, $3] = 1
                         if (k in w) w[k] = w[k] "," $3; else w[k] = $3 }
                   END { for (k in w) print k, w[k] }' "$1" | sort; }

log "A: per-connection hashing without sticky"
lab_config "$TMP/a.yaml" both-addresses-and-ports 1 1
agent_start "$TMP/a.yaml"
out=$(all_pairs a)
log "A: $(jq -c 'del(.by_pair)' <<<"$out")"
assert_eq "A: connections ok" "$(json_get "$out" .ok)" 640
assert_eq "A: pairs" "$(json_get "$out" .pairs)" 64
assert_between "A: pairs that used both WANs" "$(json_get "$out" .pairs_inconsistent)" 48 64
lab_config "$TMP/b.yaml" both-addresses-and-ports 1 1 -- "sticky: pair" "sticky_timeout: 10m"
cp "$TMP/a.yaml" "$TMP/a.saved"
cp "$TMP/b.yaml" "$TMP/a.yaml"
set +e
msg=$(wanlb_rt reload 2>&1); rc=$?
set -e
cp "$TMP/a.saved" "$TMP/a.yaml"
assert_eq "A: reload turning sticky on: exit code" "$rc" 2
grep -q "sticky: turning sticky pairs on needs a restart" <<<"$msg" || fail "unclear message: $msg"
assert_eq "A: reload refused, sticky stays off" "$(wanlb_rt status --json | jq .agent.reload_failures)" 1
agent_stop

log "B: sticky pairs (restart; the running data path is adopted)"
agent_start "$TMP/b.yaml" agent2
grep -q "map wanlb_pairs resized 1 -> " "/run/wanlb-lab/$LAB.agent2.log" ||
    fail "the pair table was not resized: $(grep -E 'map |adopting' "/run/wanlb-lab/$LAB.agent2.log")"
grep -q "adopting the running data path" "/run/wanlb-lab/$LAB.agent2.log" || fail "the running data path was not adopted"
wait_state isp1 up; wait_state isp2 up
s0=$(counter sticky)
out=$(all_pairs b)
log "B: $(jq -c 'del(.by_pair)' <<<"$out")"
assert_eq "B: connections ok" "$(json_get "$out" .ok)" 640
assert_eq "B: pairs that used both WANs" "$(json_get "$out" .pairs_inconsistent)" 0
assert_eq "B: WANs used by the pairs" "$(json_get "$out" '.by_peer | keys | join(",")')" "10.100.1.2,10.100.2.2"
assert_between "B: sticky counter grew (connections that followed their pair)" "$(($(counter sticky) - s0))" 576 100000000
pair_wans "$TMP/b.pairs" >"$TMP/b.map"
# Many connections of one pair, in parallel: one WAN.
out=$(burst_json cl --from 192.168.77.10 --to 198.51.100.10 --port "$PORT" --count 200 --parallel 32)
assert_eq "B: 200 connections of one pair: WANs" "$(json_get "$out" '.by_peer | keys | length')" 1

log "C: the WAN of a pair goes silent"
SRC=""; DST=""
read -r SRC DST < <(awk '$3 == "10.100.1.2" { print $1, $2; exit }' "$TMP/b.map") || true
[[ -n "$SRC" ]] || fail "no pair on isp1 in: $(cat "$TMP/b.map")"
log "C: pair $SRC -> $DST is on isp1"
lab wan-silent 1
wait_state isp1 down 8
for round in 1 2; do
    out=$(burst_json cl --from "$SRC" --to "$DST" --port "$PORT" --count 30)
    assert_eq "C: pair $SRC -> $DST round $round: connections ok" "$(json_get "$out" .ok)" 30
    assert_eq "C: pair $SRC -> $DST round $round: WANs" "$(json_get "$out" '.by_peer | keys | join(",")')" 10.100.2.2
done

log "D: isp1 is back"
lab wan-answer 1
wait_state isp1 up 10
out=$(burst_json cl --from "$SRC" --to "$DST" --port "$PORT" --count 30)
assert_eq "D: pair $SRC -> $DST: connections ok" "$(json_get "$out" .ok)" 30
assert_eq "D: pair $SRC -> $DST stays on the survivor" "$(json_get "$out" '.by_peer | keys | join(",")')" 10.100.2.2
out=$(all_pairs d)
assert_eq "D: connections ok" "$(json_get "$out" .ok)" 640
assert_eq "D: pairs that used both WANs" "$(json_get "$out" .pairs_inconsistent)" 0
pair_wans "$TMP/d.pairs" >"$TMP/d.map"
assert_eq "D: pairs of isp2 that moved" \
    "$(join -j1 <(awk '$3 == "10.100.2.2" { print $1 "_" $2, $3 }' "$TMP/b.map" | sort) \
                <(awk '{ print $1 "_" $2, $3 }' "$TMP/d.map" | sort) | awk '$2 != $3' | wc -l)" 0
log "PASS"

#!/usr/bin/env bash
# Restart without loss: long transfers keep running while the agent is
# stopped and started again with the same config; no connection breaks and
# no flow changes WAN (the new agent adopts the maps held by the attached
# program, since each `ip netns exec` starts with an empty /sys/fs/bpf).
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 2 --clients 8 --servers 8 --rate 50mbit
server_start
CFG=$TEST_TMP/wanlb.yaml
OUT=$TEST_TMP/out
mkdir "$OUT"
lab_config "$CFG" both-addresses 1 1
agent_start "$CFG"

# Eight streams from eight clients, so both WANs carry some.
clients=$(client_addrs 8)
pids=()
i=0
for src in ${clients//,/ }; do
    i=$((i + 1))
    lab exec cl "$WANLB_LABCONN" stream --from "$src" --to "198.51.100.$((9 + i))" --port "$PORT" \
        --seconds 12 --json >"$OUT/stream$i.json" &
    pids+=($!)
done
sleep 2
before=$(wanlb_rt flows --json | jq -c '[.[] | select(.proto=="tcp" and .dport==18080) | {src,sport,wan}] | sort')
n_before=$(jq length <<<"$before")
assert_eq "tracked streams before restart" "$n_before" 8
assert_eq "both WANs carry streams" "$(jq '[.[].wan] | unique | length' <<<"$before")" 2
rules_before=$(lab exec rt ip rule show | sort)
# Which WAN each address pair gets for new connections (both-addresses).
pair_map() {
    lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 8)" --to "$(server_addrs 8)" --port "$PORT" \
        --count 64 --pairs-out "$OUT/pairs" --json >/dev/null || fail "burst failed"
    sort -u "$OUT/pairs"
}
pairs_before=$(pair_map)

agent_stop
sleep 2   # forwarding must go on with no agent at all
agent_start "$CFG" agent2
sleep 2

# The same eight connections (by source address and port), and their WANs.
after=$(wanlb_rt flows --json | jq -c --argjson b "$before" \
    '[.[] | {src,sport,wan} | select(. as $f | $b | map({src,sport}) | index({src: $f.src, sport: $f.sport}))] | sort')
assert_eq "flows and their WANs after restart" "$after" "$before"
assert_eq "ip rules after restart (no duplicates)" "$(lab exec rt ip rule show | sort)" "$rules_before"
assert_eq "routes in table 100" "$(lab exec rt ip route show table 100 | wc -l)" 1
assert_eq "new connections: WAN of each address pair after restart" "$(pair_map)" "$pairs_before"
grep -q "adopting the running data path" "/run/wanlb-lab/$LAB.agent2.log" || fail "agent2 did not adopt the data path"

for p in "${pids[@]}"; do wait "$p" || true; done
for i in $(seq 1 8); do
    s=$(cat "$OUT/stream$i.json")
    log "stream $i: $s"
    assert_eq "stream $i survived the restart" "$(json_get "$s" .ok)" true
    assert_between "stream $i longest stall (ms)" "$(json_get "$s" .max_gap_ms)" 0 1500
done
log "PASS"

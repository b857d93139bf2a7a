#!/usr/bin/env bash
# Aggregate throughput: 3 WANs shaped to 20 Mbit/s each (tbf at the ISPs),
# 24 clients each downloading one stream for 8 s at the same time over
# distinct address pairs (classifier both-addresses-and-ports, weights
# 1:1:1). Balancing must put the three links to work together: the sum of
# what the clients received must reach at least 75% of 60 Mbit/s (one link
# alone could give at most 20). Prints the figure and each WAN's share.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq tc

STREAMS=24
SECONDS_EACH=8
RATE_MBIT=20
lab_start --wans 3 --rate "${RATE_MBIT}mbit" --clients "$STREAMS" --servers "$STREAMS"
server_start
TMP=$TEST_TMP
lab_config "$TMP/cfg.yaml" both-addresses-and-ports 1 1 1
agent_start "$TMP/cfg.yaml"
for w in isp1 isp2 isp3; do wait_state "$w" up; done

IFS=, read -r -a C <<<"$(client_addrs "$STREAMS")"
IFS=, read -r -a S <<<"$(server_addrs "$STREAMS")"
log "starting $STREAMS streams for $SECONDS_EACH s"
pids=()
for ((j = 0; j < STREAMS; j++)); do
    lab exec cl "$WANLB_LABCONN" stream --from "${C[j]}" --to "${S[j]}" --port "$PORT" \
        --seconds "$SECONDS_EACH" --json >"$TMP/s$j.json" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done

cat "$TMP"/s*.json | jq -s -c '.[] | {peer, mbit_per_s, ok, error}' >&2 || fail "stream output is not JSON: $(cat "$TMP"/s*.json)"
all=$(cat "$TMP"/s*.json | jq -s .)
assert_eq "streams that ran to the end" "$(jq '[.[] | select(.ok)] | length' <<<"$all")" "$STREAMS"
# Aggregate: bytes of all streams over the longest elapsed time (they ran together).
total=$(jq '([.[] | .bytes] | add) * 8 / ([.[] | .elapsed_ms] | max) / 1000' <<<"$all")
log "per WAN:"
for i in 1 2 3; do
    jq -r --arg p "10.100.$i.2" \
        '[.[] | select(.peer == $p)] | "  isp'"$i"': \(length) streams, \([.[] | .mbit_per_s] | add // 0 | . * 100 | round / 100) Mbit/s"' \
        <<<"$all" >&2
done
total_fmt=$(printf '%.1f' "$total")
log "aggregate throughput: $total_fmt Mbit/s of $((3 * RATE_MBIT)) Mbit/s ($(awk -v t="$total" -v m=$((3 * RATE_MBIT)) 'BEGIN { printf "%.0f", 100 * t / m }')%)"
assert_between "aggregate Mbit/s" "$total_fmt" "$(awk -v m=$((3 * RATE_MBIT)) 'BEGIN { print 0.75 * m }')" 1000
log "PASS"

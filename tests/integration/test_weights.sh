#!/usr/bin/env bash
# Weights 2:1: the share of new connections on each WAN follows its weight.
# Measured from the far end (the address the internet server sees, i.e.
# which WAN's NAT carried the connection) and cross-checked with wanlb's own
# per-WAN counters. Bound: within 3 percentage points of the target
# (3000 connections: one standard deviation is about 0.9 points).
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 2 --clients 48 --servers 64
server_start
CFG=$TEST_TMP/wanlb.yaml

check_share() { # LABEL JSON TOTAL
    local isp1 isp2 pct
    isp1=$(json_get "$2" '.by_peer["10.100.1.2"] // 0')
    isp2=$(json_get "$2" '.by_peer["10.100.2.2"] // 0')
    assert_eq "$1: connections ok" "$((isp1 + isp2))" "$3"
    pct=$(awk -v a="$isp1" -v t="$3" 'BEGIN { printf "%.2f", 100 * a / t }')
    log "$1: isp1 $isp1 ($pct%), isp2 $isp2 (target 66.67% / 33.33%)"
    assert_between "$1: isp1 share %" "$pct" 63.67 69.67
}

# Per connection (RouterOS both-addresses-and-ports): 3000 connections.
lab_config "$CFG" both-addresses-and-ports 2 1
agent_start "$CFG"
out=$(lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 8)" --to "$(server_addrs 8)" \
    --port "$PORT" --count 3000 --json) || fail "burst failed: $(jq -c 'del(.by_pair)' <<<"$out")"
check_share "both-addresses-and-ports" "$out" 3000

# wanlb's counters agree with what the server saw.
st=$(wanlb_rt status --json)
assert_eq "status new_flows isp1" "$(json_get "$st" '.wans[] | select(.name=="isp1") | .new_flows')" \
    "$(json_get "$out" '.by_peer["10.100.1.2"]')"
assert_eq "status configured share isp1" "$(json_get "$st" '.wans[0].configured_share * 10000 | round')" 6667
agent_stop
wanlb_rt cleanup >/dev/null 2>&1

# Per address pair (the default both-addresses): 48 x 64 = 3072 pairs, one
# connection each; every pair must always use the same WAN.
lab_config "$CFG" both-addresses 2 1
agent_start "$CFG" agent2
out=$(lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 48)" --to "$(server_addrs 64)" \
    --port "$PORT" --count 3072 --json) || fail "burst failed: $(jq -c 'del(.by_pair)' <<<"$out")"
check_share "both-addresses" "$out" 3072
out2=$(lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 16)" --to "$(server_addrs 16)" \
    --port "$PORT" --count 1024 --json) || fail "second burst failed"
assert_eq "both-addresses: pairs that changed WAN" "$(json_get "$out2" .pairs_inconsistent)" 0
log "PASS"

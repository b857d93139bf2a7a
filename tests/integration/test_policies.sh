#!/usr/bin/env bash
# Policies (first match wins), in this order:
#   1. docs-bypass: destination 203.0.113.0/24           -> bypass (main table)
#   2. vip:         source 192.168.77.10/32              -> isp1
#   3. bigset:      destination file: 50,000 /31s in 198.18.0.0/15,
#                   generated here, covering 198.18.0.10 but not 198.18.200.10
#                                                        -> isp2
#   4. port18081:   tcp, destination port 18081          -> [isp2, isp1]
# Everything else is balanced (both-addresses-and-ports, 1:1).
# Checks: 198.18.0.10 only via isp2, except from 192.168.77.10 (vip comes
# first: isp1); 198.18.200.10 balanced over both; 192.168.77.10 always via
# isp1; port 18081 via isp2, and via isp1 while isp2 is down (as is
# 198.18.0.10: a policy whose WANs are all down falls back to balancing);
# 203.0.113.10 via the main table (isp1), counted as bypassed, even from
# 192.168.77.10. Logs how long the agent took to load the 50k prefixes.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq awk

PORT2=18081
lab_start --wans 2 --clients 16 --servers 8
server_start "$PORT2"
TMP=$TEST_TMP

# 50,000 /31s in 198.18.0.0/15, in order, skipping 198.18.200.0/24.
awk 'BEGIN {
    n = 0
    for (o = 0; n < 50000; o += 2) {
        b = 18 + int(o / 65536); c = int(o / 256) % 256; d = o % 256
        if (b == 18 && c == 200) continue
        printf "198.%d.%d.%d/31\n", b, c, d; n++
    } }' >"$TMP/prefixes.txt"
assert_eq "policy file: prefixes" "$(wc -l <"$TMP/prefixes.txt")" 50000
grep -qx '198.18.0.10/31' "$TMP/prefixes.txt" || fail "policy file does not cover 198.18.0.10"
! grep -q '^198\.18\.200\.' "$TMP/prefixes.txt" || fail "policy file covers 198.18.200.0/24"
log "policy file: $(head -1 "$TMP/prefixes.txt") .. $(tail -1 "$TMP/prefixes.txt")"

lab_config "$TMP/cfg.yaml" both-addresses-and-ports 1 1 -- \
    "policies:" \
    "  - name: docs-bypass" \
    "    destination: [203.0.113.0/24]" \
    "    to: bypass" \
    "  - name: vip" \
    "    source: [192.168.77.10/32]" \
    "    to: isp1" \
    "  - name: bigset" \
    "    destination: [\"file:$TMP/prefixes.txt\"]" \
    "    to: isp2" \
    "  - name: port18081" \
    "    protocol: tcp" \
    "    ports: [$PORT2]" \
    "    to: [isp2, isp1]"
sed -n '/policies:/,$p' "$TMP/cfg.yaml" >&2
wanlb_rt check -c "$TMP/cfg.yaml" >&2 || fail "wanlb check rejects the policy config"

t0=$(date +%s%3N)
AGENT_READY_TIMEOUT=90 agent_start "$TMP/cfg.yaml"
t1=$(date +%s%3N)
log "agent ready $((t1 - t0)) ms after start with 50,000 policy prefixes; its log about policies:"
grep -iE 'polic|prefix|ready' "/run/wanlb-lab/$LAB.agent.log" | sed 's/^/    /' >&2 || true
wait_state isp1 up; wait_state isp2 up

VIP=192.168.77.10
OTHERS=$(client_addrs 16 | cut -d, -f2-)   # 192.168.77.11 .. .25
peers() { json_get "$1" '.by_peer | keys | join(",")'; }
check() { # LABEL EXPECTED_PEERS COUNT BURST_ARGS...
    local label=$1 want=$2 n=$3 out
    shift 3
    out=$(burst_json cl "$@" --count "$n")
    log "$label: $(jq -c 'del(.by_pair)' <<<"$out")"
    assert_eq "$label: connections ok" "$(json_get "$out" .ok)" "$n"
    if [[ "$want" == balanced ]]; then
        assert_eq "$label: WANs" "$(peers "$out")" "10.100.1.2,10.100.2.2"
        assert_between "$label: share of isp1 (%)" \
            "$(awk -v a="$(json_get "$out" '.by_peer["10.100.1.2"]')" -v n="$n" 'BEGIN { printf "%.1f", 100 * a / n }')" 30 70
    else
        assert_eq "$label: WANs" "$(peers "$out")" "$want"
    fi
}

log "1. bigset: 198.18.0.10 via isp2"
check "to 198.18.0.10 from others" 10.100.2.2 300 --from "$OTHERS" --to 198.18.0.10 --port "$PORT"
log "2. vip comes before bigset: 192.168.77.10 -> 198.18.0.10 via isp1"
check "to 198.18.0.10 from the vip" 10.100.1.2 60 --from "$VIP" --to 198.18.0.10 --port "$PORT"
log "3. 198.18.200.10 is not in the file: balanced"
check "to 198.18.200.10 from others" balanced 400 --from "$OTHERS" --to 198.18.200.10 --port "$PORT"
log "4. vip: everything from 192.168.77.10 via isp1"
check "from the vip to the servers" 10.100.1.2 100 --from "$VIP" --to "$(server_addrs 8),198.18.200.10" --port "$PORT"
check "from the vip to port $PORT2" 10.100.1.2 40 --from "$VIP" --to "$(server_addrs 8)" --port "$PORT2"
log "5. port $PORT2 via isp2; other ports balanced"
check "port $PORT2 from others" 10.100.2.2 300 --from "$OTHERS" --to "$(server_addrs 8)" --port "$PORT2"
check "port $PORT from others" balanced 400 --from "$OTHERS" --to "$(server_addrs 8)" --port "$PORT"
log "6. bypass: 203.0.113.10 via the main table (isp1), counted"
b0=$(counter bypassed)
check "to 203.0.113.10 from others" 10.100.1.2 200 --from "$OTHERS" --to 203.0.113.10 --port "$PORT"
check "to 203.0.113.10 from the vip (bypass comes first)" 10.100.1.2 20 --from "$VIP" --to 203.0.113.10 --port "$PORT"
assert_between "bypassed counter grew" "$(($(counter bypassed) - b0))" 220 100000000
assert_eq "no flow entries for 203.0.113.10" \
    "$(wanlb_rt flows --json | jq '[.[] | select(.dst=="203.0.113.10")] | length')" 0

log "7. isp2 down: port $PORT2 and the file's prefixes fall back to isp1"
lab wan-down 2
wait_state isp2 down 5
check "port $PORT2 with isp2 down" 10.100.1.2 200 --from "$OTHERS" --to "$(server_addrs 8)" --port "$PORT2"
check "to 198.18.0.10 with isp2 down" 10.100.1.2 100 --from "$OTHERS" --to 198.18.0.10 --port "$PORT"
lab wan-up 2
wait_state isp2 up 10
check "port $PORT2 with isp2 back" 10.100.2.2 100 --from "$OTHERS" --to "$(server_addrs 8)" --port "$PORT2"
log "PASS"

#!/usr/bin/env bash
# The verbs from separate `ip netns exec` processes, and bad config: one
# clear message naming file, line and key, exit 2, and nothing applied.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 3 --clients 8 --servers 8
server_start
CFG=$TEST_TMP/wanlb.yaml
BAD=$TEST_TMP/bad.yaml

# No agent yet: status says so and exits 3.
set +e
msg=$(wanlb_rt status 2>&1); rc=$?
set -e
assert_eq "status without agent: exit code" "$rc" 3
grep -q "no running data path" <<<"$msg" || fail "status without agent: unclear message: $msg"

# check prints the plan and changes nothing.
lab_config "$CFG" both-addresses 3 2 1
plan=$(wanlb_rt check -c "$CFG") || fail "check failed"
grep -qE "^1 +isp1 +wan1 +10.100.1.1 +3 +1 +50.00%" <<<"$plan" || fail "plan lacks isp1's row: $plan"
grep -q "fwmark 0x30000/0xff0000 lookup 102" <<<"$plan" || fail "plan lacks isp3's rule"
assert_eq "rules after check" "$(lab exec rt ip rule show | wc -l)" 3

# Bad configs: message names file:line: key, exit 2, nothing applied.
bad_case() { # EXPECTED_SUBSTRING
    local out rc
    set +e
    out=$(wanlb_rt run -c "$BAD" 2>&1); rc=$?
    set -e
    assert_eq "bad config exit code ($1)" "$rc" 2
    grep -qF "$1" <<<"$out" || fail "expected '$1' in: $out"
    assert_eq "rules after rejected config" "$(lab exec rt ip rule show | wc -l)" 3
    [[ -z "$(lab exec rt tc filter show dev lan0 ingress)" ]] || fail "tc filter installed by a rejected config"
}
lab_config "$BAD" both-addresses 2 1
sed -i 's/weight: 1$/weight: 1001/' "$BAD"
bad_case "$BAD:11: wans[1].weight: 1001 is out of range"
lab_config "$BAD" both-addresses 2 1
sed -i 's/interface: wan2/interface: wan9/' "$BAD"
bad_case "$BAD:9: wans[1].interface: interface 'wan9' does not exist"
lab_config "$BAD" both-addresses 2 1 -- "colour: blue"
bad_case "$BAD:12: colour"
lab_config "$BAD" per-packet 1 1
bad_case "$BAD:2: classifier"

# With the agent: status and flows from other processes.
agent_start "$CFG"
lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 8)" --to "$(server_addrs 8)" --port "$PORT" \
    --count 300 --json >/dev/null || fail "burst failed"
st=$(wanlb_rt status --json)
assert_eq "status: WAN names" "$(json_get "$st" '[.wans[].name] | join(",")')" "isp1,isp2,isp3"
assert_eq "status: interfaces" "$(json_get "$st" '[.wans[].interface] | join(",")')" "wan1,wan2,wan3"
assert_eq "status: gateways" "$(json_get "$st" '[.wans[].gateway] | join(",")')" "10.100.1.1,10.100.2.1,10.100.3.1"
assert_eq "status: weights" "$(json_get "$st" '[.wans[].weight] | join(",")')" "3,2,1"
assert_between "status: packets on isp1" "$(json_get "$st" '.wans[0].packets')" 1 1000000000
flows_total=$(json_get "$st" '[.wans[].flows] | add')
assert_between "status: tracked flows" "$flows_total" 300 400
human=$(wanlb_rt status)
grep -qE "^isp2 +wan2 +10.100.2.1 +2 +1 +33.33% +up" <<<"$human" || fail "human status lacks isp2's row: $human"

only2=$(wanlb_rt flows --json --wan isp2)
assert_eq "flows --wan isp2: other WANs" "$(json_get "$only2" '[.[] | select(.wan != "isp2")] | length')" 0
assert_eq "flows --wan isp2: count matches status" "$(json_get "$only2" 'length')" \
    "$(json_get "$st" '.wans[1].flows')"
set +e
wanlb_rt flows --wan nosuch >/dev/null 2>&1; rc=$?
set -e
assert_eq "flows --wan nosuch: exit code" "$rc" 2
log "PASS"

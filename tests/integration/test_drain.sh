#!/usr/bin/env bash
# Drain: `wanlb drain isp1` sends no new connection to isp1 while the ones
# it carries finish; visible in status; `undrain` brings it back. Errors:
# an unknown WAN is named with the list of WANs; with no agent, reload and
# drain say so and exit 3; a user that is not root is refused by the
# control socket.
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 2 --clients 8 --servers 8
server_start
CFG=$TEST_TMP/wanlb.yaml
OUT=$TEST_TMP/out
mkdir "$OUT"
lab_config "$CFG" both-addresses 1 1

set +e
msg=$(wanlb_rt drain isp1 2>&1); rc=$?
set -e
assert_eq "drain without agent: exit code" "$rc" 3
grep -q "no wanlb agent runs in this network namespace" <<<"$msg" || fail "unclear message: $msg"

agent_start "$CFG"
peers() { burst_json cl --from "$(client_addrs 8)" --to "$(server_addrs 8)" --port "$PORT" --count 64 |
    jq -r 'if .failed > 0 then "FAILED" else (.by_peer | keys | join(",")) end'; }
assert_eq "before drain" "$(peers)" "10.100.1.2,10.100.2.2"

# Long streams on isp1 must finish undisturbed.
lab exec cl "$WANLB_LABCONN" burst --from "$(client_addrs 8)" --to "$(server_addrs 8)" --port "$PORT" \
    --count 64 --pairs-out "$OUT/pairs" >/dev/null
read -r src dst < <(awk '$3=="10.100.1.2" {print $1, $2; exit}' "$OUT/pairs")
lab exec cl "$WANLB_LABCONN" stream --from "$src" --to "$dst" --port "$PORT" --seconds 5 --json >"$OUT/s.json" &
sleep 1

out=$(wanlb_rt drain isp1) || fail "drain failed: $out"
log "$out"
assert_eq "status: drained" "$(wanlb_rt status --json | jq -r '.wans[0].drained')" true
wanlb_rt status | grep -qE "^isp1 .* up\*" || fail "human status does not mark isp1 drained"
assert_eq "new connections while isp1 is drained" "$(peers)" "10.100.2.2"
wait
assert_eq "the stream on isp1 finished" "$(jq -r .ok "$OUT/s.json")" true
assert_eq "...on isp1" "$(jq -r .peer "$OUT/s.json")" 10.100.1.2

set +e
msg=$(wanlb_rt drain nosuch 2>&1); rc=$?
set -e
assert_eq "unknown WAN: exit code" "$rc" 2
grep -q "no WAN named 'nosuch' (WANs: isp1, isp2)" <<<"$msg" || fail "unclear message: $msg"

out=$(wanlb_rt undrain isp1) || fail "undrain failed: $out"
assert_eq "status: undrained" "$(wanlb_rt status --json | jq -r '.wans[0].drained')" false
assert_eq "after undrain" "$(peers)" "10.100.1.2,10.100.2.2"

# The control socket admits root (or control_group) only.
if command -v setpriv >/dev/null; then
    set +e
    msg=$(ip netns exec "$LAB-rt" setpriv --reuid=65534 --regid=65534 --clear-groups "$WANLB_BIN" drain isp1 2>&1)
    rc=$?
    set -e
    ((rc != 0)) || fail "a non-root user could drain a WAN"
    grep -qiE "permission denied" <<<"$msg" || fail "unclear message for a non-root user: $msg"
    assert_eq "still undrained" "$(wanlb_rt status --json | jq -r '.wans[0].drained')" false
fi
log "PASS"

#!/usr/bin/env bash
# The lab itself, without wanlb: 2 WANs, router forwarding on, NAT on every
# WAN, only the main-table default route (ISP 1).  Every connection from the
# LAN must succeed and reach the internet from ISP 1's address 10.100.1.2.
# Teardown must leave no namespace of this lab behind.
# shellcheck source=lab_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lab_test_lib.sh"

need_root
need_labconn
need_cmd jq

PORT=18080
lab_start --wans 2 --forwarding --clients 8 --servers 4
P=$LAB

# The topology as built.
for role in cl rt inet isp1 isp2; do
    [[ -e /run/netns/$P-$role ]] || fail "namespace $P-$role missing"
done
assert_eq "router forwarding" "$(lab exec rt sysctl -n net.ipv4.ip_forward)" 1
assert_eq "router default route" "$(lab exec rt ip -4 route show default | awk '{print $3, $5}')" "10.100.1.1 wan1"
lab exec rt nft list table ip labnat >/dev/null || fail "nft table ip labnat missing in $P-rt"
lab exec rt nft list table ip6 labnat6 >/dev/null || fail "nft table ip6 labnat6 missing in $P-rt"

lab run inet server "$WANLB_LABCONN" serve --port "$PORT" >/dev/null
server_listening() { ip netns exec "$P-inet" ss -Htln "sport = :$PORT" | grep -q .; }
wait_for 5 server_listening || fail "server did not start listening on port $PORT"

# shellcheck source=../../deploy/lab/lab.sh
CLIENTS=$(source "$LAB_SH" && lab_client_addrs 8)
# shellcheck source=../../deploy/lab/lab.sh
SERVERS=$(source "$LAB_SH" && lab_server_addrs 4),203.0.113.10
log "burst from $CLIENTS to $SERVERS"
PAIRS=$(mktemp /tmp/wanlb-labtest.XXXXXX)
trap 'rm -f "$PAIRS"; lab_stop' EXIT
out=$(lab exec cl "$WANLB_LABCONN" burst --to "$SERVERS" --from "$CLIENTS" --port "$PORT" \
    --count 50 --parallel 16 --json --pairs-out "$PAIRS") || true
log "burst: $(jq -c 'del(.by_pair)' <<<"$out" 2>/dev/null || echo "$out")"
[[ -n "$out" ]] || fail "no output from burst"
assert_eq "total" "$(json_get "$out" .total)" 50
assert_eq "ok" "$(json_get "$out" .ok)" 50
assert_eq "failed" "$(json_get "$out" .failed)" 0
assert_eq "peers" "$(json_get "$out" '.by_peer | keys | join(",")')" "10.100.1.2"
assert_eq "peer 10.100.1.2 count" "$(json_get "$out" '.by_peer["10.100.1.2"]')" 50
assert_eq "pairs-out lines" "$(wc -l <"$PAIRS")" 50
assert_eq "pairs-out peers" "$(awk '{print $3}' "$PAIRS" | sort -u | tr '\n' ' ')" "10.100.1.2 "

# A short stream over the same path.
sout=$(lab exec cl "$WANLB_LABCONN" stream --to 198.51.100.10 --port "$PORT" --seconds 1 --json) || true
log "stream: $sout"
assert_eq "stream ok" "$(json_get "$sout" .ok)" true
assert_eq "stream peer" "$(json_get "$sout" .peer)" 10.100.1.2

# Teardown: the namespaces are gone and nothing with this prefix is left.
lab_stop
for role in cl rt inet isp1 isp2; do
    [[ ! -e /run/netns/$P-$role ]] || fail "namespace $P-$role still exists after teardown"
done
left=$(ip netns list | awk '{print $1}' | grep -c "^$P-" || true)
assert_eq "namespaces left with prefix $P" "$left" 0
[[ ! -e /run/wanlb-lab/$P.ns ]] || fail "record /run/wanlb-lab/$P.ns still exists"
[[ ! -e /run/wanlb-lab/$P.pids ]] || fail "pid record still exists"
log "PASS"

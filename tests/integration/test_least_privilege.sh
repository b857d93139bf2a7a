#!/usr/bin/env bash
# Least privilege (agent/privileges.cpp, docs/operations.md "Least
# privilege"): the agent runs under setpriv(1) with its capability bounding
# set cut to the start-up set the docs name, still as uid 0 (the state dir
# /run/wanlb, /proc/sys/net and /sys/fs/bpf are root's own files: with
# another uid they would need CAP_DAC_OVERRIDE or chowned paths, and
# /proc/sys/net files of a namespace are owned by its root). After set-up it
# holds only CAP_NET_ADMIN and CAP_NET_RAW, and everything it does at run
# time still works:
#  0. bounding set without CAP_BPF: the agent refuses to start, says why,
#     and changes nothing (no ip rule, no route table, no tc filter, no nft
#     table)
#  1. bounding set = the five + CAP_SETPCAP: it starts and balances; CapEff,
#     CapPrm and CapBnd of every thread = NET_ADMIN+NET_RAW, no_new_privs
#  2. failover (isp1 silent -> down -> new connections on isp2 -> back up)
#  3. reload (weights 1:1 -> 3:1; isp1 ARP probes, isp2 a second ICMP target:
#     fresh probe sockets opened after the drop)
#  4. a new LAN interface matching lan* gets attached and balanced
#  5. bounding set = exactly the five (no CAP_SETPCAP, as the unit's
#     CapabilityBoundingSet): effective/permitted still NET_ADMIN+NET_RAW,
#     the bounding set stays at five, no_new_privs set (an execve cannot
#     regain what was dropped); a reload still works
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq setpriv curl

# Capability bit masks (linux/capability.h).
CAP_NET_ADMIN=12 CAP_NET_RAW=13 CAP_SYS_ADMIN=21 CAP_PERFMON=38 CAP_BPF=39
KEPT=$(((1 << CAP_NET_ADMIN) | (1 << CAP_NET_RAW)))
FIVE=$((KEPT | (1 << CAP_SYS_ADMIN) | (1 << CAP_PERFMON) | (1 << CAP_BPF)))
BOUNDING_FIVE="-all,+net_admin,+net_raw,+bpf,+perfmon,+sys_admin"
if [[ -r /proc/sys/kernel/cap_last_cap ]] && (($(cat /proc/sys/kernel/cap_last_cap) < CAP_BPF)); then
    skip "kernel without CAP_BPF"
fi

lab_start --wans 2 --clients 8 --servers 8
server_start
TMP=$TEST_TMP
CFG=$TMP/wanlb.yaml
lab_config "$CFG" both-addresses 1 1 -- "metrics: 127.0.0.1:9469"
sed -i 's/^lan: \[lan0\]/lan: ["lan*"]/' "$CFG"

# agent_start_setpriv BOUNDING NAME: like agent_start, under setpriv.
agent_start_setpriv() {
    local bnd=$1 name=$2
    APID=$(lab run rt "$name" setpriv --bounding-set "$bnd" -- "$WANLB_BIN" run -c "$CFG")
    # shellcheck disable=SC2034 # read by _agent_teardown (wanlb_test_lib.sh)
    AGENT_RUNS=1
    AGENT_NAME=$name
    trap _agent_teardown EXIT
    trap '_agent_teardown; exit 130' INT
    trap '_agent_teardown; exit 143' TERM
    agent_ready() { grep -q "ready:" "/run/wanlb-lab/$LAB.$AGENT_NAME.log"; }
    wait_for 15 agent_ready || { cat "/run/wanlb-lab/$LAB.$name.log" >&2; fail "agent $name did not become ready"; }
    log "agent $name ready (bounding set $bnd)"
}
agent_log() { cat "/run/wanlb-lab/$LAB.$AGENT_NAME.log"; }
agent_pid() { wanlb_rt status --json | jq -r .agent.pid; }
# cap_field PID|PID/task/TID FIELD -> decimal value of the hex mask
cap_field() { printf '%d' "0x$(awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status")"; }
decode() { capsh --decode="$(printf '%x' "$1")" 2>/dev/null | sed 's/^0x[0-9a-f]*=//' || printf '%x' "$1"; }
# check_caps PID EFF_PRM BND: every thread of PID
check_caps() {
    local pid=$1 want=$2 bnd=$3 t n=0
    for t in /proc/"$pid"/task/*; do
        t=${t#/proc/}
        n=$((n + 1))
        [[ $(cap_field "$t" CapEff) == "$want" ]] || fail "$t CapEff = $(decode "$(cap_field "$t" CapEff)"), want $(decode "$want")"
        [[ $(cap_field "$t" CapPrm) == "$want" ]] || fail "$t CapPrm = $(decode "$(cap_field "$t" CapPrm)"), want $(decode "$want")"
        [[ $(cap_field "$t" CapBnd) == "$bnd" ]] || fail "$t CapBnd = $(decode "$(cap_field "$t" CapBnd)"), want $(decode "$bnd")"
        [[ $(cap_field "$t" CapInh) == 0 && $(cap_field "$t" CapAmb) == 0 ]] || fail "$t has inheritable/ambient capabilities"
        [[ $(awk '$1 == "NoNewPrivs:" {print $2}' "/proc/$t/status") == 1 ]] || fail "$t: no_new_privs not set"
    done
    log "ok: $n threads of pid $pid: CapEff=CapPrm=$(decode "$want") CapBnd=$(decode "$bnd") CapInh=CapAmb=0 NoNewPrivs=1"
}
routing_snapshot() {
    { lab exec rt ip rule; lab exec rt ip route show table all; lab exec rt ip -6 rule
      lab exec rt tc filter show dev lan0 ingress; lab exec rt nft list tables; } 2>&1
}
peers() { # COUNT [FROM] -> JSON by_peer
    burst_json cl --from "${2:-$(client_addrs 8)}" --to "$(server_addrs 8)" --port "$PORT" --count "$1" | jq -c .by_peer
}
peer_keys() { jq -r 'keys | join(",")' <<<"$1"; }

log "0: without CAP_BPF (and CAP_SYS_ADMIN, which the kernel accepts in its place) the agent refuses to start"
before=$(routing_snapshot)
# exited: the process lab.sh started ($APID: setsid, ip netns exec, sh,
# setpriv and wanlb all exec in place) is gone or a zombie
exited() { [[ ! -e /proc/$APID/stat || $(awk '{print $3}' "/proc/$APID/stat" 2>/dev/null) == Z ]]; }
refused_start() { # NAME PRE-COMMAND EXPECTED-ERROR...
    local name=$1 pre=$2 want msg
    shift 2
    APID=$(lab run rt "$name" sh -c "$pre exec setpriv --bounding-set -all,+net_admin,+net_raw,+perfmon -- \"\$0\" run -c \"\$1\"" \
        "$WANLB_BIN" "$CFG")
    wait_for 10 exited || fail "$name: the agent without CAP_BPF/CAP_SYS_ADMIN is still running"
    msg=$(cat "/run/wanlb-lab/$LAB.$name.log")
    printf '%s\n' "$msg" | tail -n 3 | sed "s/^/    $name: /" >&2
    for want in "$@"; do grep -qF "$want" <<<"$msg" || fail "$name: '$want' not in the agent's log"; done
    ! grep -q "ready:" <<<"$msg" || fail "$name: the agent became ready"
    [[ "$(routing_snapshot)" == "$before" ]] ||
        fail "$name: the refused start changed routing, tc or nftables: $(diff <(echo "$before") <(routing_snapshot))"
    log "ok: $name: refused; ip rules, routes, tc filters and nftables tables unchanged"
}
# A fresh /sys/fs/bpf (every ip netns exec): mounting a bpffs needs CAP_SYS_ADMIN.
refused_start nobpf-mount "" "cannot mount bpffs on /sys/fs/bpf: Operation not permitted"
# bpffs mounted beforehand (in the agent's own mount namespace): libbpf's load fails.
refused_start nobpf-load "mount -t bpf bpf /sys/fs/bpf &&" \
    "libbpf: Error in bpf_object__probe_loading():Operation not permitted" \
    "error loading the BPF program (see the verifier log above): Operation not permitted"

log "1: bounding set = the five + CAP_SETPCAP"
agent_start_setpriv "$BOUNDING_FIVE,+setpcap" agent
grep -q "dropped capabilities: kept CAP_NET_ADMIN, CAP_NET_RAW$" <(agent_log) || { agent_log >&2; fail "no 'dropped capabilities' log line"; }
PID=$(agent_pid)
[[ $(cat "/proc/$PID/comm") == wanlb ]] || fail "pid $PID is not the agent"
wait_for 5 bash -c "(( \$(ls /proc/$PID/task | wc -l) > 1 ))" || fail "no metrics threads"
check_caps "$PID" "$KEPT" "$KEPT"
for w in isp1 isp2; do wait_state "$w" up 5; done
p=$(peers 128)
assert_eq "balanced over both WANs" "$(peer_keys "$p")" "10.100.1.2,10.100.2.2"
m=$(lab exec rt curl -fsS --max-time 5 http://127.0.0.1:9469/metrics) || fail "metrics endpoint does not answer"
grep -q '^wanlb_' <<<"$m" || fail "no wanlb_ samples from the metrics endpoint"
wanlb_rt flows --json | jq -e 'length >= 64' >/dev/null || fail "status/flows over the control socket"

log "2: failover after the drop"
lab wan-silent 1
wait_state isp1 down 6
assert_eq "new connections while isp1 is down" "$(peer_keys "$(peers 64)")" "10.100.2.2"
lab wan-answer 1
wait_state isp1 up 8
assert_eq "new connections after isp1 is back" "$(peer_keys "$(peers 128)")" "10.100.1.2,10.100.2.2"

log "3: reload after the drop: weights 3:1, ARP probes on isp1, two ICMP targets on isp2"
lab_config "$CFG" both-addresses 3 1 -- "metrics: 127.0.0.1:9469"
sed -i 's/^lan: \[lan0\]/lan: ["lan*"]/' "$CFG"
sed -i 's/^    weight: 3$/    weight: 3\n    probe: {method: arp}/' "$CFG"
sed -i 's/^    weight: 1$/    weight: 1\n    probe: {targets: [gateway, 198.51.100.10], reliability: 2}/' "$CFG"
out=$(wanlb_rt reload) || fail "reload failed: $out"
log "$out"
assert_eq "weights after reload" "$(wanlb_rt status --json | jq -c '[.wans[] | {(.name): .weight}] | add')" '{"isp1":3,"isp2":1}'
sleep 2   # new probe sockets: some rounds through them
for w in isp1 isp2; do assert_eq "$w after the reload" "$(wan_state "$w")" up; done
! grep -qE " (error|warning) |not permitted" <(agent_log) || { agent_log >&2; fail "errors or warnings in the agent log"; }
p=$(peers 256)
share=$(jq -r '(.["10.100.1.2"] // 0) / ((.["10.100.1.2"] // 0) + (.["10.100.2.2"] // 0))' <<<"$p")
assert_between "isp1's share of the slot table (weight 3 of 4)" \
    "$(wanlb_rt status --json | jq -r '.wans[] | select(.name=="isp1") | .slot_share')" 0.74 0.76
# 64 address pairs behind the 256 connections: a coarse check only.
assert_between "isp1's share of new connections (weight 3 of 4)" "$share" 0.55 0.98
log "isp2 silent: its new ICMP sockets detect it"
lab wan-silent 2
wait_state isp2 down 6
lab wan-answer 2
wait_state isp2 up 8

log "4: a new LAN interface (lan7) after the drop"
attached() { lab exec rt tc filter show dev "$1" ingress 2>/dev/null | grep -q wanlb_tc_lan; }
lab exec rt ip link add lan7 type veth peer name cl7 netns "$LAB-cl"
lab exec rt ip addr add 192.168.78.1/24 dev lan7
lab exec rt ip link set lan7 up
lab exec cl ip addr add 192.168.78.10/24 dev cl7
lab exec cl ip link set cl7 up
lab exec cl ip route add default via 192.168.78.1 dev cl7 table 78
lab exec cl ip rule add from 192.168.78.10 lookup 78 pref 100
wait_for 8 attached lan7 || { agent_log >&2; fail "lan7 was not attached"; }
grep -q "attached wanlb_tc_lan to tc ingress of lan7" <(agent_log) || fail "no attach log line for lan7"
out=$(burst_json cl --from 192.168.78.10 --to "$(server_addrs 8)" --port "$PORT" --count 32)
assert_eq "connections from lan7" "$(jq -r .ok <<<"$out")" 32
# Classified by the program on lan7 (8 address pairs at weights 3:1 may
# all land on isp1, so no check of both WANs here).
assert_between "flows from lan7 in the flow table" \
    "$(wanlb_rt flows --json | jq '[.[] | select(.src=="192.168.78.10")] | length')" 32 1000
check_caps "$PID" "$KEPT" "$KEPT"

log "5: bounding set = exactly the five (no CAP_SETPCAP): restart"
agent_stop
# Fully gone, not a zombie: a new agent takes a zombie named wanlb for a
# running agent until it is reaped.
gone() { [[ ! -e /proc/$APID/stat ]]; }
wait_for 10 gone || fail "agent did not stop"
agent_start_setpriv "$BOUNDING_FIVE" agent5
grep -q "dropped capabilities: kept CAP_NET_ADMIN, CAP_NET_RAW$" <(agent_log) || fail "no 'dropped capabilities' log line"
grep -q "bounding set left as it was" <(agent_log) || fail "the kept bounding set is not logged"
PID=$(agent_pid)
check_caps "$PID" "$KEPT" "$FIVE"
for w in isp1 isp2; do wait_state "$w" up 5; done
lab_config "$CFG" both-addresses 1 1 -- "metrics: 127.0.0.1:9469"
sed -i 's/^lan: \[lan0\]/lan: ["lan*"]/' "$CFG"
wanlb_rt reload >/dev/null || fail "reload under the five failed"
assert_eq "weights after reload" "$(wanlb_rt status --json | jq -c '[.wans[] | {(.name): .weight}] | add')" '{"isp1":1,"isp2":1}'
assert_eq "balanced over both WANs" "$(peer_keys "$(peers 128)")" "10.100.1.2,10.100.2.2"
log "PASS"

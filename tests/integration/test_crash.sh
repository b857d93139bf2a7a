#!/usr/bin/env bash
# Crash recovery: the agent is killed with SIGKILL at bad moments and started
# again with the same config file; the data path keeps forwarding while no
# agent runs, and the new agent reconciles without duplicates.
#
# References first (clean runs, nothing killed): what the router holds
# (ip rules, WAN tables 100..102 and the local table 164, the nft table, the
# tc filter) with config A (weights 1:1:1) and every WAN up, with A and isp1
# down, and with config B (weights 3:1:1); and which WAN each address pair
# gets (classifier both-addresses, so a pair's WAN is fixed by the slot table).
#
#  a1. isp1 goes silent and the agent is killed 300 ms later, before the
#      probes can take isp1 down. With no agent: streams on isp2 and isp3 go
#      on, new connections of the pairs on isp2/isp3 succeed (the maps still
#      send isp1's pairs to the silent isp1). Restart: isp1 down and out of
#      the slot table within RECONCILE_MAX_MS; rules and tables identical to
#      the clean "isp1 down" reference; no connection uses isp1. isp1 answers
#      again: everything identical to the clean all-up reference, every pair
#      back on its WAN.
#  a2. the same, but the agent is killed the moment it logs isp1 going down
#      (in the middle of the failover: slot table, local table, conntrack).
#  b1. config B is written and `wanlb reload` sent; the agent is killed right
#      away. Restart: weights, slot shares, rules and tables are those of B.
#  b2. config A is written, SIGHUP and SIGKILL back to back. Restart: A.
#  c.  SIGKILL, then `wanlb cleanup`: the state file names a dead agent, so
#      cleanup runs and leaves the router as it was before the first start.
# Every reconcile time is printed (restart -> ready, ready -> maps and routes
# match the probes / the config on disk: at most RECONCILE_MAX_MS, 3 s);
# docs/robustness.md has the figures.
source "$(dirname "${BASH_SOURCE[0]}")/robust_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq conntrack

: "${RECONCILE_MAX_MS:=3000}"   # ready -> status and maps match (probes / config on disk)
: "${RESTART_MAX_MS:=15000}"    # restart -> reconciled, all in (loading the program dominates)
: "${STREAM_MAX_GAP_MS:=1500}"  # longest stall of a stream through a kill and a restart

lab_start --wans 3 --clients 8 --servers 8
server_start
TMP=$TEST_TMP
CFG=$TMP/wanlb.yaml
private_binary "$TMP"
lab_config "$TMP/A.yaml" both-addresses 1 1 1
# B: other weights and a policy with a 200000-prefix destination file (to
# isp3, addresses the lab never uses), so that a reload to B takes long
# enough to be killed in the middle of it.
awk 'BEGIN { for (i = 0; i < 200000; i++) printf "100.%d.%d.%d\n", 64 + int(i / 65536), int(i / 256) % 256, i % 256 }' >"$TMP/bulk.txt"
lab_config "$TMP/B.yaml" both-addresses 3 1 1 -- "policies:" "  - {name: bulk, destination: [file:bulk.txt], to: isp3}"
use_cfg() { cp "$TMP/$1.yaml" "$TMP/cfg.new" && mv -f "$TMP/cfg.new" "$CFG"; }
STREAM_PIDS=()
crash_teardown() {
    local p
    for p in "${STREAM_PIDS[@]}" ${ISP1_STREAM:-}; do kill "$p" 2>/dev/null || true; done
    _agent_teardown
}
ROBUST_TEARDOWN=crash_teardown
robust_traps
RESULTS=()   # "phase restart->ready ready->reconciled restart->reconciled" (ms)

PRE=$(full_snapshot)

all_up() { local w; for w in isp1 isp2 isp3; do is_state "$w" up || return 1; done; }
# isp1 down and out of the slot table, isp2 and isp3 up and in it.
isp1_out() {
    wanlb_rt status --json 2>/dev/null | jq -e '
        (.wans | map({(.name): .}) | add) as $w
        | $w.isp1.state == "down" and $w.isp1.slot_share == 0
          and $w.isp2.state == "up" and $w.isp2.slot_share > 0
          and $w.isp3.state == "up" and $w.isp3.slot_share > 0' >/dev/null
}
isp1_established() { lab exec rt conntrack -L -p tcp --state ESTABLISHED --reply-dst 10.100.1.2 2>/dev/null | grep -c . || true; }
# Every WAN up, the weights of config FILE, slot shares = configured shares.
matches_cfg() { # A|B
    local want
    if [[ $1 == A ]]; then want='{"isp1":1,"isp2":1,"isp3":1}'; else want='{"isp1":3,"isp2":1,"isp3":1}'; fi
    wanlb_rt status --json 2>/dev/null | jq -e --argjson want "$want" '
        ([.wans[] | {(.name): .weight}] | add) == $want
        and (.policies | length) == (if $want.isp1 == 3 then 1 else 0 end)
        and all(.wans[]; .state == "up" and ((.slot_share - .configured_share) | if . < 0 then -. else . end) < 0.001)' >/dev/null
}
# The pair -> WAN map for new connections (64 pairs, 2 connections each).
pair_map() {
    ip netns exec "$LAB-cl" "$WANLB_LABCONN" burst --from "$(client_addrs 8)" --to "$(server_addrs 8)" \
        --port "$PORT" --count 128 --json --pairs-out "$TMP/pairs.raw" >/dev/null || return 1
    sort -u "$TMP/pairs.raw"
}

# restart_timed PHASE NAME CONDITION...: start the agent with $CFG, report
# restart -> ready and restart -> CONDITION (polled), record them.
restart_timed() {
    local phase=$1 name=$2 t0 t_ready="" t_ok="" now
    shift 2
    t0=$(ms_now)
    agent_start_bg "$CFG" "$name"
    while :; do
        now=$(ms_now)
        [[ -n $t_ready ]] || ! grep -q "ready:" "$(agent_log "$name")" || t_ready=$((now - t0))
        if [[ -n $t_ready ]] && "$@"; then t_ok=$(($(ms_now) - t0)); break; fi
        ((now - t0 < RESTART_MAX_MS)) || { tail -n 30 "$(agent_log "$name")" >&2; fail "$phase: no reconcile within $RESTART_MAX_MS ms: $(wan_summary)"; }
        sleep 0.05
    done
    log "$phase: restart -> ready ${t_ready} ms, restart -> reconciled ${t_ok} ms ($(wan_summary))"
    RESULTS+=("$phase $t_ready $((t_ok - t_ready)) $t_ok")
    assert_between "$phase: ready -> reconciled (ms)" "$((t_ok - t_ready))" 0 "$RECONCILE_MAX_MS"
    assert_between "$phase: restart -> reconciled (ms)" "$t_ok" 0 "$RESTART_MAX_MS"
    grep -q "adopting the running data path" "$(agent_log "$name")" || fail "$phase: the new agent did not adopt the data path"
}

# Streams on a pair of isp2 and a pair of isp3 (from the reference map);
# with a third argument also one on isp1 (the WAN that fails: it is not
# expected to survive, it leaves conntrack entries NATed to isp1).
start_streams() { # TAG SECONDS [isp1]
    local tag=$1 secs=$2 wan src dst i=0
    for wan in 10.100.2.2 10.100.3.2; do
        i=$((i + 1))
        read -r src dst < <(awk -v w="$wan" '$3 == w { print $1, $2; exit }' "$TMP/pairs.ref")
        [[ -n $src ]] || fail "no reference pair on $wan"
        ip netns exec "$LAB-cl" "$WANLB_LABCONN" stream --from "$src" --to "$dst" --port "$PORT" --seconds "$secs" \
            --json >"$TMP/stream.$tag.$i.json" &
        STREAM_PIDS+=($!)
    done
    if [[ -n ${3:-} ]]; then
        read -r src dst < <(awk '$3 == "10.100.1.2" { print $1, $2; exit }' "$TMP/pairs.ref")
        ip netns exec "$LAB-cl" "$WANLB_LABCONN" stream --from "$src" --to "$dst" --port "$PORT" --seconds "$secs" \
            --json >"$TMP/isp1stream.$tag.json" &
        ISP1_STREAM=$!
    fi
    sleep 1
}
streams_running() { local p; for p in "${STREAM_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || return 1; done; }
check_streams() { # TAG
    local p f
    for p in "${STREAM_PIDS[@]}"; do wait "$p" || true; done
    if [[ -n ${ISP1_STREAM:-} ]]; then
        wait "$ISP1_STREAM" || true
        ISP1_STREAM=""
        log "$1: the stream on isp1 (not expected to survive): $(cat "$TMP/isp1stream.$1.json")"
    fi
    STREAM_PIDS=()
    for f in "$TMP"/stream."$1".*.json; do
        log "$1: stream $(cat "$f")"
        assert_eq "$1: stream via $(jq -r .peer "$f") survived the kill and the restart" "$(jq -r .ok "$f")" true
        assert_between "$1: stream's longest stall (ms)" "$(jq -r .max_gap_ms "$f")" 0 "$STREAM_MAX_GAP_MS"
    done
}
# With no agent: new connections of the pairs on live WANs go through.
check_no_agent_traffic() { # PHASE
    local r
    r=$(burst_pairs "$TMP/pairs.live" 2)
    log "$1: no agent, pairs on isp2/isp3: $r"
    assert_eq "$1: connections on live WANs with no agent failed" "$(jq -r .failed <<<"$r")" 0
    assert_eq "$1: ... and used isp2/isp3 only" "$(jq -r '.by_peer | keys - ["10.100.2.2", "10.100.3.2"] | length' <<<"$r")" 0
    r=$(burst_pairs "$TMP/pairs.isp1" 1 500)
    log "$1: no agent, pairs on isp1 (informative; the maps decide): $r"
}

# ------------------------------------------------------------- references
log "references: config B, all up (clean run)"
use_cfg B
agent_start "$CFG" refB
robust_traps
wait_for 10 matches_cfg B || fail "reference B: not reconciled: $(wan_summary)"
REF_UP_B=$(routing_snapshot)
agent_stop
wanlb_rt cleanup || fail "cleanup after reference B failed"
assert_same_snapshot "state after the reference run's cleanup" "$PRE" "$(full_snapshot)"

log "references: config A, all up and isp1 down (clean run)"
use_cfg A
t0=$(ms_now)
agent_start "$CFG" agent0
t_clean_ready=$(($(ms_now) - t0))
robust_traps
wait_for 10 matches_cfg A || fail "reference A: not reconciled: $(wan_summary)"
REF_UP_A=$(routing_snapshot)
pair_map >"$TMP/pairs.ref" || fail "reference burst failed"
awk '$3 != "10.100.1.2"' "$TMP/pairs.ref" >"$TMP/pairs.live"
awk '$3 == "10.100.1.2"' "$TMP/pairs.ref" >"$TMP/pairs.isp1"
log "reference pairs: $(wc -l <"$TMP/pairs.ref") ($(wc -l <"$TMP/pairs.isp1") on isp1)"
[[ $(awk '{print $3}' "$TMP/pairs.ref" | sort -u | wc -l) == 3 ]] || fail "the reference pairs do not use all 3 WANs"
[[ $REF_UP_A != "$REF_UP_B" ]] || log "note: config A and B give the same routing snapshot"
lab wan-silent 1
t0=$(ms_now)
wait_for 10 isp1_out || fail "reference: isp1 not out after going silent: $(wan_summary)"
t_clean_failover=$(($(ms_now) - t0))
REF_DOWN_A=$(routing_snapshot)
log "reference: clean start -> ready ${t_clean_ready} ms; silent isp1 out of the slot table after ${t_clean_failover} ms"
lab wan-answer 1
wait_for 10 all_up || fail "reference: isp1 did not come back"
assert_same_snapshot "reference: all up again" "$REF_UP_A" "$(routing_snapshot)"
use_cfg B
t0=$(ms_now); out=$(wanlb_rt reload 2>&1) || fail "reference reload to B failed: $out"
t_reload_b=$(($(ms_now) - t0))
wait_for 5 matches_cfg B || fail "reference reload to B: not applied: $(wan_summary)"
use_cfg A
t0=$(ms_now); out=$(wanlb_rt reload 2>&1) || fail "reference reload to A failed: $out"
t_reload_a=$(($(ms_now) - t0))
wait_for 5 matches_cfg A || fail "reference reload to A: not applied: $(wan_summary)"
log "reference: reload A -> B ${t_reload_b} ms, B -> A ${t_reload_a} ms (CLI round trip)"
assert_same_snapshot "reference: after reloads to B and back to A" "$REF_UP_A" "$(routing_snapshot)"
ISP1_STREAM=""

# --------------------------------------------------- a1: kill before down
log "a1: isp1 silent, agent killed 300 ms later (before the probes judge isp1)"
start_streams a1 20 isp1
lab wan-silent 1
sleep 0.3
agent_kill9 agent0
log "a1: maps right after the kill: $(wan_summary)"
check_no_agent_traffic a1
sleep 1
streams_running || fail "a1: a stream ended while no agent ran"
restart_timed a1 agent1 isp1_out
streams_running || fail "a1: a stream ended before the restarted agent reconciled (lengthen it)"
assert_same_snapshot "a1: rules and tables vs clean run with isp1 down" "$REF_DOWN_A" "$(routing_snapshot)"
r=$(burst_pairs "$TMP/pairs.ref" 1)
assert_eq "a1: all pairs' new connections after reconcile: failures" "$(jq -r .failed <<<"$r")" 0
assert_eq "a1: ... via isp1" "$(jq -r '.by_peer["10.100.1.2"] // 0' <<<"$r")" 0
assert_eq "a1: established TCP conntrack entries NATed to isp1 (flushed)" "$(isp1_established)" 0
check_streams a1
lab wan-answer 1
wait_for 10 all_up || fail "a1: isp1 did not come back"
assert_same_snapshot "a1: all up again vs clean run" "$REF_UP_A" "$(routing_snapshot)"
assert_eq "a1: every pair back on its WAN" "$(pair_map)" "$(cat "$TMP/pairs.ref")"

# --------------------------------------------------- a2: kill during down
log "a2: isp1 silent, agent killed the moment it logs isp1 down"
start_streams a2 20 isp1
n_before=$(grep -c "WAN isp1: up -> down" "$(agent_log)" || true)
lab wan-silent 1
t0=$(ms_now)
until (($(grep -c "WAN isp1: up -> down" "$(agent_log)" || true) > n_before)); do
    (($(ms_now) - t0 < 10000)) || fail "a2: isp1 did not go down"
    sleep 0.005
done
agent_kill9 agent1
log "a2: killed $(($(ms_now) - t0)) ms after going silent; log tail:"
tail -n 4 "$(agent_log agent1)" >&2
log "a2: maps right after the kill: $(wan_summary)"
check_no_agent_traffic a2
sleep 1
restart_timed a2 agent2 isp1_out
streams_running || fail "a2: a stream ended before the restarted agent reconciled (lengthen it)"
assert_same_snapshot "a2: rules and tables vs clean run with isp1 down" "$REF_DOWN_A" "$(routing_snapshot)"
r=$(burst_pairs "$TMP/pairs.ref" 1)
assert_eq "a2: all pairs' new connections after reconcile: failures" "$(jq -r .failed <<<"$r")" 0
assert_eq "a2: ... via isp1" "$(jq -r '.by_peer["10.100.1.2"] // 0' <<<"$r")" 0
assert_eq "a2: established TCP conntrack entries NATed to isp1 (flushed)" "$(isp1_established)" 0
check_streams a2
lab wan-answer 1
wait_for 10 all_up || fail "a2: isp1 did not come back"
assert_same_snapshot "a2: all up again vs clean run" "$REF_UP_A" "$(routing_snapshot)"
assert_eq "a2: every pair back on its WAN" "$(pair_map)" "$(cat "$TMP/pairs.ref")"

# --------------------------------------------------- b1: kill during reload
log "b1: config B on disk, 'wanlb reload' and SIGKILL in the middle of it"
start_streams b1 16
use_cfg B
delay_ms=$((t_reload_b / 2 > 5 ? t_reload_b / 2 : 5))
n_reloaded=$(grep -c "reloaded" "$(agent_log)" || true)
rc=0
wanlb_rt reload >"$TMP/b1.reload" 2>&1 &
rl=$!
sleep "$(awk -v d="$delay_ms" 'BEGIN { printf "%.3f", d / 1000 }')"
agent_sigkill agent2
wait "$rl" || rc=$?
agent_kill9 agent2   # waits until it is gone
if (($(grep -c "reloaded" "$(agent_log agent2)" || true) > n_reloaded)); then
    log "b1: NOTE: the reload completed before the kill (${delay_ms} ms); the restart still has to match B"
else
    log "b1: killed ${delay_ms} ms into the reload (not logged as done)"
fi
log "b1: reload CLI exit $rc ($(tr '\n' ' ' <"$TMP/b1.reload")); maps: $(wan_summary)"
sleep 1
restart_timed b1 agent3 matches_cfg B
streams_running || fail "b1: a stream ended before the restarted agent reconciled"
assert_same_snapshot "b1: rules and tables vs clean run of config B" "$REF_UP_B" "$(routing_snapshot)"
r=$(burst_pairs "$TMP/pairs.ref" 1)
assert_eq "b1: new connections after reconcile: failures" "$(jq -r .failed <<<"$r")" 0
check_streams b1

# --------------------------------------------------- b2: kill during SIGHUP
log "b2: config A on disk, SIGHUP and SIGKILL back to back"
start_streams b2 16
use_cfg A
pid=$(agent_recorded_pid agent3)
kill -HUP "$pid"
agent_kill9 agent3
log "b2: maps after the kill: $(wan_summary)"
sleep 1
restart_timed b2 agent4 matches_cfg A
streams_running || fail "b2: a stream ended before the restarted agent reconciled"
assert_same_snapshot "b2: rules and tables vs clean run of config A" "$REF_UP_A" "$(routing_snapshot)"
assert_eq "b2: every pair on its reference WAN" "$(pair_map)" "$(cat "$TMP/pairs.ref")"
check_streams b2

# --------------------------------------------------- c: kill and cleanup
log "c1: SIGKILL, the agent is reaped, then wanlb cleanup"
state_file=$(wanlb_rt status --json | jq -r .agent.state_file)
pid=$(agent_recorded_pid agent4)
assert_eq "c1: state file names the agent" "$(jq -r .agent_pid "$state_file")" "$pid"
agent_kill9 agent4
wait_for 10 test ! -e "/proc/$pid" || fail "c1: the killed agent $pid was not reaped"
[[ -f $state_file ]] || fail "c1: the state file vanished with the agent"
t0=$(ms_now)
out=$(wanlb_rt cleanup 2>&1) || fail "c1: cleanup after SIGKILL failed: $out"
t_cleanup=$(($(ms_now) - t0))
log "c1: cleanup took ${t_cleanup} ms"
assert_same_snapshot "c1: router state after cleanup vs before the first start" "$PRE" "$(full_snapshot)"
[[ ! -e $state_file ]] || fail "c1: state file $state_file left behind"
if wanlb_rt status >/dev/null 2>&1; then fail "c1: status still finds a data path after cleanup"; fi
wanlb_rt cleanup >/dev/null 2>&1 || fail "c1: a second cleanup must be a no-op"

log "c2: SIGKILL of an agent whose parent has not reaped it yet (a zombie), then wanlb cleanup"
# The agent is the child of a shell that then execs sleep: nobody wait()s
# for it until that sleep (our process) ends.
lab run rt agentz sh -c '"$0" run -c "$1" & exec sleep 300' "$WANLB_BIN" "$CFG" >/dev/null
AGENT_RUNS=1
wait_for 15 grep -q "ready:" "$(agent_log agentz)" || fail "c2: agent did not become ready"
parent=$(agent_recorded_pid agentz)
zpid=$(wanlb_rt status --json | jq -r .agent.pid)
assert_eq "c2: the agent is the child of our sleep" "$(awk '{ sub(/^.*\) /, ""); print $2 }' "/proc/$zpid/stat")" "$parent"
state_file=$(wanlb_rt status --json | jq -r .agent.state_file)
kill -KILL "$zpid"
is_zombie() { [[ $(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$zpid/stat" 2>/dev/null) == Z ]]; }
wait_for 5 is_zombie || fail "c2: the killed agent did not become a zombie"
zrc=0
zout=$(wanlb_rt cleanup 2>&1) || zrc=$?
log "c2: cleanup with the killed agent still a zombie: exit $zrc $(tr '\n' ' ' <<<"$zout")"
# The same for a new agent started while its killed predecessor is a zombie.
zrun=ok
if ((zrc != 0)) && is_zombie; then
    lab run rt agentzr "$WANLB_BIN" run -c "$CFG" >/dev/null
    zr_done() { grep -qE "ready:|another wanlb agent" "$(agent_log agentzr)"; }
    wait_for 15 zr_done || true
    if grep -q "another wanlb agent" "$(agent_log agentzr)"; then
        zrun="refused: $(grep -m1 "another wanlb agent" "$(agent_log agentzr)" | cut -d' ' -f3-)"
    else
        lab stop agentzr >/dev/null 2>&1 || true   # it started: stop it (SIGTERM), cleanup follows
    fi
    log "c2: wanlb run with the killed agent still a zombie: $zrun"
fi
lab stop agentz >/dev/null 2>&1 || true   # ends our sleep: the zombie is reaped
wait_for 10 test ! -e "/proc/$zpid" || fail "c2: the zombie $zpid was not reaped"
if ((zrc != 0)); then
    out=$(wanlb_rt cleanup 2>&1) || fail "c2: cleanup failed even after the agent was reaped: $out"
fi
assert_same_snapshot "c2: router state after cleanup vs before the first start" "$PRE" "$(full_snapshot)"
[[ ! -e $state_file ]] || fail "c2: state file $state_file left behind"
AGENT_RUNS=0

echo "==================== crash summary ====================" >&2
echo "clean start -> ready: ${t_clean_ready} ms; clean silent failover (isp1 out of the slot table): ${t_clean_failover} ms" >&2
printf '%-6s %16s %20s %22s\n' phase "restart->ready" "ready->reconciled" "restart->reconciled" >&2
for r in "${RESULTS[@]}"; do printf '%-6s %13s ms %17s ms %19s ms\n' $r >&2; done
echo "reload A -> B (200000 policy prefixes): ${t_reload_b} ms; B -> A: ${t_reload_a} ms" >&2
echo "cleanup after SIGKILL: ${t_cleanup} ms; with the killed agent still a zombie: cleanup exit ${zrc}, run: ${zrun}" >&2
echo "========================================================" >&2
# A killed agent that its parent has not reaped yet is dead: it can install
# nothing. cleanup must not refuse because of it (agent_alive() in
# agent/state_store.cpp reads only /proc/PID/comm, which a zombie still has).
((zrc == 0)) || fail "c2: cleanup refused while the SIGKILLed agent was a zombie (exit $zrc): $zout"
log "PASS"

#!/usr/bin/env bash
# Soak: about three minutes of everything at once on a small flow table.
#
# A lab with 3 WANs, `flow_table_size: 1024` (the minimum) and the classifier
# both-addresses-and-ports. After a 10 s warm-up the agent's RSS and fd count
# and everything it installed (ip rules, proto-201 routes, the nft table, the
# tc filter, its pins) are recorded. Then, for SOAK_SECONDS (default 180), in
# parallel:
#   - flow churn: a burst of BURST_COUNT (200) new TCP connections every
#     BURST_EVERY_MS (800 ms) from 16 clients to 16 servers: tens of
#     thousands of connections, well over 10x the flow table;
#   - flaps on rotating WANs, one change every 3 s: a WAN is impaired for
#     3 s (carrier cut and gateway silence alternately), restored, and 3 s
#     later the next WAN is impaired; every 4th cycle a second WAN is
#     impaired with it (the other kind). One WAN is always left alone;
#   - `wanlb reload` every RELOAD_EVERY_S (20 s), weights alternating
#     1:1:1 and 3:2:1.
# Then every WAN is restored and the first config reloaded, and the test
# asserts: the agent never died (same pid); every burst outside the flap
# windows succeeded for >= 99% of its connections; bursts inside a flap
# window succeeded for >= FLAP_MIN_PCT (95%) in total; the per-WAN new_flows
# counters grew by at least the number of successful connections; ip rules,
# the proto-201 route count, the nft table, the tc filter and the pins are as
# after the warm-up; the fd count is back to the warm-up value (+-2); RSS
# grew by less than RSS_MAX_GROWTH_KB (8 MiB).
#
# A flap window is the part of the run where failures are expected and
# excused: a burst is in one if it started between 100 ms before and
# GRACE_IMPAIR_MS (2500 ms) after a WAN was impaired (a silent gateway is out
# of the slot table after ~1.1 s, so a SYN sent to it just before that is
# lost, and its 1 s retransmit may be too; such a connection then fails by its
# 3 s timeout), or within GRACE_RESTORE_MS (1000 ms) of a restore. See
# docs/robustness.md for the bounds and the figures measured.
source "$(dirname "${BASH_SOURCE[0]}")/robust_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq awk

: "${SOAK_SECONDS:=180}"
: "${BURST_COUNT:=200}"
: "${BURST_EVERY_MS:=800}"
: "${RELOAD_EVERY_S:=20}"
: "${GRACE_IMPAIR_MS:=2500}"
: "${GRACE_RESTORE_MS:=1000}"
: "${STABLE_MIN_PCT:=99}"
: "${FLAP_MIN_PCT:=95}"
: "${RSS_MAX_GROWTH_KB:=8192}"
FLOW_TABLE=1024

lab_start --wans 3 --clients 16 --servers 16
server_start
TMP=$TEST_TMP
CFG=$TMP/wanlb.yaml
private_binary "$TMP"
write_cfg() { # W1 W2 W3: written next to CFG, then renamed over it (atomic)
    lab_config "$TMP/cfg.new" both-addresses-and-ports "$1" "$2" "$3" -- "flow_table_size: $FLOW_TABLE"
    mv -f "$TMP/cfg.new" "$CFG"
}
write_cfg 1 1 1
agent_start "$CFG"

LOOP_PIDS=()
soak_teardown() {
    local p
    for p in "${LOOP_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    _agent_teardown
}
ROBUST_TEARDOWN=soak_teardown
robust_traps

CLIENTS=$(client_addrs 16)
SERVERS=$(server_addrs 16)
burst_once() { # COUNT -> compact JSON without by_pair; never fails
    local out rc=0
    out=$(ip netns exec "$LAB-cl" "$WANLB_LABCONN" burst --from "$CLIENTS" --to "$SERVERS" --port "$PORT" \
        --count "$1" --parallel 32 --timeout-ms 3000 --json 2>/dev/null) || rc=$?
    if [[ -n "$out" ]]; then
        jq -c --argjson rc "$rc" '{rc: $rc, total, ok, failed, by_peer, errors}' <<<"$out"
    else
        echo "{\"rc\":$rc,\"total\":$1,\"ok\":0,\"failed\":$1,\"by_peer\":{},\"errors\":{\"no output\":$1}}"
    fi
}
for w in isp1 isp2 isp3; do wait_state "$w" up 10; done

PID=$(agent_pid)
assert_eq "status reports the agent lab.sh started" "$PID" "$(agent_recorded_pid agent)"
log "warm-up: 10 s with traffic"
warm_end=$(($(ms_now) + 10000))
while (($(ms_now) < warm_end)); do burst_once "$BURST_COUNT" >/dev/null; sleep 0.5; done
sleep 1

new_flows_sum() { wanlb_rt status --json | jq '[.wans[].new_flows] | add'; }
leak_view() {
    echo "== ip rule"; lab exec rt ip rule show; lab exec rt ip -6 rule show
    echo "== proto 201 routes: $(lab exec rt ip route show table all | grep -c 'proto 201' || true)"
    echo "== proto 201 routes (v6): $(lab exec rt ip -6 route show table all | grep -c 'proto 201' || true)"
    echo "== nft table inet wanlb lines: $(lab exec rt nft list table inet wanlb | wc -l)"
    echo "== tc filter lan0 ingress"; lab exec rt tc filter show dev lan0 ingress | tc_norm
    echo "== pins"; agent_pins "$PID"
}
RSS0=$(proc_rss_kb "$PID")
FDS0=$(proc_fds "$PID")
VIEW0=$(leak_view)
NF0=$(new_flows_sum)
log "after warm-up: RSS ${RSS0} kB, ${FDS0} fds, new_flows ${NF0}"
echo "$VIEW0" >&2
grep -q wanlb_tc_lan <<<"$VIEW0" || fail "no tc filter after warm-up"
grep -q "lookup 100 proto 201" <<<"$VIEW0" || fail "no fwmark rule after warm-up"

START=$(ms_now)
END=$((START + SOAK_SECONDS * 1000))
log "soak: ${SOAK_SECONDS} s of churn, flaps and reloads"

churn_loop() {
    local ts te j
    while (($(ms_now) < END)); do
        ts=$(ms_now)
        j=$(burst_once "$BURST_COUNT")
        te=$(ms_now)
        echo "$ts $te $j" >>"$TMP/churn.log"
        local rest=$((ts + BURST_EVERY_MS - $(ms_now)))
        ((rest <= 0)) || sleep "$(awk -v r="$rest" 'BEGIN { printf "%.3f", r / 1000 }')"
    done
}

impair() { # I KIND
    if [[ $2 == carrier ]]; then lab wan-down "$1"; else lab wan-silent "$1"; fi
    echo "$(ms_now) impair $1 $2" >>"$TMP/flaps.log"
}
restore() { # I KIND
    if [[ $2 == carrier ]]; then lab wan-up "$1"; else lab wan-answer "$1"; fi
    echo "$(ms_now) restore $1 $2" >>"$TMP/flaps.log"
}
flap_loop() {
    local c=0 k k2 kind kind2
    while (($(ms_now) + 6000 <= END)); do
        k=$((c % 3 + 1))
        if ((c % 2 == 0)); then kind=carrier kind2=silent; else kind=silent kind2=carrier; fi
        k2=""
        ((c % 4 != 3)) || k2=$((k % 3 + 1))
        impair "$k" "$kind"
        [[ -z $k2 ]] || impair "$k2" "$kind2"
        sleep 3
        restore "$k" "$kind"
        [[ -z $k2 ]] || restore "$k2" "$kind2"
        sleep 3
        c=$((c + 1))
    done
}

reload_loop() {
    local n=0 out rc
    while (($(ms_now) + RELOAD_EVERY_S * 1000 <= END)); do
        sleep "$RELOAD_EVERY_S"
        n=$((n + 1))
        if ((n % 2)); then write_cfg 3 2 1; else write_cfg 1 1 1; fi
        rc=0
        out=$(wanlb_rt reload 2>&1) || rc=$?
        echo "$(ms_now) $rc $((n % 2)) $out" >>"$TMP/reloads.log"
    done
}

sample_loop() {
    while (($(ms_now) < END)); do
        echo "$(($(ms_now) - START)) $(proc_rss_kb "$PID" 2>/dev/null || echo dead) $(proc_fds "$PID")" >>"$TMP/rss.log"
        sleep 10
    done
}

: >"$TMP/churn.log"; : >"$TMP/flaps.log"; : >"$TMP/reloads.log"; : >"$TMP/rss.log"
churn_loop & LOOP_PIDS+=($!)
flap_loop & LOOP_PIDS+=($!)
reload_loop & LOOP_PIDS+=($!)
sample_loop & LOOP_PIDS+=($!)
for p in "${LOOP_PIDS[@]}"; do wait "$p" || fail "a soak loop (pid $p) failed"; done
LOOP_PIDS=()
log "soak over after $((($(ms_now) - START) / 1000)) s"

# ------------------------------------------------------------------ checks
pid_alive "$PID" || { tail -n 50 "$(agent_log)" >&2; fail "the agent (pid $PID) died during the soak"; }
assert_eq "agent pid unchanged (never restarted)" "$(agent_pid)" "$PID"

# Back to the warm-up state: every WAN up, the first config.
rel_sent=$(wc -l <"$TMP/reloads.log")
rel_bad=$(awk '$2 != 0' "$TMP/reloads.log" | wc -l)
if [[ $(tail -n 1 "$TMP/reloads.log" | awk '{print $3}') == 1 ]]; then
    write_cfg 1 1 1
    out=$(wanlb_rt reload 2>&1) || fail "final reload failed: $out"
    rel_sent=$((rel_sent + 1))
fi
for w in isp1 isp2 isp3; do wait_state "$w" up 15; done
assert_eq "weights back to the first config" "$(wan_weights)" '{"isp1":1,"isp2":1,"isp3":1}'
sleep 2

RSS1=$(proc_rss_kb "$PID")
HWM1=$(proc_hwm_kb "$PID")
FDS1=$(proc_fds "$PID")
VIEW1=$(leak_view)
NF1=$(new_flows_sum)
ST=$(wanlb_rt status --json)

# Bursts: stable ones vs the ones in a flap window.
awk -v gi="$GRACE_IMPAIR_MS" -v gr="$GRACE_RESTORE_MS" -v out="$TMP/classified" '
    FILENAME ~ /flaps/ { t[++n] = $1; kind[n] = $2; next }
    {
        ts = $1; te = $2; json = $0; sub(/^[0-9]+ [0-9]+ /, "", json)
        match(json, /"total":[0-9]+/); tot = substr(json, RSTART + 8, RLENGTH - 8)
        match(json, /"ok":[0-9]+/); ok = substr(json, RSTART + 5, RLENGTH - 5)
        near = 0; off = ""
        for (i = 1; i <= n; i++) {
            g = (kind[i] == "impair") ? gi : gr
            if (ts <= t[i] + g && te >= t[i] - 100) near = 1
            # offset of the burst start from the last impairment before it
            if (kind[i] == "impair" && t[i] <= te) off = ts - t[i]
        }
        printf "%d %d %d %d %s\n", near, tot, ok, te - ts, off > out
    }' "$TMP/flaps.log" "$TMP/churn.log"
read -r n_bursts conn_total conn_ok < <(awk '{ b++; t += $2; o += $3 } END { print b + 0, t + 0, o + 0 }' "$TMP/classified")
read -r st_bursts st_total st_ok st_worst < <(awk '$1 == 0 { b++; t += $2; o += $3; p = 100 * $3 / $2; if (w == "" || p < w) w = p }
    END { printf "%d %d %d %.2f\n", b, t, o, (w == "" ? 100 : w) }' "$TMP/classified")
read -r fl_bursts fl_total fl_ok fl_worst < <(awk '$1 == 1 { b++; t += $2; o += $3; p = 100 * $3 / $2; if (w == "" || p < w) w = p }
    END { printf "%d %d %d %.2f\n", b, t, o, (w == "" ? 100 : w) }' "$TMP/classified")
n_impair=$(grep -c impair "$TMP/flaps.log" || true)
n_carrier=$(grep -c "impair [0-9] carrier" "$TMP/flaps.log" || true)
n_silent=$(grep -c "impair [0-9] silent" "$TMP/flaps.log" || true)

log "success by burst start - last impairment (ms): bucket bursts conns ok pct"
awk '$5 != "" { b = int($5 / 500) * 500; if ($5 < 0) b = -500; nb[b]++; t[b] += $2; o[b] += $3 }
    END { for (k in nb) printf "  %6d..%6d %4d %6d %6d %7.2f%%\n", k, k + 500, nb[k], t[k], o[k], 100 * o[k] / t[k] }' \
    "$TMP/classified" | sort -n >&2
log "stable bursts below 100%:"
awk '$1 == 0 && $3 < $2' "$TMP/classified" >&2 || true
log "failure reasons (all bursts):"
sed -E 's/^[0-9]+ [0-9]+ //' "$TMP/churn.log" | jq -s -r 'map(.errors | to_entries[]) | group_by(.key) |
    map("  \(.[0].key): \(map(.value) | add)") | .[]' >&2 || true
log "RSS samples (s since start, kB, fds):"
awk '{ printf "  %5.0f s %6s kB %3s fds\n", $1 / 1000, $2, $3 }' "$TMP/rss.log" >&2

cat >&2 <<EOF
==================== soak summary ====================
duration            ${SOAK_SECONDS} s, flow_table_size ${FLOW_TABLE}, classifier both-addresses-and-ports
connections         ${conn_total} attempted, ${conn_ok} ok in ${n_bursts} bursts of ${BURST_COUNT}
  outside flaps     ${st_total} in ${st_bursts} bursts: $(awk -v o="$st_ok" -v t="$st_total" 'BEGIN { printf "%.3f", t ? 100 * o / t : 100 }')% ok, worst burst ${st_worst}%
  in flap windows   ${fl_total} in ${fl_bursts} bursts: $(awk -v o="$fl_ok" -v t="$fl_total" 'BEGIN { printf "%.3f", t ? 100 * o / t : 100 }')% ok, worst burst ${fl_worst}%
flaps               ${n_impair} impairments (${n_carrier} carrier cuts, ${n_silent} silent gateways), as many restores
reloads             ${rel_sent} sent, ${rel_bad} failed; agent counts $(jq -r .agent.reloads <<<"$ST") ok, $(jq -r .agent.reload_failures <<<"$ST") refused
state changes       $(jq -r .agent.state_changes <<<"$ST")
new_flows           +$((NF1 - NF0)) over the soak (successful connections: ${conn_ok})
flow entries        $(jq -r .flow_entries <<<"$ST") (table size ${FLOW_TABLE})
RSS                 ${RSS0} kB -> ${RSS1} kB ($((RSS1 - RSS0)) kB; VmHWM ${HWM1} kB)
fds                 ${FDS0} -> ${FDS1}
agent log           $(wc -l <"$(agent_log)") lines, $(grep -ciE ' (warn|warning|error) ' "$(agent_log)" || true) warnings/errors
=======================================================
EOF

assert_between "connections attempted (>= 10x flow_table_size)" "$conn_total" $((10 * FLOW_TABLE)) 100000000
assert_between "impairments (>= one per 8 s)" "$n_impair" $((SOAK_SECONDS / 8)) 100000
((n_carrier > 0 && n_silent > 0)) || fail "both kinds of flap must have run (carrier $n_carrier, silent $n_silent)"
assert_between "stable bursts" "$st_bursts" 10 100000
assert_between "worst stable burst success (%)" "$st_worst" "$STABLE_MIN_PCT" 100
assert_between "success in flap windows (%)" \
    "$(awk -v o="$fl_ok" -v t="$fl_total" 'BEGIN { printf "%.3f", t ? 100 * o / t : 100 }')" "$FLAP_MIN_PCT" 100
assert_eq "reloads refused by the CLI" "$rel_bad" 0
assert_eq "reloads the agent applied" "$(jq -r .agent.reloads <<<"$ST")" "$rel_sent"
assert_eq "reloads the agent refused" "$(jq -r .agent.reload_failures <<<"$ST")" 0
assert_between "new_flows over the soak minus successful connections" "$((NF1 - NF0 - conn_ok))" 0 100000000
assert_between "flow entries (LRU bounded)" "$(jq -r .flow_entries <<<"$ST")" 0 "$FLOW_TABLE"
assert_same_snapshot "rules, routes, nft table, tc filter and pins" "$VIEW0" "$VIEW1"
assert_between "fd count after the soak (warm-up: $FDS0)" "$FDS1" $((FDS0 - 2)) $((FDS0 + 2))
assert_between "RSS growth (kB)" "$((RSS1 - RSS0))" -1000000 "$RSS_MAX_GROWTH_KB"
pid_alive "$PID" || fail "the agent died"
log "PASS"

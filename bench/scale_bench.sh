#!/usr/bin/env bash
# Scale benchmark: a 1M-entry flow table, 64 WANs, how fast a weight change
# or a failover reaches the maps (and whether a packet is lost meanwhile),
# and what the agent costs at rest.
#
#  (a) flow table (build/wanlb-bench-scale fill; BPF_PROG_TEST_RUN on its own
#      copy of the data path, nothing attached): flow_table_size 1048576,
#      memory per flow from the maps' `memlock:` in /proc/self/fdinfo before
#      and after the fill, established-packet cost at 1k and at 1M entries,
#      and what happens when the table is full (new flows classified? oldest
#      evicted? evictions = entries before + new flows - entries after: the
#      data path has no eviction counter).
#  (b) 64 WANs: `wanlb check` accepts the config; the agent starts with 64
#      WAN links (64 veth pairs into one sink namespace) and 65536 new UDP
#      flows spread over all of them (per-WAN new_flows from `wanlb status`);
#      slot table build time (wanlb-bench-scale slots, build_slot_table as
#      the agent calls it) and the agent's start-up from its log.
#  (c) 8 of those WANs: a weight change (`wanlb reload`) and a failover
#      (carrier cut on a WAN link) while 4 UDP flows run at a constant
#      20,000 packets/s through the router. wanlb-bench-scale watch (in the
#      router namespace) polls every 64th slot of wanlb_slots through the
#      attached program's map fd (1025 lookups per poll), starts the trigger
#      command and reports when the table changed, from the moment the
#      command started (so the figure includes starting `wanlb reload` or
#      `ip`, and the agent's reaction).
#      Sent (generator) vs received (nft counter of UDP in the sink
#      namespace) across the change.
#  (d) a fresh agent with 8 WANs at rest, default probing (ICMP every 200 ms
#      per WAN): CPU from /proc/PID/stat utime+stime over --rest-seconds
#      (default 60), VmRSS sampled every 10 s.
#
# Namespaces: prefix wsb + random hex (generator, router, sink), addresses in
# 198.18.0.0/15 only; everything made is deleted on exit.
# Usage: bench/scale_bench.sh [--markdown docs/benchmarks.md] [--rest-seconds N] [--only PARTS]
#   --only c (or any of a, b, c, d, e.g. "ac"): run only those parts and print
#   their tables (not with --markdown, which writes the whole section).
# Env: WANLB_BIN, WANLB_PKTGEN, WANLB_BENCH_SCALE override the binaries.
set -euo pipefail
# shellcheck source=md_section.sh
source "$(dirname "${BASH_SOURCE[0]}")/md_section.sh"
# shellcheck source=ns_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ns_lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MARKDOWN=""
REST=60
NWANS=64
PARTS=abcd
while (($#)); do
    case "$1" in
        --markdown) MARKDOWN=$2; shift 2 ;;
        --rest-seconds) REST=$2; shift 2 ;;
        --only) PARTS=$2; shift 2 ;;
        *) echo "usage: $0 [--markdown FILE] [--rest-seconds N] [--only PARTS]" >&2; exit 2 ;;
    esac
done
[[ "$PARTS" =~ ^[abcd]+$ ]] || { echo "--only takes parts among a, b, c, d (e.g. c, ac)" >&2; exit 2; }
[[ -z "$MARKDOWN" || "$PARTS" == abcd ]] || { echo "--markdown needs every part (no --only)" >&2; exit 2; }
part() { [[ "$PARTS" == *"$1"* ]]; }
[[ $EUID -eq 0 ]] || { echo "scale_bench: needs root (BPF, network namespaces); skipped"; exit 0; }
[[ "$REST" =~ ^[0-9]+$ ]] && ((REST >= 10 && REST <= 600)) || { echo "--rest-seconds must be 10..600" >&2; exit 2; }
WANLB=${WANLB_BIN:-$ROOT/build/wanlb}
PKTGEN=${WANLB_PKTGEN:-$ROOT/build/wanlb-pktgen}
SCALE=${WANLB_BENCH_SCALE:-$ROOT/build/wanlb-bench-scale}
for b in "$WANLB" "$PKTGEN" "$SCALE"; do
    [[ -x "$b" ]] || { echo "scale_bench: $b missing; build it: cmake --build build --target $(basename "$b")" >&2; exit 1; }
done
for t in ip nft jq; do command -v "$t" >/dev/null || { echo "scale_bench: '$t' not found" >&2; exit 1; }; done

bench_ns_init scale_bench wsb
started=$(date +%s)

# ------------------------------------------------------------------ (a)
if part a; then
    log "(a) filling a 1,048,576-entry flow table (BPF_PROG_TEST_RUN)"
    "$SCALE" fill --entries 1048576 --extra 65536 --samples 100000 >"$TMP/fill.json"
    FILL=$(tr -d '\n' <"$TMP/fill.json")
    jq . <<<"$FILL" >&2
    SLOTS64=$("$SCALE" slots --wans 64 --rounds 5)
    SLOTS8=$("$SCALE" slots --wans 8 --rounds 5)
    log "slot table build: 64 WANs $SLOTS64; 8 WANs $SLOTS8"
fi

# ------------------------------------------------------------------ topology
if [[ "$PARTS" == *[bcd]* ]]; then
    log "building topology $P (generator, router with $NWANS WAN links, sink)"
    mkns "$GEN"; mkns "$RT"; mkns "$SNK"
    ip -n "$RT" link add lan0 type veth peer name eth0 netns "$GEN"
    ip -n "$RT" addr add 198.18.0.1/24 dev lan0
    ip -n "$GEN" addr add 198.18.0.2/24 dev eth0
    ip -n "$RT" link set lan0 up
    ip -n "$GEN" link set eth0 up
    batch_rt="" batch_snk=""
    for ((i = 1; i <= NWANS; i++)); do
        ip -n "$RT" link add "wan$i" type veth peer name "s$i" netns "$SNK"
        batch_rt+="addr add 198.18.$i.2/24 dev wan$i"$'\n'"link set wan$i up"$'\n'
        batch_snk+="addr add 198.18.$i.1/24 dev s$i"$'\n'"link set s$i up"$'\n'
    done
    printf '%s' "$batch_rt" | ip -n "$RT" -batch -
    printf '%s' "$batch_snk" | ip -n "$SNK" -batch -
    ip -n "$RT" route add default via 198.18.1.1 dev wan1
    in_ns "$RT" sysctl -qw net.ipv4.ip_forward=1
    in_ns "$SNK" nft -f - <<'EOF'
    table inet fbsink {
      chain pre {
        type filter hook prerouting priority -300; policy accept;
        meta l4proto udp counter drop
      }
    }
EOF
    LAN_MAC=$(in_ns "$RT" cat /sys/class/net/lan0/address)
    sink_udp() { in_ns "$SNK" nft -j list table inet fbsink | jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add'; }

    config() { # FILE N [WEIGHT_OF_WAN1]
        local file=$1 n=$2 w1=${3:-1} i
        {
            echo "lan: [lan0]"
            echo "classifier: both-addresses"
            echo "wans:"
            for ((i = 1; i <= n; i++)); do
                printf '  - name: isp%d\n    interface: wan%d\n    gateway: 198.18.%d.1\n    weight: %d\n' \
                    "$i" "$i" "$i" "$([[ $i == 1 ]] && echo "$w1" || echo 1)"
            done
        } >"$file"
    }
    status_json() { in_ns "$RT" "$WANLB" status --json; }
    all_up() { [[ $(status_json | jq '[.wans[] | select(.state != "up")] | length') == 0 ]]; }
    wait_all_up() { local i; for ((i = 0; i < 100; i++)); do all_up && return 0; sleep 0.2; done; return 1; }
    # ms between two log lines' timestamps (first match of each regex)
    log_ts_ms() { grep -m1 -E "$1" "$TMP/agent.log" | awk '{split($1, a, "T"); split(a[2], t, ":"); printf "%.0f\n", (t[1] * 3600 + t[2] * 60 + t[3]) * 1000}'; }
fi

# ------------------------------------------------------------------ (b)
if part b; then
    config "$TMP/w64.yaml" "$NWANS"
    CHECK64_RC=0
    in_ns "$RT" "$WANLB" check -c "$TMP/w64.yaml" >"$TMP/check64.txt" 2>&1 || CHECK64_RC=$?
    log "(b) wanlb check with $NWANS WANs: rc $CHECK64_RC"
    agent_start "$TMP/w64.yaml"
    STARTUP64_MS=$((READY_MS - START_MS))
    SLOTLINE64=$(grep -m1 "slot table:" "$TMP/agent.log" | cut -d' ' -f3- || true)
    t_first=$(log_ts_ms '.'); t_slot=$(log_ts_ms 'slot table:'); t_ready=$(log_ts_ms 'ready:')
    LOG_FIRST_TO_SLOTS=$((t_slot - t_first)); LOG_FIRST_TO_READY=$((t_ready - t_first))
    wait_all_up || log "not every WAN is up: $(status_json | jq -c '[.wans[] | select(.state != "up") | .name]')"
    log "agent ready in $STARTUP64_MS ms (log: first line -> slot table $LOG_FIRST_TO_SLOTS ms, -> ready $LOG_FIRST_TO_READY ms)"
    in_ns "$GEN" "$PKTGEN" --dev eth0 --dst-mac "$LAN_MAC" --src 198.18.0.16 --src-count 16 --dst 198.19.0.0 \
        --dst-count 65536 --flows 65536 --sport 20000 --rate 60000 --seconds 3 >"$TMP/gen64.json"
    sleep 0.5
    status_json >"$TMP/status64.json"
    SPREAD64=$(jq -c --argjson n "$NWANS" '[.wans[] | .new_flows] as $f | {wans: ($f | length),
        used: ([$f[] | select(. > 0)] | length), total: ($f | add), min: ($f | min), max: ($f | max),
        expected: (($f | add) / $n)}' "$TMP/status64.json")
    log "65536 new flows over $NWANS WANs: $SPREAD64"
    agent_stop
fi

# ------------------------------------------------------------------ (c)
if part c; then
    config "$TMP/w8.yaml" 8
    cp "$TMP/w8.yaml" "$TMP/w8a.yaml"
    config "$TMP/w8b.yaml" 8 3
    agent_start "$TMP/w8.yaml" --log-level debug  # debug: the reload's "timing" line
    wait_all_up || log "not every WAN up before (c)"
    sleep 1
    # scenario NAME TRIGGER... : constant 16-flow UDP stream, trigger after 2 s,
    # watch the slot table, count sent vs received.
    declare -a CROWS
    scenario() {
        local name=$1 rx0 rx1 sent watch
        shift
        rx0=$(sink_udp)
        in_ns "$GEN" "$PKTGEN" --dev eth0 --dst-mac "$LAN_MAC" --src 198.18.0.16 --src-count 16 --dst 198.19.1.0 \
            --dst-count 4 --flows 4 --sport 30000 --rate 20000 --seconds 6 >"$TMP/genc.json" &
        GEN_PID=$!
        sleep 2
        watch=$(in_ns "$RT" "$SCALE" watch --settle-ms 500 --timeout-ms 3500 -- "$@")
        wait "$GEN_PID" || true
        GEN_PID=""
        sleep 0.5
        rx1=$(sink_udp)
        sent=$(jq .sent "$TMP/genc.json")
        CROWS+=("$name|$watch|$sent|$((rx1 - rx0))")
        log "(c) $name: $watch; sent $sent, received $((rx1 - rx0))"
    }
    # Which WANs carry the 4 test flows: run the stream once, read the flows.
    in_ns "$GEN" "$PKTGEN" --dev eth0 --dst-mac "$LAN_MAC" --src 198.18.0.16 --src-count 16 --dst 198.19.1.0 \
        --dst-count 4 --flows 4 --sport 30000 --rate 1000 --seconds 1 >/dev/null
    in_ns "$RT" "$WANLB" flows --json >"$TMP/flows8.json"
    USED_WANS=$(jq -r '[.[] | select(.dst | startswith("198.19.1.")) | .wan] | unique | join(" ")' "$TMP/flows8.json")
    FREE_WAN="" BUSY_WAN=""
    for ((i = 8; i >= 1; i--)); do [[ " $USED_WANS " == *" isp$i "* ]] || { FREE_WAN=$i; break; }; done
    for ((i = 8; i >= 1; i--)); do [[ " $USED_WANS " == *" isp$i "* ]] && { BUSY_WAN=$i; break; }; done
    log "test flows on: $USED_WANS; failover of a WAN without them: isp${FREE_WAN:-?}, with them: isp${BUSY_WAN:-?}"

    cp "$TMP/w8b.yaml" "$TMP/w8.yaml"  # the agent re-reads the same path: isp1 weight 1 -> 3
    scenario "weight change (wanlb reload, isp1 weight 1 -> 3)" "$WANLB" reload
    LOG_RELOAD=$(grep -E "slot table:|reloaded|reload timing" "$TMP/agent.log" | tail -3 | cut -d' ' -f1,3- | tr '\n' ';')
    cp "$TMP/w8a.yaml" "$TMP/w8.yaml"  # back to weight 1, this time through SIGHUP (no CLI start-up in the figure)
    scenario "weight change (SIGHUP to the agent, isp1 weight 3 -> 1)" kill -HUP "$AGENT_PID"
    if [[ -n "$FREE_WAN" ]]; then
        scenario "failover: carrier cut on isp$FREE_WAN (no test flow on it)" ip -n "$SNK" link set "s$FREE_WAN" down
        LOG_FAIL=$(grep -E "isp$FREE_WAN: up -> down|slot table:" "$TMP/agent.log" | tail -2 | cut -d' ' -f1,3- | tr '\n' ';')
        ip -n "$SNK" link set "s$FREE_WAN" up
        wait_all_up || log "isp$FREE_WAN did not come back"
    fi
    if [[ -n "$BUSY_WAN" ]]; then
        n_on=$(jq --arg w "isp$BUSY_WAN" '[.[] | select(.dst | startswith("198.19.1.")) | select(.wan == $w)] | length' "$TMP/flows8.json")
        scenario "failover: carrier cut on isp$BUSY_WAN ($n_on of the 4 test flows on it)" ip -n "$SNK" link set "s$BUSY_WAN" down
        ip -n "$SNK" link set "s$BUSY_WAN" up
    fi
    agent_stop
fi

# ------------------------------------------------------------------ (d)
if part d; then
    config "$TMP/w8.yaml" 8
    agent_start "$TMP/w8.yaml"
    wait_all_up || log "not every WAN up before (d)"
    sleep 5
    hz=$(getconf CLK_TCK)
    cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$AGENT_PID/stat"; }  # utime + stime (fields 14, 15)
    rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$AGENT_PID/status"; }
    log "(d) agent at rest with 8 WANs for $REST s"
    c0=$(cpu_ticks); t0=$(now_ms); RSS=("$(rss_kb)")
    for ((s = 10; s <= REST; s += 10)); do sleep 10; RSS+=("$(rss_kb)"); done
    c1=$(cpu_ticks); t1=$(now_ms)
    REST_CPU=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v ms=$((t1 - t0)) 'BEGIN {printf "%.3f", 100 * (b - a) / hz / (ms / 1000)}')
    REST_TICKS=$((c1 - c0))
    probes=$(status_json | jq -c '[.wans[] | .state] | group_by(.) | map({(.[0]): length}) | add')
    agent_stop
fi
elapsed=$(($(date +%s) - started))

# ------------------------------------------------------------------ report
v128() { awk -v v="$1" 'BEGIN {print (v <= 128) ? "PASS" : "MISS"}'; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
report_a() {
    J() { jq -r "$1" <<<"$FILL"; }
    entries=$(J .entries)
    fl_b=$(J .memlock.flows_before); fl_a=$(J .memlock.flows_after)
    pr_a=$(J .memlock.pairs_after); pr_n=$(J .memlock.pairs_entries); pr_s=$(J .memlock.pairs_sticky)
    all_a=$(J .memlock.all_maps_after)
    per_flow=$(awk -v m="$fl_a" -v n="$entries" 'BEGIN {printf "%.1f", m / n}')
    per_flow_pairs=$(awk -v m="$fl_a" -v p="$pr_a" -v n="$entries" 'BEGIN {printf "%.1f", (m + p) / n}')
    per_flow_sticky=$(awk -v m="$fl_a" -v p="$pr_s" -v n="$entries" 'BEGIN {printf "%.1f", (m + p) / n}')
    evict=$(J .full.evictions); sent_new=$(J .full.new_flows_sent)
    echo "**(a) Flow table of $entries entries** (wanlb-bench-scale fill: the data path loaded with flow_table_size $entries, filled through BPF_PROG_TEST_RUN, one TCP SYN per flow; memory = \`memlock:\` in /proc/self/fdinfo of the map fd, i.e. the kernel's bpf_map_memory_usage())"
    echo
    echo "| figure | value | target | result |"
    echo "|---|---:|---|---|"
    echo "| wanlb_flows memlock before / after the fill | $(mib "$fl_b") / $(mib "$fl_a") (preallocated LRU hash: no change) | | |"
    echo "| memory per flow, wanlb_flows alone | $per_flow bytes | <= 128 | $(v128 "$per_flow") |"
    echo "| memory per flow_table_size entry, wanlb_flows + wanlb_pairs, default config (sticky: none: wanlb_pairs has $pr_n entry, $pr_a bytes) | $per_flow_pairs bytes | <= 128 | $(v128 "$per_flow_pairs") |"
    echo "| memory per flow_table_size entry, wanlb_flows + wanlb_pairs with sticky: pair (wanlb_pairs sized like wanlb_flows, preallocated: $(mib "$pr_s")) | $per_flow_sticky bytes | | |"
    echo "| all maps of the data path | $(mib "$all_a") | | |"
    echo "| fill: $entries new flows | $(J .fill.ms) ms, $(J .fill.mean_new_flow_ns) ns per new flow (mean run time), $(J .fill.entries_after) entries after | | |"
    echo "| established packet, one hot flow (repeat 10^6): 1k entries / full | $(J .lookup.small_hot_ns) / $(J .lookup.full_hot_ns) ns (empty program $(J .lookup.small_hot_empty_ns) / $(J .lookup.full_hot_empty_ns)) | | |"
    echo "| established packet, random flow of the table (repeat 1, $(J .samples) samples): 1k entries / full | $(J .lookup.small_random_ns) / $(J .lookup.full_random_ns) ns (empty program $(J .lookup.small_random_empty_ns) / $(J .lookup.full_random_empty_ns)) | | |"
    echo "| table full: $sent_new new flows | $(J .full.classified) classified (per-WAN new_flows), no_wan $(J .full.no_wan), $(J .full.mean_new_flow_ns) ns each; $(J .full.added_present) of them in the table afterwards | | |"
    echo "| evictions (entries before $(J .full.entries_before) + $sent_new new - entries after $(J .full.entries_after); no eviction counter in wanlb) | $evict | | |"
    echo "| which flows were evicted: still present of the $sent_new oldest / $sent_new newest of the fill | $(J .full.oldest_present) / $(J .full.newest_present) | | |"
    echo "| present after the overflow, per tenth of the fill order (oldest first), % | $(J '.full.present_pct_by_tenth | map(tostring) | join(", ")') | | |"
}
report_b() {
    echo "**(b) 64 WANs** (64 veth pairs from the router into one sink namespace, equal weights)"
    echo
    echo "| figure | value |"
    echo "|---|---|"
    echo "| \`wanlb check\` with $NWANS WANs | exit $CHECK64_RC ($(head -1 "$TMP/check64.txt" | tr '|' '/')) |"
    echo "| agent start to \`ready:\` | $STARTUP64_MS ms (log: first line to slot table write $LOG_FIRST_TO_SLOTS ms; \"$SLOTLINE64\") |"
    echo "| slot table build, 64 WANs, mixed weights 1..10 (build_slot_table, median of 5) | $(jq -r .build_ms_median <<<"$SLOTS64") ms (failover table for one WAN down $(jq -r .failover_ms_median <<<"$SLOTS64") ms); 8 WANs: $(jq -r .build_ms_median <<<"$SLOTS8") ms |"
    echo "| 65536 new UDP flows (distinct address pairs) | $(jq -r '"\(.used) of \(.wans) WANs got new flows; per WAN min \(.min), max \(.max), expected \(.expected)"' <<<"$SPREAD64") |"
}
report_c() {
    crow_md=""
    for r in "${CROWS[@]}"; do
        IFS='|' read -r name watch sent recv <<<"$r"
        first=$(jq -r .first_change_ms <<<"$watch"); last=$(jq -r .last_change_ms <<<"$watch")
        ch=$(jq -r .slots_changed <<<"$watch"); poll=$(jq -r .poll_ms <<<"$watch"); texit=$(jq -r .trigger_exit_ms <<<"$watch")
        lost=$((sent - recv))
        after_exit=$(awk -v l="$last" -v x="$texit" 'BEGIN {d = l - x; printf "%.1f", d}')
        if [[ $name == failover* ]]; then
            # The carrier changes inside `ip`, at the latest when it exits: judge
            # the agent from there (negative = the map changed before `ip` returned).
            ok=$(awk -v d="$after_exit" 'BEGIN {print (d <= 10) ? 1 : 0}')
        else
            ok=$(awk -v l="$last" 'BEGIN {print (l >= 0 && l <= 10) ? 1 : 0}')  # from the start of the command
        fi
        if [[ $name == *"of the 4 test flows on it"* ]]; then
            verdict=$([[ $ok == 1 ]] && echo "PASS (maps); loss expected on the cut link" || echo "MISS (maps); loss expected on the cut link")
        else
            verdict=$([[ $ok == 1 && $lost == 0 ]] && echo PASS || echo MISS)
        fi
        crow_md+="| $name | $first | $last | $texit | $after_exit | $ch | $poll | $sent | $recv | $lost | $verdict |"$'\n'
    done
    echo "**(c) weight change and failover with 8 WANs under a constant 20,000 packets/s** (4 UDP flows; every 64th slot of wanlb_slots polled through the map fd by wanlb-bench-scale watch in the router namespace, times from the start of the trigger command, so they include starting \`wanlb reload\` / \`ip\`; slots changed = full table before vs after; sent = generator, received = nft counter of UDP in the sink namespace)"
    echo
    echo "| change | first slot change ms | last slot change ms | trigger command exited ms | last change after the command exited ms | slots changed | poll period ms | sent | received | lost | result (<= 10 ms, 0 lost) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    printf '%s' "$crow_md"
    echo
    echo "Judged: reloads from the start of the command (\`wanlb reload\` start-up included; SIGHUP: from starting /bin/kill), failovers from the moment \`ip link set down\` exited (the carrier changes inside it; a negative figure means the map changed before \`ip\` returned)."
    echo
    echo "Agent log around the changes (timestamps to the ms): reload: ${LOG_RELOAD:-n/a} failover: ${LOG_FAIL:-n/a}"
}
report_d() {
    rss_min=$(printf '%s\n' "${RSS[@]}" | sort -n | head -1); rss_max=$(printf '%s\n' "${RSS[@]}" | sort -n | tail -1)
    cpu_verdict=$(awk -v c="$REST_CPU" 'BEGIN {print (c < 1) ? "PASS" : "MISS"}')
    echo "**(d) agent at rest** (fresh agent, 8 WANs, default probing: ICMP to each gateway every 200 ms; $REST s; states $probes)"
    echo
    echo "| figure | value | target | result |"
    echo "|---|---:|---|---|"
    echo "| CPU (utime+stime from /proc/PID/stat, $REST_TICKS ticks of 1/$hz s) | $REST_CPU% of one core | < 1% | $cpu_verdict |"
    echo "| VmRSS, sampled every 10 s (first, min, max, last) | ${RSS[0]} / $rss_min / $rss_max / ${RSS[-1]} kB | stable | $([[ $((rss_max - rss_min)) -le 512 ]] && echo "PASS (spread $((rss_max - rss_min)) kB)" || echo "MISS? (spread $((rss_max - rss_min)) kB)") |"
}
table=$(
    echo "Measured $(date -u +%Y-%m-%dT%H:%MZ); kernel $(uname -r); $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo) ($(nproc) CPUs); load average $(cut -d' ' -f1-3 /proc/loadavg); ${elapsed} s."
    for p in a b c d; do
        if part $p; then echo; "report_$p"; fi
    done
)
echo
echo "$table"
if [[ -n "$MARKDOWN" ]]; then
    write_md_section "$MARKDOWN" scale_bench "Scale" "sudo bench/scale_bench.sh --markdown docs/benchmarks.md" "$table"
    log "wrote $MARKDOWN"
fi

#!/usr/bin/env bash
# Forwarding benchmark: packets per second a router namespace forwards with
# wanlb, against plain routing, the nftables way of doing PCC, and Linux
# ECMP, in a topology of its own:
#
#   P-gen  eth0 ══ lan0  P-rt  wan1 ══ s1  P-snk
#   (generator)          (router)  ...
#                                 wanN ══ sN   (N = 8; sinks drop UDP in XDP)
#
#   LAN      lan0 198.18.0.1/24, eth0 198.18.0.2/24
#   WAN i    wan<i> 198.18.<i>.2/24 <-> s<i> 198.18.<i>.1/24 (the gateway)
#   traffic  4096 UDP flows, 64-byte frames: source 198.18.0.16..31, destination
#            198.19.0.0 .. 198.19.15.255 (one per flow), source port 10000+i.
#            Every frame belongs to the next flow.
#   All addresses are in the benchmark range 198.18.0.0/15; nothing leaves the
#   three namespaces this script creates (prefix wfb + random hex).
#
# Generator: `wanlb-pktgen --engine xdp` (bpf/bench_xdpgen.bpf.c): frames made
# by an XDP program under BPF_PROG_RUN in live-frames mode and redirected into
# eth0, as xdp-trafficgen does: no skb and no socket on the sending side.
# CPUs (2 on the development VM): the generator, the router and the sinks
# share CPU 1. The generator runs batches of 64 frames; each batch lands in
# lan0's receive ring (lan0 has NAPI: GRO on) and the router processes it in
# softirq on the same CPU as soon as the batch is out (local_bh_enable), so
# the router is saturated and never waits for a wake-up. A waiting CPU is
# what sank every earlier design on this VM: an idle vCPU halts at once
# (Firecracker, guest_halt_poll_ns=0) and takes hundreds of microseconds to
# wake, far longer than the 256-frame veth ring lasts. The sinks drop UDP as
# the first thing (ICMP, the agent's probes, and ARP pass), in XDP
# (bench_xdpgen_sink) on s<i>, whose NAPI is threaded: its kthread is woken
# by the router's transmit and runs outside softirq, so its work is not
# counted as the router's. The kthreads are on CPU 1 too (FWB_SINK_CPU): on
# CPU 0, every wake-up was an IPI to a halted vCPU, which the router's
# transmit paid with interrupts off, and that cost (a third of the router's
# time, more with more WANs, since each WAN's sink is woken on its own)
# was not forwarding work. What the router still pays per transmit is a
# local wake-up of the sink's kthread when it sleeps.
# Figures: forwarded = what the router transmitted on wan1..wanN
# (tx_packets + tx_dropped in the router's /proc/net/dev; a frame a sink
# refused was forwarded all the same: the sink drops are shown
# separately). Because the generator shares CPU 1, the forwarded rate
# includes its cost (about the same per frame for every method); the
# router's own cost is the softirq time of CPU 1 per forwarded packet
# (/proc/stat), and its inverse is the rate the router alone would reach.
#
# Methods, each without and with NAT (masquerade on the WANs):
#   baseline  plain routing, main-table default via wan1 (NAT: nft masquerade)
#   wanlb tc  the real agent (`wanlb run -c`), 2 and 8 WANs, classifier
#             both-addresses, `nat: none` / `nat: masquerade`; without NAT
#             also with `inbound: none` (no conntrack at all)
#   nft PCC   jhash ip saddr . ip daddr -> ct mark (new connections),
#             meta mark set ct mark, fwmark rules -> one table per WAN
#             (NAT: nft masquerade per WAN)
#   tc mark   the floor of any design that marks in tc and routes by fwmark:
#             bench_tc_mark (bpf/bench_xdpgen.bpf.c) hashes the address pair
#             to mark 1..N and does nothing else (no flow table, counters,
#             bypass or failover), same fwmark rules as nft PCC; conntrack
#             only with NAT. Its cost over the baseline is what wanlb's tc
#             path cannot get below
#   ECMP      multipath default route over the WANs,
#             net.ipv4.fib_multipath_hash_policy=1 (L4 hash)
#   wanlb XDP `lan: [{interface: lan0, mode: xdp}]`, if `wanlb check` accepts it
# Every configuration is measured --rounds times (interleaved: round 1 of every
# configuration, then round 2, ...), median shown; the conntrack table is
# flushed before every measurement. Then build/wanlb-bench-bpf runs once and
# its rows are included.
# Needs: ip, nft, taskset, chrt, ethtool, conntrack, jq (deploy/install-deps.sh).
#
# Usage: bench/forwarding_bench.sh [--markdown docs/benchmarks.md] [--seconds N]
#                                  [--rounds N] [--wans-max N] [--no-bpf-bench]
# Env: WANLB_BIN, WANLB_PKTGEN, WANLB_BENCH_BPF override the binaries.
# Experiments (the table is then not the standard one; don't --markdown it):
#   FWB_ONLY="tc 2 none,nft 2 masq"   only these configurations (METHOD WANS NAT;
#                                     methods base tc tcnc mark nft ecmp xdp,
#                                     and tcxmark: the floor's program
#                                     attached through a tcx link, kernel
#                                     6.6+, pinned on a bpffs of the run)
#   FWB_AGENT_EXTRA="KEY: VALUE"      more top-level keys in the agent's config
#   FWB_RT_NFT=FILE                   an nftables ruleset loaded in the router
#                                     after each set-up (the router's ruleset
#                                     is flushed after each measurement)
#   FWB_DEBUG=1                       log the generator's JSON and, for the
#                                     agent's methods, its counters
#   FWB_BURST=N                       packet trains: N frames in a row per
#                                     flow (default 1: every frame for the
#                                     next flow, the worst case for any
#                                     per-flow state)
#   FWB_SINK_CPU=0                    the sinks' NAPI kthreads on CPU 0 (the
#                                     old layout: wake-ups are IPIs)
#   FWB_PERF=DIR                      record CPU 1 with perf (cpu-clock, call
#                                     graphs) during each measurement, into
#                                     DIR/METHOD-WANS-NAT-rROUND.data (and its
#                                     forwarded pps in .pps); compare two with
#                                     bench/perf_compare.sh
set -euo pipefail
# shellcheck source=md_section.sh
source "$(dirname "${BASH_SOURCE[0]}")/md_section.sh"
# shellcheck source=ns_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ns_lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=3
ROUNDS=3
MARKDOWN=""
WANS_MAX=8
BPF_BENCH=1
SINK_CPU=${FWB_SINK_CPU:-1}
BURST=${FWB_BURST:-1}
while (($#)); do
    case "$1" in
        --markdown) MARKDOWN=$2; shift 2 ;;
        --seconds) SECS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --wans-max) WANS_MAX=$2; shift 2 ;;
        --no-bpf-bench) BPF_BENCH=0; shift ;;
        *) echo "usage: $0 [--markdown FILE] [--seconds N] [--rounds N] [--wans-max N] [--no-bpf-bench]" >&2; exit 2 ;;
    esac
done
[[ $EUID -eq 0 ]] || { echo "forwarding_bench: needs root (network namespaces); skipped"; exit 0; }
[[ "$SECS" =~ ^[0-9]+$ ]] && ((SECS >= 1 && SECS <= 60)) || { echo "--seconds must be 1..60" >&2; exit 2; }
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && ((ROUNDS >= 1 && ROUNDS <= 9)) || { echo "--rounds must be 1..9" >&2; exit 2; }
[[ "$WANS_MAX" =~ ^[0-9]+$ ]] && ((WANS_MAX >= 2 && WANS_MAX <= 8)) || { echo "--wans-max must be 2..8" >&2; exit 2; }
WANLB=${WANLB_BIN:-$ROOT/build/wanlb}
PKTGEN=${WANLB_PKTGEN:-$ROOT/build/wanlb-pktgen}
BENCH_BPF=${WANLB_BENCH_BPF:-$ROOT/build/wanlb-bench-bpf}
for b in "$WANLB" "$PKTGEN"; do
    [[ -x "$b" ]] || { echo "forwarding_bench: $b missing; build it: cmake --build build --target $(basename "$b")" >&2; exit 1; }
done
if [[ -n "${FWB_PERF:-}" ]]; then  # without perf the measuring window would be empty
    command -v perf >/dev/null || { echo "forwarding_bench: FWB_PERF needs perf (apt-get install linux-perf)" >&2; exit 2; }
    [[ -d "$FWB_PERF" && -w "$FWB_PERF" ]] || { echo "forwarding_bench: FWB_PERF=$FWB_PERF is not a writable directory" >&2; exit 2; }
fi
[[ "$SINK_CPU" == 0 || "$SINK_CPU" == 1 ]] || { echo "forwarding_bench: FWB_SINK_CPU must be 0 or 1" >&2; exit 2; }
[[ "$BURST" =~ ^[0-9]+$ ]] && ((BURST >= 1 && BURST <= 1024)) || { echo "forwarding_bench: FWB_BURST must be 1..1024" >&2; exit 2; }
for t in ip nft taskset chrt ethtool conntrack jq; do
    command -v "$t" >/dev/null || { echo "forwarding_bench: '$t' not found (bash deploy/install-deps.sh)" >&2; exit 1; }
done
(($(nproc) >= 2)) || { echo "forwarding_bench: needs 2 CPUs (generator and router on one each)" >&2; exit 1; }

bench_ns_init forwarding_bench wfb

# ------------------------------------------------------------------ topology
# Threaded NAPI for NS's DEV, its kthread(s) pinned to CPU (with POLICY, a
# chrt policy flag such as -f 1, or none). Toggling `threaded` makes new
# kthreads; the ones that appear are DEV's (kthreads carry no namespace).
pin_napi() { # NS DEV CPU [CHRT_ARGS...]
    local ns=$1 dev=$2 cpu=$3 before p i found=""
    shift 3
    before=" $(pgrep -d ' ' '^napi/' || true) "
    in_ns "$ns" sh -c "echo 0 > /sys/class/net/$dev/threaded; echo 1 > /sys/class/net/$dev/threaded" ||
        { log "threaded NAPI not available on $dev"; return 1; }
    for ((i = 0; i < 20; i++)); do
        for p in $(pgrep "^napi/$dev-" || true); do
            [[ $before == *" $p "* ]] && continue
            taskset -pc "$cpu" "$p" >/dev/null
            if (($#)); then chrt -p "$@" "$p"; fi
            found+="$p "
        done
        [[ -n $found ]] && return 0
        sleep 0.05
    done
    log "no NAPI kthread appeared for $dev"
    return 1
}

build_topology() {
    local i sinks=()
    mkns "$GEN"; mkns "$RT"; mkns "$SNK"
    ip -n "$RT" link add lan0 type veth peer name eth0 netns "$GEN"
    ip -n "$RT" addr add 198.18.0.1/24 dev lan0
    ip -n "$GEN" addr add 198.18.0.2/24 dev eth0
    ip -n "$RT" link set lan0 up
    ip -n "$GEN" link set eth0 up
    # NAPI on lan0 (GRO on): the generator's XDP frames need a receive ring.
    # Not threaded: the NAPI runs in softirq on the generator's CPU.
    in_ns "$RT" ethtool -K lan0 gro on >/dev/null
    for ((i = 1; i <= WANS_MAX; i++)); do
        ip -n "$RT" link add "wan$i" type veth peer name "s$i" netns "$SNK"
        ip -n "$RT" addr add "198.18.$i.2/24" dev "wan$i"
        ip -n "$SNK" addr add "198.18.$i.1/24" dev "s$i"
        ip -n "$RT" link set "wan$i" up
        ip -n "$SNK" link set "s$i" up
        # Static neighbours: no ARP in the measured path.
        ip -n "$RT" neigh replace "198.18.$i.1" lladdr "$(in_ns "$SNK" cat "/sys/class/net/s$i/address")" \
            dev "wan$i" nud permanent
        ip -n "$SNK" neigh replace "198.18.$i.2" lladdr "$(in_ns "$RT" cat "/sys/class/net/wan$i/address")" \
            dev "s$i" nud permanent
        sinks+=(--attach-sink "s$i")
    done
    # The sinks drop UDP as the first thing, ICMP (the agent's probes) and
    # ARP pass: in XDP on s<i>, frames and skbs alike (with an XDP program
    # on s<i>, veth hands the router's skbs to s<i>'s NAPI too: a netdev
    # ingress counter there saw only the probes), in s<i>'s NAPI kthread on
    # SINK_CPU.
    in_ns "$SNK" "$PKTGEN" "${sinks[@]}"
    for ((i = 1; i <= WANS_MAX; i++)); do pin_napi "$SNK" "s$i" "$SINK_CPU" -f 1; done
    ip -n "$RT" route add default via 198.18.1.1 dev wan1
    in_ns "$RT" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    LAN_MAC=$(in_ns "$RT" cat /sys/class/net/lan0/address)
}

# ------------------------------------------------------------------ methods

nft_masq() { # N: masquerade on wan1..N, one rule per WAN (as wanlb writes it)
    local i rules=""
    for ((i = 1; i <= $1; i++)); do rules+="    oifname \"wan$i\" masquerade"$'\n'; done
    in_ns "$RT" nft -f - <<EOF
table ip fbnat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
$rules  }
}
EOF
}

# fwmark i -> table 200+i, default route via WAN i there (nft PCC, tc mark).
mark_rules() { # add|del N
    local i
    for ((i = 1; i <= $2; i++)); do
        if [[ $1 == add ]]; then
            ip -n "$RT" route add default via "198.18.$i.1" dev "wan$i" table $((200 + i))
            ip -n "$RT" rule add fwmark "$i" lookup $((200 + i)) pref $((2000 + i))
        else
            ip -n "$RT" rule del fwmark "$i" lookup $((200 + i)) pref $((2000 + i))
            ip -n "$RT" route flush table $((200 + i))
        fi
    done
}

agent_config() { # FILE N NAT [MODE [INBOUND]]
    local file=$1 n=$2 nat=$3 mode=${4:-} inbound=${5:-} i
    {
        if [[ -n "$mode" ]]; then echo "lan: [{interface: lan0, mode: $mode}]"; else echo "lan: [lan0]"; fi
        echo "classifier: both-addresses"
        [[ -z "$inbound" ]] || echo "inbound: $inbound"
        [[ -z "${FWB_AGENT_EXTRA:-}" ]] || printf '%s\n' "$FWB_AGENT_EXTRA"
        echo "wans:"
        for ((i = 1; i <= n; i++)); do
            printf '  - name: isp%d\n    interface: wan%d\n    gateway: 198.18.%d.1\n    nat: %s\n' "$i" "$i" "$i" "$nat"
        done
    } >"$file"
}

setup() { # METHOD N NAT(none|masq)
    local m=$1 n=$2 nat=$3 i gws="" tcx=()
    case "$m" in
        base)
            [[ $nat == masq ]] && nft_masq 1 ;;
        tc | tcnc | xdp)
            agent_config "$TMP/cfg.yaml" "$n" "$([[ $nat == masq ]] && echo masquerade || echo none)" \
                "$([[ $m == xdp ]] && echo xdp || echo tc)" "$([[ $m == tcnc ]] && echo none)"
            agent_start "$TMP/cfg.yaml" ;;
        nft)
            in_ns "$RT" nft -f - <<EOF
table ip fbpcc {
  chain prerouting {
    type filter hook prerouting priority mangle; policy accept;
    iifname "lan0" ct state new ct mark set jhash ip saddr . ip daddr mod $n seed 0x5eed offset 1
    iifname "lan0" meta mark set ct mark
  }
}
EOF
            mark_rules add "$n"
            [[ $nat == masq ]] && nft_masq "$n" ;;
        mark | tcxmark)
            if [[ $m == tcxmark ]]; then bpffs_mount; tcx=(--tcx-pin "$BENCH_BPFFS/tcx_mark"); fi
            in_ns "$RT" "$PKTGEN" --attach-tc-mark lan0 --mark-wans "$n" "${tcx[@]}"
            mark_rules add "$n"
            [[ $nat == masq ]] && nft_masq "$n" ;;
        ecmp)
            for ((i = 1; i <= n; i++)); do gws+=" nexthop via 198.18.$i.1 dev wan$i"; done
            # shellcheck disable=SC2086
            ip -n "$RT" route replace default $gws
            [[ $nat == masq ]] && nft_masq "$n" ;;
    esac
    # Experiments: one more nftables ruleset in the router (docs/benchmarks.md
    # uses it to isolate what loading conntrack costs).
    if [[ -n "${FWB_RT_NFT:-}" ]]; then in_ns "$RT" nft -f "$FWB_RT_NFT"; fi
    return 0
}

teardown() { # METHOD N NAT
    local m=$1 n=$2 nat=$3 i
    case "$m" in
        tc | tcnc | xdp)
            [[ -z "${FWB_DEBUG:-}" ]] || log "agent counters: $(in_ns "$RT" "$WANLB" status --json | jq -c .counters)"
            agent_stop ;;
        nft)
            in_ns "$RT" nft delete table ip fbpcc
            mark_rules del "$n" ;;
        mark | tcxmark)
            # The pin is the tcx link's only reference: removing it detaches.
            if [[ $m == tcxmark ]]; then rm "$BENCH_BPFFS/tcx_mark"; else in_ns "$RT" tc qdisc del dev lan0 clsact; fi
            mark_rules del "$n" ;;
        ecmp)
            ip -n "$RT" route replace default via 198.18.1.1 dev wan1 ;;
    esac
    if [[ $nat == masq && $m != tc && $m != tcnc && $m != xdp ]]; then in_ns "$RT" nft delete table ip fbnat; fi
    if [[ -n "${FWB_RT_NFT:-}" ]]; then in_ns "$RT" nft flush ruleset; fi
    in_ns "$RT" sysctl -qw net.ipv4.ip_forward=1
    return 0
}

# ------------------------------------------------------------------ measuring
# -> "tx1 .. txN drop1 .. dropN": tx_packets + tx_dropped and tx_dropped of
# the router's wan1..wanN.
wan_tx() {
    in_ns "$RT" cat /proc/net/dev | awk -F'[: ]+' -v n="$WANS_MAX" '
        { sub(/^ +/, ""); if ($1 ~ /^wan[0-9]+$/) { i = substr($1, 4); tx[i] = $11 + $13; dr[i] = $13 } }
        END { for (i = 1; i <= n; i++) printf "%s ", tx[i] + 0; for (i = 1; i <= n; i++) printf "%s%s", dr[i] + 0, (i < n ? " " : "\n") }'
}
now_ns() { date +%s%N; }

# IP packets the router's stack received (IpInReceives): the share of the
# forwarded frames that took the stack (all of them but in XDP mode).
router_ip_in() { in_ns "$RT" awk '$1 == "Ip:" && $2 ~ /^[0-9]+$/ {print $4}' /proc/net/snmp; }

# Softirq and total time of CPU 1 (the router's CPU), in USER_HZ units.
cpu1_times() { awk '$1 == "cpu1" {print $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }

# measure -> prints "PPS OFFERED_PPS WANS_USED MAX_SHARE_PCT NS_PER_PACKET CPU1_SOFTIRQ_PCT REFUSED_PCT SINK_DROP_PCT STACK_PCT"
measure() {
    local warm=1 t0 t1 r0 r1 c0 c1 i0 i1 gen_json
    in_ns "$RT" conntrack -F >/dev/null 2>&1 || true
    in_ns "$GEN" taskset -c 1 "$PKTGEN" --engine xdp --dev eth0 --dst-mac "$LAN_MAC" --src 198.18.0.16 --src-count 16 \
        --dst 198.19.0.0 --dst-count 4096 --flows 4096 --sport 10000 --dport 9 --size 60 --burst "$BURST" \
        --seconds $((warm + SECS + 1)) >"$TMP/gen.json" &
    GEN_PID=$!
    sleep "$warm"
    t0=$(now_ns); r0=$(wan_tx); c0=$(cpu1_times); i0=$(router_ip_in)
    if [[ -n "${FWB_PERF:-}" ]]; then
        perf record -q -e cpu-clock -C 1 -g -o "$FWB_PERF/$PERF_NAME.data" -- sleep "$SECS" >/dev/null 2>&1
    else
        sleep "$SECS"
    fi
    t1=$(now_ns); r1=$(wan_tx); c1=$(cpu1_times); i1=$(router_ip_in)
    wait "$GEN_PID" || true
    GEN_PID=""
    gen_json=$(cat "$TMP/gen.json")
    [[ -z "${FWB_DEBUG:-}" ]] || log "generator: $gen_json"
    awk -v a="$r0" -v b="$r1" -v n="$WANS_MAX" -v t0="$t0" -v t1="$t1" -v gen="$gen_json" -v c0="$c0" -v c1="$c1" \
        -v hz="$(getconf CLK_TCK)" -v stack="$((i1 - i0))" 'BEGIN {
        split(a, x, " "); split(b, y, " "); tot = 0; max = 0; used = 0; drops = 0
        for (i = 1; i <= n; i++) { d[i] = y[i] - x[i]; tot += d[i]; drops += y[n + i] - x[n + i] }
        for (i = 1; i <= n; i++) { if (d[i] > 0.01 * tot) used++; if (d[i] > max) max = d[i] }
        match(gen, /"attempted_pps":[0-9.]+/); off = substr(gen, RSTART + 16, RLENGTH - 16)
        match(gen, /"sent":[0-9]+/); sent = substr(gen, RSTART + 7, RLENGTH - 7)
        match(gen, /"errors":[0-9]+/); err = substr(gen, RSTART + 9, RLENGTH - 9)
        split(c0, u, " "); split(c1, v, " ")
        sirq_s = (v[1] - u[1]) / hz; el = (t1 - t0) / 1e9
        printf "%.0f %.0f %d %.1f %.0f %.0f %.1f %.1f %.1f\n", tot / el, off, used, tot ? 100 * max / tot : 0,
            tot ? sirq_s * 1e9 / tot : 0, (v[2] > u[2]) ? 100 * (v[1] - u[1]) / (v[2] - u[2]) : 0,
            (sent + err) ? 100 * err / (sent + err) : 0, tot ? 100 * drops / tot : 0, tot ? 100 * stack / tot : 0 }'
}

cpu_model() { awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo; }

# ------------------------------------------------------------------ run
log "building topology $P (generator, router, sink; $WANS_MAX WANs)"
build_topology

# XDP: only if this build accepts the mode.
agent_config "$TMP/xdp.yaml" 2 none xdp
XDP=0
if in_ns "$RT" "$WANLB" check -c "$TMP/xdp.yaml" >"$TMP/xdp-check.txt" 2>&1; then
    XDP=1
else
    echo "XDP: not available in this build ($(head -1 "$TMP/xdp-check.txt"))"
fi

# Configurations: METHOD WANS NAT LABEL
CONFIGS=()
if [[ -n "${FWB_ONLY:-}" ]]; then IFS=, read -r -a CONFIGS <<<"$FWB_ONLY"; fi
((${#CONFIGS[@]})) || for nat in none masq; do
    CONFIGS+=("base 1 $nat")
    for n in 2 "$WANS_MAX"; do
        CONFIGS+=("tc $n $nat")
        [[ $nat == none ]] && CONFIGS+=("tcnc $n $nat")
        CONFIGS+=("mark $n $nat" "nft $n $nat" "ecmp $n $nat")
        ((XDP)) && CONFIGS+=("xdp $n $nat")
    done
done
declare -A RES USED SHARE NSPP REF SDROP STK
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
for ((r = 1; r <= ROUNDS; r++)); do
    for c in "${CONFIGS[@]}"; do
        read -r m n nat <<<"$c"
        setup "$m" "$n" "$nat"
        PERF_NAME="$m-$n-$nat-r$r"
        read -r pps off used share nspp sirq refused sdrop stk <<<"$(measure)"
        teardown "$m" "$n" "$nat"
        RES[$c]+="$pps "; USED[$c]=$used; SHARE[$c]=$share; NSPP[$c]+="$nspp "
        REF[$c]+="$refused "; SDROP[$c]+="$sdrop "; STK[$c]+="$stk "
        [[ -z "${FWB_PERF:-}" ]] || echo "$pps" >"$FWB_PERF/$PERF_NAME.pps"  # for bench/perf_compare.sh
        log "round $r: $m wans=$n nat=$nat: $pps pps (offered $off, $used WANs used, busiest ${share}%; CPU 1 in softirq ${sirq}%, ${nspp} router ns/packet, generator frames refused ${refused}%, sink drops ${sdrop}%, through the router's stack ${stk}%)"
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - started))

med() { printf '%s\n' $1 | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
name_of() {
    case "$1" in
        base) echo "plain routing, 1 WAN (baseline)" ;;
        tc) echo "wanlb tc, $2 WANs" ;;
        tcnc) echo "wanlb tc, $2 WANs, inbound: none" ;;
        mark) echo "tc mark only (floor), $2 WANs" ;;
        tcxmark) echo "tcx mark only, $2 WANs" ;;
        nft) echo "nftables PCC (jhash, ct mark), $2 WANs" ;;
        ecmp) echo "ECMP, L4 hash, $2 WANs" ;;
        xdp) echo "wanlb XDP, $2 WANs" ;;
    esac
}
rows_md=""
rows_txt=""
for c in "${CONFIGS[@]}"; do
    read -r m n nat <<<"$c"
    pps=$(med "${RES[$c]}")
    base=$(med "${RES["base 1 $nat"]:-0}")
    ratio=$(awk -v a="$pps" -v b="$base" 'BEGIN {printf "%.2f", b ? a / b : 0}')
    # The router's own capacity: one CPU doing nothing but this method's
    # work (1e9 / its ns per packet), against the baseline's.
    nspp=$(med "${NSPP[$c]}"); cap=$(awk -v n="$nspp" 'BEGIN {printf "%.0f", n ? 1e9 / n : 0}')
    bcap=$(awk -v n="$(med "${NSPP["base 1 $nat"]:-0}")" 'BEGIN {printf "%.0f", n ? 1e9 / n : 0}')
    cratio=$(awk -v a="$cap" -v b="$bcap" 'BEGIN {printf "%.2f", b ? a / b : 0}')
    target="-"; verdict="-"
    if [[ $m == tc || $m == tcnc ]]; then
        ncap=$(awk -v n="$(med "${NSPP["nft $n $nat"]:-0}")" 'BEGIN {printf "%.0f", n ? 1e9 / n : 0}')
        target=">= 0.95x and >= nftables PCC ($(awk -v a="$cap" -v b="$ncap" 'BEGIN {printf "%.2fx of it", b ? a / b : 0}'))"
        verdict=$(awk -v a="$cap" -v b="$bcap" -v c="$ncap" 'BEGIN {print (!b || !c) ? "-" : (a >= 0.95 * b && a >= c) ? "PASS" : "MISS"}')
    elif [[ $m == xdp && $nat == none ]]; then
        target=">= 2x"
        verdict=$(awk -v a="$cap" -v b="$bcap" 'BEGIN {print !b ? "-" : (a >= 2 * b) ? "PASS" : "MISS"}')
    fi
    spread="${USED[$c]}/$n WANs, busiest ${SHARE[$c]}%"
    natname=$([[ $nat == masq ]] && echo masquerade || echo none)
    refused=$(med "${REF[$c]}"); sdrop=$(med "${SDROP[$c]}")
    stk=$(med "${STK[$c]}")
    rows_md+="| $(name_of "$m" "$n") | $natname | $pps | ${ratio}x | $nspp | $cap | ${cratio}x | $spread | $target | $verdict | ${stk}% |"$'\n'
    rows_txt+=$(printf '%-42s %-10s %9s %6sx %6s %9s %6sx %6s%% %6s%% %6s%%  %-26s %s\n' "$(name_of "$m" "$n")" "$natname" "$pps" "$ratio" "$nspp" "$cap" "$cratio" "$refused" "$sdrop" "$stk" "$spread" "$verdict")$'\n'
done

BPF_MD=""
if ((BPF_BENCH)); then
    if [[ -x "$BENCH_BPF" ]]; then
        log "running $BENCH_BPF (BPF_PROG_TEST_RUN microbenchmark)"
        cp /dev/null "$TMP/bpf.md"
        if "$BENCH_BPF" --markdown "$TMP/bpf.md" >"$TMP/bpf.txt" 2>&1; then
            cat "$TMP/bpf.txt"
            BPF_MD=$(sed -n '/^<!-- wanlb-bench-bpf:begin -->$/,/^<!-- wanlb-bench-bpf:end -->$/p' "$TMP/bpf.md" | sed '1d;$d')
        else
            cat "$TMP/bpf.txt" >&2
            BPF_MD="wanlb-bench-bpf failed: $(tail -1 "$TMP/bpf.txt")"
        fi
    else
        BPF_MD="($BENCH_BPF not built: cmake --build build --target wanlb-bench-bpf)"
    fi
fi

about="Measured $(date -u +%Y-%m-%dT%H:%MZ); kernel $(uname -r); $(cpu_model) ($(nproc) CPUs); wanlb $("$WANLB" --version 2>/dev/null | head -1)."
method="$ROUNDS rounds of ${SECS} s per configuration (interleaved), median. Traffic: 4096 UDP flows of 64-byte frames$( ((BURST > 1)) && echo " in trains of $BURST frames per flow" || echo ", every frame for the next flow,") made by wanlb-pktgen --engine xdp (XDP live frames) on CPU 1, where the router processes each batch in softirq right after it is sent; the sinks drop in XDP in NAPI kthreads on CPU $SINK_CPU. forwarded pps = frames the router transmitted on its WANs (tx_packets + tx_dropped), generator and router sharing one CPU; through the stack = IP packets the router's stack received (IpInReceives) per forwarded frame: all of them except in XDP mode; router ns/packet = CPU 1's softirq time (/proc/stat, 250 Hz ticks) per forwarded packet: the router's own work; router capacity = 1e9 / that: what one CPU doing only the router's work would forward. Targets are judged on router capacity against the baseline's (same NAT). Load average at start / end: $LOAD_START / $LOAD_END; ${elapsed} s."
max_sdrop=0
for c in "${CONFIGS[@]}"; do
    max_sdrop=$(awk -v a="$max_sdrop" -v b="$(med "${SDROP[$c]}")" 'BEGIN {print (b > a) ? b : a}')
done
method+=" The sinks refused at most ${max_sdrop}% of the forwarded frames in any configuration (counted as forwarded)."
xdpnote=$([[ $XDP == 1 ]] && echo "XDP rows: lan0 in XDP mode." || echo "XDP: not available in this build (\`wanlb check\` refuses \`mode: xdp\`), no row.")
table=$(
    echo "$about"
    echo
    echo "$method $xdpnote"
    echo
    echo "| method | NAT | forwarded pps | vs baseline | router ns/packet | router capacity pps | vs baseline | spread | target (capacity) | result | through the stack |"
    echo "|---|---|---:|---:|---:|---:|---:|---|---|---|---:|"
    printf '%s' "$rows_md"
    if [[ -n "$BPF_MD" ]]; then
        echo
        echo "BPF microbenchmark (build/wanlb-bench-bpf, BPF_PROG_TEST_RUN, same run):"
        echo
        echo "$BPF_MD"
    fi
)
echo
echo "$about"
echo "$method"
echo "$xdpnote"
printf '%-42s %-10s %9s %7s %6s %9s %7s %7s %7s %7s  %-26s %s\n' method NAT pps ratio ns/pkt capacity ratio refused sinkdr stack spread result
printf '%s' "$rows_txt"

if [[ -n "$MARKDOWN" ]]; then
    write_md_section "$MARKDOWN" forwarding_bench "Forwarding rate" "sudo bench/forwarding_bench.sh --markdown docs/benchmarks.md" "$table"
    log "wrote $MARKDOWN"
fi

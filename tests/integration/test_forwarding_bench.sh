#!/usr/bin/env bash
# The forwarding benchmark works end to end (a short run, figures not
# judged): bench/forwarding_bench.sh with the baseline, wanlb tc (inbound
# conntrack and none), the tc-mark floor (as a tc filter and, on kernels with
# tcx, through a tcx link pinned on the run's own bpffs), nftables PCC and
# wanlb XDP on 2 WANs, one round of 1 s. Every method must forward the generator's traffic (wanlb-pktgen's XDP
# engine) over both WANs, the markdown table must have one row per method
# with a router cost, and the script must leave no namespace and no bpffs
# mount behind. In XDP
# mode almost nothing may take the router's stack: frames that did (7 %, from
# metadata the XDP program could not add to) left through the wrong WAN.
source "$(dirname "${BASH_SOURCE[0]}")/lab_test_lib.sh"
need_root; need_wanlb; need_cmd ethtool chrt taskset nft conntrack jq
PKTGEN=$(dirname "$WANLB_BIN")/wanlb-pktgen
[[ -x "$PKTGEN" ]] || fail "$PKTGEN not built"
(($(nproc) >= 2)) || skip "the benchmark needs 2 CPUs"
TMP=$TEST_TMP

# tcx (the tc hook of bpf links) arrived in kernel 6.6.
IFS=. read -r kmaj kmin _ <<<"$(uname -r)"
kmin=${kmin%%[!0-9]*}
tcx=""
if ((kmaj > 6 || (kmaj == 6 && kmin >= 6))); then tcx=1; fi
methods="base 1 none,tc 2 none,tcnc 2 none,mark 2 none,nft 2 none,xdp 2 none${tcx:+,tcxmark 2 none}"
bench_mounts() { awk '$2 ~ "^/tmp/wanlb-forwarding_bench\\." {print $2}' /proc/mounts | sort; }
mounts_before=$(bench_mounts)
before=$(ip netns list | awk '{print $1}' | grep '^wfb' | sort || true)
FWB_ONLY="$methods" WANLB_BIN="$WANLB_BIN" WANLB_PKTGEN="$PKTGEN" \
    bash "$WANLB_SRC/bench/forwarding_bench.sh" --rounds 1 --seconds 1 --wans-max 2 --no-bpf-bench \
    --markdown "$TMP/bench.md" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err" >&2; fail "forwarding_bench.sh failed"; }
after=$(ip netns list | awk '{print $1}' | grep '^wfb' | sort || true)
assert_eq "benchmark namespaces left behind" "$(comm -13 <(echo "$before") <(echo "$after") | grep -c . || true)" 0
assert_eq "benchmark bpffs mounts left behind" "$(comm -13 <(echo "$mounts_before") <(bench_mounts) | grep -c . || true)" 0

# | method | NAT | forwarded pps | vs baseline | router ns/packet | router capacity pps | vs baseline | spread
#   | target | result | through the stack |
row() { grep -F "| $1 | none |" "$TMP/bench.md" | head -1; }
field() { awk -F'|' -v i="$2" '{gsub(/^ +| +$/, "", $(i + 1)); print $(i + 1)}' <<<"$1"; }
names=("plain routing, 1 WAN (baseline)" "wanlb tc, 2 WANs" "wanlb tc, 2 WANs, inbound: none"
    "tc mark only (floor), 2 WANs" "nftables PCC (jhash, ct mark), 2 WANs" "wanlb XDP, 2 WANs")
if [[ -n $tcx ]]; then names+=("tcx mark only, 2 WANs"); else log "kernel $(uname -r) has no tcx: tcxmark not run"; fi
for name in "${names[@]}"; do
    r=$(row "$name")
    [[ -n "$r" ]] || { cat "$TMP/bench.md" >&2; fail "no row for '$name'"; }
    pps=$(field "$r" 3); nspp=$(field "$r" 5); spread=$(field "$r" 8)
    log "$name: $pps pps, router $nspp ns/packet, $spread"
    assert_between "$name: forwarded pps" "$pps" 1000 100000000
    assert_between "$name: router ns/packet" "$nspp" 1 1000000
    [[ $name == plain* ]] || [[ $spread == "2/2 WANs, busiest"* ]] || fail "$name: not spread over both WANs: $spread"
    stack=$(field "$r" 11); stack=${stack%\%}
    if [[ $name == *XDP* ]]; then
        assert_between "$name: share of frames through the router's stack (%)" "$stack" 0 1
    else
        assert_between "$name: share of frames through the router's stack (%)" "$stack" 90 110
    fi
done
log "PASS"

#!/usr/bin/env bash
# Failover benchmark (issue: sub-second failover), in a lab of its own with
# the default probe settings (icmp to the gateway every 200 ms, timeout
# 500 ms, down after 3 failed rounds, up after 10 passed rounds).
#
# For an address pair that hashes to isp1, a client starts a new TCP
# connection every 10 ms (wanlb-labconn until-ok) and we time:
#   silent gateway: isp1 drops everything, carrier up  -> first connection that succeeds via isp2
#   carrier cut:    isp1's link goes down               -> first connection that succeeds via isp2
#   recovery:       isp1 answers again                  -> first new connection through isp1 again
# Each scenario runs ROUNDS times (default 5); the median, min and max are
# printed next to the targets and the usual defaults of other routers.
# Usage: bench/failover_bench.sh [--rounds N] [--markdown docs/benchmarks.md]
set -euo pipefail
# shellcheck source=md_section.sh
source "$(dirname "${BASH_SOURCE[0]}")/md_section.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=5
MARKDOWN=""
while (($#)); do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --markdown) MARKDOWN=$2; shift 2 ;;
        *) echo "usage: $0 [--rounds N] [--markdown FILE]" >&2; exit 2 ;;
    esac
done
[[ $EUID -eq 0 ]] || { echo "failover_bench: needs root (network namespaces); skipped"; exit 0; }
WANLB=${WANLB_BIN:-$ROOT/build/wanlb}
LABCONN=${WANLB_LABCONN:-$ROOT/build/wanlb-labconn}
LAB_SH=$ROOT/deploy/lab/lab.sh
# shellcheck source=../deploy/lab/lab.sh
source "$LAB_SH"

P="wlfb$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')"
TMP=$(mktemp -d /tmp/wanlb-bench.XXXXXX)
cleanup() {
    lab_stop_proc "$P" agent >/dev/null 2>&1 || true
    ip netns exec "$P-rt" "$WANLB" cleanup >/dev/null 2>&1 || true
    lab_down "$P" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
lab_up --prefix "$P" --wans 2 --clients 4 --servers 4 >/dev/null
cat >"$TMP/cfg.yaml" <<YAML
lan: [lan0]
wans:
  - name: isp1
    interface: wan1
    gateway: 10.100.1.1
  - name: isp2
    interface: wan2
    gateway: 10.100.2.1
YAML
lab_run "$P" rt agent "$WANLB" run -c "$TMP/cfg.yaml" >/dev/null
lab_run "$P" inet server "$LABCONN" serve --port 8080 >/dev/null
for _ in $(seq 100); do grep -q "ready:" "/run/wanlb-lab/$P.agent.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.5

ip netns exec "$P-cl" "$LABCONN" burst --from "$(lab_client_addrs 4)" --to "$(lab_server_addrs 4)" --port 8080 \
    --count 16 --pairs-out "$TMP/pairs" >/dev/null
read -r SRC DST < <(awk '$3=="10.100.1.2" {print $1, $2; exit}' "$TMP/pairs")
[[ -n "${SRC:-}" ]] || { echo "failover_bench: no address pair on isp1" >&2; exit 1; }

now_ms() { date +%s%3N; }
state1() { ip netns exec "$P-rt" "$WANLB" status --json | jq -r '.wans[0].state'; }
wait_state1() { for _ in $(seq 300); do [[ $(state1) == "$1" ]] && return 0; sleep 0.05; done; return 1; }
until_ok() { # [--want-peer ADDR] -> unix ms of the first success
    ip netns exec "$P-cl" "$LABCONN" until-ok --from "$SRC" --to "$DST" --port 8080 --every-ms 10 \
        --attempt-timeout-ms 3000 --max-seconds 20 --json "$@" | tee -a "$TMP/until.log" | jq -r .done_unix_ms
}

declare -a silent carrier recovery
for r in $(seq "$ROUNDS"); do
    t0=$(now_ms); lab_wan_silent "$P" 1; t1=$(until_ok); silent+=($((t1 - t0)))
    wait_state1 down
    t0=$(now_ms); lab_wan_answer "$P" 1; t1=$(until_ok --want-peer 10.100.1.2); recovery+=($((t1 - t0)))
    wait_state1 up
    sleep 0.5
    t0=$(now_ms); lab_wan_down "$P" 1; t1=$(until_ok); carrier+=($((t1 - t0)))
    lab_wan_up "$P" 1
    wait_state1 up
    sleep 0.5
    [[ -n "${BENCH_DEBUG:-}" ]] && { tail -3 "$TMP/until.log" >&2; grep "isp1" "/run/wanlb-lab/$P.agent.log" | tail -6 >&2; }
    echo "round $r: silent ${silent[-1]} ms, carrier ${carrier[-1]} ms, recovery ${recovery[-1]} ms" >&2
done

stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%d %d %d", a[int((NR+1)/2)], a[1], a[NR]}'; }
row() { # NAME TARGET_MS VALUES...
    local name=$1 target=$2 med min max verdict
    shift 2
    read -r med min max <<<"$(stats "$@")"
    verdict="-"
    if [[ $target != - ]]; then ((med <= target)) && verdict=PASS || verdict=MISS; fi
    printf '| %s | %d | %d | %d | %s | %s |\n' "$name" "$med" "$min" "$max" \
        "$([[ $target == - ]] && echo "-" || echo "<= $target ms")" "$verdict"
}
table=$(
    echo "Measured $(date -u +%Y-%m-%dT%H:%M)Z; kernel $(uname -r); $ROUNDS rounds each; default probe settings."
    echo
    echo "| scenario | median ms | min ms | max ms | target | result |"
    echo "|---|---:|---:|---:|---|---|"
    row "silent gateway -> first new connection via the survivor" 1000 "${silent[@]}"
    row "carrier cut -> first new connection via the survivor" 100 "${carrier[@]}"
    row "gateway answers again -> first new connection via it (10 rounds of hysteresis)" - "${recovery[@]}"
    echo
    echo "For scale, the usual defaults elsewhere: RouterOS check-gateway=ping about 20 s (10 s interval, 2 misses),"
    echo "OpenWrt mwan3 about 60 s, pfSense dpinger about 14 s."
)
echo "$table"
if [[ -n "$MARKDOWN" ]]; then
    write_md_section "$MARKDOWN" failover_bench "Failover" "bench/failover_bench.sh --markdown docs/benchmarks.md" "$table"
fi

#!/usr/bin/env bash
# Where two forwarding-bench configurations spend CPU 1's time, per symbol,
# in nanoseconds per forwarded packet: the profiles that FWB_PERF=DIR
# records (bench/forwarding_bench.sh writes DIR/NAME.data and DIR/NAME.pps).
#
#   bench/perf_compare.sh DIR/base-1-none-r1 DIR/tcnc-2-none-r1 [LINES]
#
# ns per packet of a symbol = its share of CPU 1's samples x 1e9 / forwarded
# pps. That holds because CPU 1 is busy all the time during a measurement
# (the generator runs there flat out), so its samples cover the whole
# window. Prints the symbols whose cost grew most from A to B, then those
# that shrank most: A ns, B ns, B - A, symbol.
set -euo pipefail
(($# >= 2)) || { echo "usage: $0 DIR/NAME_A DIR/NAME_B [LINES]" >&2; exit 2; }
A=$1 B=$2 LINES=${3:-25}
command -v perf >/dev/null || { echo "$0: needs perf" >&2; exit 2; }
for x in "$A" "$B"; do
    [[ -f $x.data && -f $x.pps ]] || { echo "$0: $x.data or $x.pps missing (FWB_PERF=DIR bench/forwarding_bench.sh)" >&2; exit 2; }
done

per_symbol() { # NAME -> "symbol<TAB>ns per packet", sorted by symbol
    perf report -i "$1.data" --stdio --no-children --sort sym 2>/dev/null |
        awk -v pps="$(cat "$1.pps")" '/^ +[0-9.]+%/ {
            p = $1; sub("%", "", p); $1 = ""; $2 = ""; sub(/^ +/, "")
            printf "%s\t%.1f\n", $0, p / 100 * 1e9 / pps }' | sort -t $'\t' -k1,1
}
both=$(join -t $'\t' -a1 -a2 -e 0 -o 0,1.2,2.2 <(per_symbol "$A") <(per_symbol "$B") |
    awk -F'\t' '{printf "%8.1f %8.1f %8.1f  %s\n", $2, $3, $3 - $2, $1}')
printf '%8s %8s %8s  %s\n' "A ns" "B ns" "B - A" "symbol (A = $(basename "$A"), B = $(basename "$B"))"
sort -k3,3nr <<<"$both" | head -"$LINES"
echo "..."
sort -k3,3n <<<"$both" | head -"$((LINES / 3))"

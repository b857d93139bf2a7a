#!/usr/bin/env bash
# The whole benchmark suite in one command: the forwarding comparison (with
# the BPF microbenchmark), the scale figures and the failover times. Each
# part builds its own namespaces (unique prefixes, deleted on exit), prints
# its table and, with --markdown FILE, rewrites its section of FILE.
#
# Usage: sudo bench/run_all.sh [--markdown docs/benchmarks.md] [--quick]
#   --quick  fewer rounds and shorter windows (a smoke run, about 5 minutes;
#            the figures are noisier)
# Takes about 15 minutes otherwise. Needs a build (deploy/build.sh).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
MD=()
QUICK=0
while (($#)); do
    case "$1" in
        --markdown) MD=(--markdown "$2"); shift 2 ;;
        --quick) QUICK=1; shift ;;
        *) echo "usage: $0 [--markdown FILE] [--quick]" >&2; exit 2 ;;
    esac
done
[[ $EUID -eq 0 ]] || { echo "bench/run_all.sh: needs root (network namespaces, BPF); skipped"; exit 0; }
if ((QUICK)); then
    fwd=(--rounds 1 --seconds 2); scale=(--rest-seconds 10); fail=(--rounds 2)
else
    fwd=(); scale=(); fail=()
fi
rc=0
echo "== forwarding rate (bench/forwarding_bench.sh) =="
bash "$HERE/forwarding_bench.sh" "${MD[@]}" "${fwd[@]}" || rc=1
echo "== scale (bench/scale_bench.sh) =="
bash "$HERE/scale_bench.sh" "${MD[@]}" "${scale[@]}" || rc=1
echo "== failover (bench/failover_bench.sh) =="
bash "$HERE/failover_bench.sh" "${MD[@]}" "${fail[@]}" || rc=1
exit "$rc"

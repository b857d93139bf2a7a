#!/usr/bin/env bash
# Short fuzzing run for CI (ctest fuzz.short):
#
#   tests/fuzz/run_short.sh BUILD_DIR [SECONDS]      (default 60 per harness)
#
# Builds the harnesses if needed (tests/fuzz/build.sh), then runs each for
# SECONDS over a COPY of the committed corpus in a temp dir: the committed
# corpus never grows in CI. Crash reproducers are kept under
# BUILD_DIR/fuzz/artifacts/ and their paths printed.
#
# Exit: 0 no crash, 1 a crash (or a build error), 77 clang++/libFuzzer
# unavailable or not root (the data path harness needs BPF).
#
# A timeout (-timeout=10 s for one input) counts as a crash. yaml-cpp 0.7's
# known endless loop in LoadAll (a file that is just ",") is filtered out by
# the harness itself, see docs/fuzzing.md.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:?usage: run_short.sh BUILD_DIR [SECONDS]}
SECS=${2:-60}

bash "$SRC/tests/fuzz/build.sh" "$BUILD"
rc=$?
[ $rc -eq 77 ] && { echo "SKIP: clang++ -fsanitize=fuzzer unavailable"; exit 77; }
[ $rc -ne 0 ] && { echo "FAIL: building the harnesses"; exit 1; }
BUILD=$(cd "$BUILD" && pwd)
FUZZ=$BUILD/fuzz

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: fuzz_datapath needs root (BPF_PROG_TEST_RUN)"
  exit 77
fi

work=$(mktemp -d /tmp/wanlb-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
ART=$BUILD/fuzz/artifacts
mkdir -p "$ART"
cp -r "$SRC/tests/fuzz/corpus/datapath" "$work/datapath"
cp -r "$SRC/tests/fuzz/corpus/config" "$work/config"

status=0
report() {  # name log
  local name=$1 log=$2
  grep -E 'INITED|DONE|stat::number_of_executed_units|stat::average_exec_per_sec|cov:' "$log" | tail -n 4 | sed "s/^/  [$name] /"
  local arts
  arts=$(grep -oE "(Test unit|crash|leak|oom|timeout)[^ ]* written to [^ ]+" "$log" | awk '{print $NF}')
  for a in $arts; do
      echo "  [$name] CRASH reproducer: $a"; status=1
  done
}

echo "fuzz_datapath: ${SECS}s"
(cd "$work" && "$FUZZ/fuzz_datapath" -max_total_time="$SECS" -max_len=1600 -timeout=10 -error_exitcode=1 \
   -timeout_exitcode=1 -print_final_stats=1 -artifact_prefix="$ART/datapath-" datapath) >"$work/dp.log" 2>&1
dp_rc=$?
report datapath "$work/dp.log"
if [ $dp_rc -ne 0 ]; then
  status=1
  tail -n 30 "$work/dp.log"
fi

echo "fuzz_config: ${SECS}s"
(cd "$work" && "$FUZZ/fuzz_config" -timeout=10 -timeout_exitcode=1 -rss_limit_mb=2048 \
   -max_len=4096 -max_total_time="$SECS" -error_exitcode=1 -print_final_stats=1 \
   -artifact_prefix="$ART/config-" config) >"$work/cfg.log" 2>&1
cfg_rc=$?
report config "$work/cfg.log"
if [ $cfg_rc -ne 0 ]; then
  status=1
  grep -B5 -A25 'property violated\|ERROR: AddressSanitizer\|runtime error' "$work/cfg.log" | head -n 60
fi

[ $status -eq 0 ] && echo "PASS: no crash" || echo "FAIL: see reproducers above"
exit $status

#!/usr/bin/env bash
# The sanitized pass: ASan + UBSan (+ LeakSanitizer) over the unit tests, the
# root gtest suites (BPF test-run, netns) and a few lab integration tests with
# the sanitized agent.
#
#   bash tests/sanitizers/run_sanitized.sh [BUILD_DIR]     (default: build-asan)
#
# Environment:
#   WANLB_SANITIZE_INTEGRATION  ctest -R regex of the integration tests to run
#                               (default: failover, reload, cleanup; "" = none)
#   WANLB_SANITIZE_PHASES       which phases to run (default: "unit root integration")
#   WANLB_SANITIZE_REPORTS      where sanitizer reports from the integration
#                               phase go (default: a fresh /tmp/wanlb-sanitize.*)
#
# How a sanitizer error fails the run:
#  - gtest binaries: abort_on_error / halt_on_error make the test process die,
#    ctest marks the test failed and --output-on-failure shows the report.
#  - integration tests: the agent runs in the background (lab.sh run), its
#    stderr goes to /run/wanlb-lab/<prefix>.agent.log, which is removed with
#    the lab, and nobody checks its exit status (leaks are only found at exit,
#    after SIGTERM). So in that phase every sanitized process (agent, CLI,
#    wanlb-labconn) writes its reports to files (log_path) in a report
#    directory, and the phase fails unless that directory stays empty.
# Exit status: 0 only if every phase passed and no report was written.
set -uo pipefail
cd "$(dirname "$0")/../.."
SRC=$PWD
BUILD_DIR=${1:-build-asan}
INTEGRATION=${WANLB_SANITIZE_INTEGRATION-'^integration\.test_(failover|reload|cleanup)$'}
PHASES=" ${WANLB_SANITIZE_PHASES:-unit root integration} "
SUPP=$SRC/tests/sanitizers/lsan.supp

t0=$SECONDS
say() { echo "== sanitizers: $*"; }
elapsed() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

say "configure + build $BUILD_DIR (-DWANLB_SANITIZE=ON, Debug)"
if ! cmake -S . -B "$BUILD_DIR" -DWANLB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null ||
    ! cmake --build "$BUILD_DIR" -j"$(nproc)"; then
    echo "sanitizers: FAIL (build failed, $(elapsed "$t0"))"
    exit 1
fi
build_time=$(elapsed "$t0")

# Common options; log_path is added for the integration phase only.
ASAN_BASE="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
[[ -f "$SUPP" ]] && LSAN_OPTIONS="suppressions=$SUPP:print_suppressions=0" && export LSAN_OPTIONS
export ASAN_OPTIONS="$ASAN_BASE"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

declare -a summary=()
failed=0
run_phase() { # NAME CTEST-ARGS...
    local name=$1 t=$SECONDS rc out line
    shift
    say "phase $name: ctest $*"
    out=$(mktemp)
    ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 900 "$@" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+% tests passed|^No tests were found' "$out" | tail -1)
    rm -f "$out"
    ((rc == 0)) || failed=1
    summary+=("$name: ${line:-no ctest summary} (rc=$rc, $(elapsed "$t"))")
}

[[ "$PHASES" != *" unit "* ]] || run_phase unit -L unit -j"$(nproc)"
[[ "$PHASES" != *" root "* ]] || run_phase root -L root -LE "integration|fuzz"

if [[ "$PHASES" == *" integration "* && -n "$INTEGRATION" ]]; then
    REPORTS=${WANLB_SANITIZE_REPORTS:-$(mktemp -d /tmp/wanlb-sanitize.XXXXXX)}
    mkdir -p "$REPORTS"
    if [[ -n "$(ls -A "$REPORTS")" ]]; then
        echo "sanitizers: report directory $REPORTS is not empty" >&2
        exit 1
    fi
    ASAN_OPTIONS="$ASAN_BASE:log_path=$REPORTS/asan" \
        UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$REPORTS/ubsan" \
        run_phase integration -R "$INTEGRATION"
    mapfile -t reports < <(find "$REPORTS" -type f | sort)
    if ((${#reports[@]})); then
        failed=1
        for f in "${reports[@]}"; do
            echo "---------------------------------------------------------------- $f"
            cat "$f"
        done
        summary+=("integration: ${#reports[@]} sanitizer report(s) in $REPORTS (above)")
    else
        summary+=("integration: no sanitizer reports")
        [[ -n "${WANLB_SANITIZE_REPORTS:-}" ]] || rmdir "$REPORTS"
    fi
fi

say "summary"
printf '  %s\n' "${summary[@]}"
if ((failed)); then
    echo "sanitizers: FAIL (build $build_time, total $(elapsed "$t0"))"
    exit 1
fi
echo "sanitizers: PASS (build $build_time, total $(elapsed "$t0"))"

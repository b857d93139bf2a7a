#!/usr/bin/env bash
# Every test: installs the Debian packages, builds, runs ctest (unit, BPF
# data path, namespace and lab integration tests). Root tests skip with a
# message when not root; run as root to run them all.
# Then the sanitized pass (tests/sanitizers/run_sanitized.sh: ASan + UBSan
# build in build-asan, unit + root suites + a few integration tests); set
# WANLB_SKIP_SANITIZE=1 to leave it out. Exits non-zero if either pass fails.
# See docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
bash deploy/build.sh

log=$(mktemp /tmp/wanlb-ctest.XXXXXX)
trap 'rm -f "$log"' EXIT
rc=0
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --timeout 900 "$@" 2>&1 | tee "$log" || rc=$?
main_line=$(grep -E '^[0-9]+% tests passed|^No tests were found' "$log" | tail -1 || true)

san_rc=0 san_line="sanitizers: skipped (WANLB_SKIP_SANITIZE=1)"
if [[ -z "${WANLB_SKIP_SANITIZE:-}" ]]; then
    bash tests/sanitizers/run_sanitized.sh 2>&1 | tee "$log" || san_rc=$?
    san_line=$(grep -E '^sanitizers: (PASS|FAIL)' "$log" | tail -1 || true)
fi

echo
echo "== run_all summary"
echo "${main_line:-ctest: no summary line (rc=$rc)}"
echo "${san_line:-sanitizers: no summary line (rc=$san_rc)}"
((rc == 0 && san_rc == 0))

#!/usr/bin/env bash
# Every test: installs the Debian packages, builds, runs ctest (unit, BPF
# data path, namespace and lab integration tests). Root tests skip with a
# message when not root; run as root to run them all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
bash deploy/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --timeout 900 "$@"

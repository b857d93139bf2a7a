# shellcheck shell=bash
# Helpers for the wanlb lab integration tests.  Source it from a test:
#
#   source "$(dirname "$0")/lab_test_lib.sh"
#   need_root
#   lab_start --wans 2            # sets $LAB, installs the cleanup traps
#   lab exec cl ...               # = lab.sh exec $LAB cl ...
#
# Environment:
#   WANLB_SRC      source tree (default: the repository containing this file)
#   WANLB_BIN      the wanlb agent   (default: $WANLB_SRC/build/wanlb)
#   WANLB_LABCONN  wanlb-labconn     (default: $WANLB_SRC/build/wanlb-labconn)
#   LAB_KEEP=1     do not tear the lab down at exit (debugging)
#
# Exit codes follow ctest conventions: 0 pass, 1 fail, 77 skip.

set -euo pipefail

_LTL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${WANLB_SRC:=$(cd "$_LTL_DIR/../.." && pwd)}"
LAB_SH="$WANLB_SRC/deploy/lab/lab.sh"
_ltl_pick_bin() { # ENV_VALUE NAME
    if [[ -n "$1" ]]; then echo "$1"; return; fi
    local c
    for c in "$WANLB_SRC/build/$2" "$WANLB_SRC/build/bin/$2" "$WANLB_SRC/build/tests/tools/$2"; do
        [[ -x "$c" ]] && { echo "$c"; return; }
    done
    echo "$WANLB_SRC/build/$2"
}
WANLB_BIN=$(_ltl_pick_bin "${WANLB_BIN:-}" wanlb)
WANLB_LABCONN=$(_ltl_pick_bin "${WANLB_LABCONN:-}" wanlb-labconn)
export WANLB_SRC WANLB_BIN WANLB_LABCONN

LAB=""
_LTL_TEST=$(basename "${0:-test}")

# TEST_TMP: this test's own temporary directory, for configs and outputs.
# It goes with the lab (lab_stop, which every exit trap of these libraries
# ends in), or on exit if the test ends before it starts one.
TEST_TMP=$(mktemp -d /tmp/wanlb-test.XXXXXX)
_ltl_rm_tmp() {
    [[ -n "${TEST_TMP:-}" && -d "$TEST_TMP" ]] && rm -rf -- "$TEST_TMP"
    return 0
}
trap _ltl_rm_tmp EXIT

log() { echo "[$(date +%H:%M:%S)] $_LTL_TEST: $*" >&2; }

fail() {
    echo "FAIL: $_LTL_TEST: $*" >&2
    exit 1
}

skip() {
    echo "SKIP: $*" >&2
    exit 77
}

need_root() {
    [[ $EUID -eq 0 ]] || skip "needs root"
    command -v ip >/dev/null || skip "needs iproute2 (ip)"
    ip netns list >/dev/null 2>&1 || skip "ip netns is unusable here"
    [[ -x "$LAB_SH" ]] || [[ -f "$LAB_SH" ]] || fail "lab script not found: $LAB_SH"
}

need_labconn() {
    [[ -x "$WANLB_LABCONN" ]] || skip "wanlb-labconn not built ($WANLB_LABCONN); set WANLB_LABCONN"
}

need_wanlb() {
    [[ -x "$WANLB_BIN" ]] || skip "wanlb not built ($WANLB_BIN); set WANLB_BIN"
}

need_cmd() { # CMD...
    local c
    for c in "$@"; do command -v "$c" >/dev/null || skip "needs $c"; done
}

# Show what the lab's background processes wrote (used when a test fails).
lab_dump_logs() {
    [[ -n "$LAB" ]] || return 0
    local f=/run/wanlb-lab/$LAB.pids name logf
    [[ -f "$f" ]] || return 0
    while read -r _ _ name logf; do
        [[ -f "$logf" ]] || continue
        echo "----- $name ($logf, last 40 lines) -----" >&2
        tail -n 40 "$logf" >&2 || true
    done <"$f"
}

lab_stop() {
    local rc=$?
    _ltl_rm_tmp
    [[ -n "$LAB" ]] || return 0
    local p=$LAB
    if ((rc != 0)); then lab_dump_logs || true; fi
    if [[ -n "${LAB_KEEP:-}" ]]; then
        log "LAB_KEEP set: leaving lab $p up (remove with: $LAB_SH down --prefix $p)"
    else
        bash "$LAB_SH" down --prefix "$p" || echo "WARNING: teardown of lab $p reported errors" >&2
    fi
    LAB=""
    return 0
}

# lab_start [lab.sh up args...]: the prefix is chosen here (unless --prefix is
# given) so the traps are in place before the first namespace exists.
lab_start() {
    local args=("$@") have_prefix=0 i
    for ((i = 0; i < ${#args[@]}; i++)); do
        if [[ "${args[i]}" == --prefix ]]; then have_prefix=1; LAB=${args[i + 1]:-}; fi
    done
    if ((!have_prefix)); then
        LAB="wl$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-5)"
        args+=(--prefix "$LAB")
    fi
    trap lab_stop EXIT
    trap 'lab_stop; exit 130' INT
    trap 'lab_stop; exit 143' TERM
    local out
    out=$(bash "$LAB_SH" up "${args[@]}") || fail "lab.sh up ${args[*]} failed"
    [[ "$out" == "$LAB" ]] || fail "lab.sh up printed '$out', expected '$LAB'"
    log "lab $LAB is up ($*)"
}

# lab SUBCOMMAND ARGS...: lab.sh with the current prefix filled in, e.g.
#   lab exec cl ping ...   lab run inet srv CMD...   lab wan-down 2
lab() {
    local cmd=$1
    shift
    [[ -n "$LAB" ]] || fail "no lab running"
    case "$cmd" in
        down) bash "$LAB_SH" down --prefix "$LAB" ;;
        *) bash "$LAB_SH" "$cmd" "$LAB" "$@" ;;
    esac
}

# The namespaces of this lab that still exist on the host (exact names).
lab_existing_ns() { # PREFIX
    ip netns list | awk '{print $1}' | grep -E "^$1-(cl|rt|inet|isp[0-9]+)\$" || true
}

# bcp38_drops I [wrong-wan|spoofed|all]: packets ISP I dropped because their
# source is not its customer's (lab.sh's `inet bcp38` table); wrong-wan =
# those with another WAN's address (a reply that left through the wrong WAN).
bcp38_drops() {
    local kind=${2:-all}
    ip netns exec "$LAB-isp$1" nft list table inet bcp38 | awk -v k="$kind" '
        /counter packets/ && (k == "all" || index($0, "\"" k "\"")) {
            for (i = 1; i <= NF; i++) if ($i == "packets") n += $(i + 1) }
        END { print n + 0 }'
}

assert_eq() { # NAME ACTUAL EXPECTED
    [[ "$2" == "$3" ]] || fail "$1: expected '$3', got '$2'"
    log "ok: $1 = $2"
}

assert_between() { # NAME VALUE LO HI (numbers, inclusive)
    awk -v v="$2" -v lo="$3" -v hi="$4" 'BEGIN { exit !(v ~ /^-?[0-9.]+$/ && v + 0 >= lo + 0 && v + 0 <= hi + 0) }' ||
        fail "$1: $2 not in [$3, $4]"
    log "ok: $1 = $2 in [$3, $4]"
}

# json_get JSON FILTER: a jq filter (raw output) on a JSON text.
json_get() {
    command -v jq >/dev/null || skip "needs jq"
    jq -r "$2" <<<"$1"
}

# wait_for TIMEOUT_S CMD...: retry CMD every 0.1 s until it succeeds.
wait_for() {
    local t=$1 end
    shift
    end=$((SECONDS + t))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < end)) || return 1
        sleep 0.1
    done
}

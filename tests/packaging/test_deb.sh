#!/usr/bin/env bash
# Packaging test: build the .deb with cpack and inspect it without installing.
#
#   bash tests/packaging/test_deb.sh [BUILD_DIR]     (default: build/)
#
# Never installs the package and never starts wanlb: the .deb is only listed,
# read and extracted into a temp dir (its postinst and unit would act on this
# machine's network). The extracted binary runs only `--version` and
# `check --no-interfaces`, which touch nothing.
#
# Exit: 0 pass, 1 fail, 77 skip (cpack, dpkg-deb or dpkg-shlibdeps missing,
# or the build dir is not configured).
# shellcheck disable=SC2015,SC2016  # pass() never fails; $MAINPID is literal unit text
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$SRC/build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "SKIP: build dir ${1:-build} does not exist"; exit 77; }

skip() { echo "SKIP: $*"; exit 77; }
failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }

for tool in cpack dpkg-deb dpkg-shlibdeps file; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool not found (apt-get install cmake dpkg-dev file)"
done
[[ -f $BUILD/CPackConfig.cmake ]] || skip "$BUILD has no CPackConfig.cmake (configure with cmake first)"

WORK=$(mktemp -d /tmp/wanlb-deb-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# ------------------------------------------------------------------ build
# The package needs the built binary and BPF object; build them if missing.
if [[ ! -x $BUILD/wanlb || ! -x $BUILD/wanlb-agent || ! -f $BUILD/bpf/wanlb_tc.bpf.o ]]; then
    cmake --build "$BUILD" --target wanlb -j2 >"$WORK/build.log" 2>&1 ||
        { tail -20 "$WORK/build.log"; echo "FAIL - cannot build wanlb"; exit 1; }
fi
# The package lands in $WORK, not in the build dir: parallel runs and stale
# packages of other versions cannot be confused with this one.
if ! (cd "$BUILD" && cpack -G DEB -B "$WORK/out") >"$WORK/cpack.log" 2>&1; then
    cat "$WORK/cpack.log"
    find "$WORK/out" -name PreinstallOutput.log -exec tail -30 {} \; 2>/dev/null
    echo "FAIL - cpack -G DEB"
    exit 1
fi
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$BUILD/CPackConfig.cmake" | head -1)
arch=$(dpkg --print-architecture)
DEB="$WORK/out/wanlb_${version}_${arch}.deb"
if [[ -f $DEB ]]; then pass "cpack made $(basename "$DEB")"; else
    ls -l "$WORK/out"; fail "no $(basename "$DEB")"; exit 1; fi

# ------------------------------------------------------------------ control fields
dpkg-deb -I "$DEB" >"$WORK/info" || { fail "dpkg-deb -I"; exit 1; }
field() { dpkg-deb -f "$DEB" "$1"; }
[[ $(field Package) == wanlb ]] && pass "Package: wanlb" || fail "Package is '$(field Package)'"
[[ $(field Version) == "$version" ]] && pass "Version: $version" || fail "Version is '$(field Version)'"
[[ $(field Architecture) == "$arch" ]] && pass "Architecture: $arch" || fail "Architecture is '$(field Architecture)'"
[[ $(field Section) == net ]] && pass "Section: net" || fail "Section is '$(field Section)'"
[[ -n $(field Maintainer) ]] && pass "Maintainer: $(field Maintainer)" || fail "no Maintainer"
[[ -n $(field Description) ]] && pass "Description present" || fail "no Description"
depends=$(field Depends)
echo "     Depends: $depends"
for dep in libbpf1 libnl-route-3-200 iproute2 nftables; do
    # a whole package name in the comma list, with or without a version
    if grep -Eq "(^|[ ,])${dep//./\\.}([ ,(]|$)" <<<"$depends"; then pass "Depends has $dep"; else fail "Depends lacks $dep"; fi
done

# ------------------------------------------------------------------ contents
dpkg-deb -c "$DEB" >"$WORK/contents" || { fail "dpkg-deb -c"; exit 1; }
has() { awk '{print $NF}' "$WORK/contents" | sed 's|^\./|/|' | grep -qx -- "$1"; }
for f in /usr/sbin/wanlb /usr/sbin/wanlb-agent /etc/wanlb/wanlb.yaml.example /usr/share/doc/wanlb/README.md \
         /usr/share/doc/wanlb/operations.md /usr/share/doc/wanlb/examples/wanlb.yaml \
         /usr/share/wanlb/bpf/wanlb_tc.bpf.o; do
    has "$f" && pass "contains $f" || fail "missing $f"
done
if has /lib/systemd/system/wanlb.service; then UNIT_PATH=/lib/systemd/system/wanlb.service
elif has /usr/lib/systemd/system/wanlb.service; then UNIT_PATH=/usr/lib/systemd/system/wanlb.service
else UNIT_PATH=; fi
[[ -n $UNIT_PATH ]] && pass "contains $UNIT_PATH" || fail "missing the unit (lib/systemd/system/wanlb.service)"
if [[ -f $SRC/deploy/grafana/wanlb-dashboard.json ]]; then
    has /usr/share/doc/wanlb/wanlb-dashboard.json && pass "contains the Grafana dashboard" \
        || fail "deploy/grafana/wanlb-dashboard.json exists but is not in the package"
fi
# Every path is either under /usr or the example config: nothing else in /etc
# (dpkg would own it) and nothing in /usr/local.
stray=$(awk '{print $NF}' "$WORK/contents" | sed 's|^\./|/|' | grep -v '/$' |
        grep -Ev '^/usr/|^/etc/wanlb/wanlb\.yaml\.example$|^/lib/systemd/system/' || true)
[[ -z $stray ]] && pass "no files outside /usr and the example config" || fail "stray files: $stray"
grep -q 'usr/local' "$WORK/contents" && fail "files under /usr/local" || true
mode=$(awk '$NF ~ /usr\/sbin\/wanlb$/ {print $1}' "$WORK/contents")
[[ $mode == -rwxr-xr-x ]] && pass "wanlb is -rwxr-xr-x" || fail "wanlb mode is $mode"

# ------------------------------------------------------------------ extract and run
ROOT="$WORK/root"
dpkg-deb -x "$DEB" "$ROOT" || { fail "dpkg-deb -x"; exit 1; }
BIN="$ROOT/usr/sbin/wanlb"
out=$("$BIN" --version 2>&1); rc=$?
[[ $rc -eq 0 && $out == "wanlb $version" ]] && pass "wanlb --version: $out" || fail "wanlb --version: rc=$rc '$out'"
file "$BIN" | grep -q 'stripped' && ! file "$BIN" | grep -q 'not stripped' && pass "binary is stripped" \
    || echo "note - binary is not stripped"
cmp -s "$ROOT/etc/wanlb/wanlb.yaml.example" "$SRC/deploy/examples/wanlb.yaml" \
    && pass "example config is deploy/examples/wanlb.yaml" || fail "example config differs from deploy/examples/wanlb.yaml"
# check --no-interfaces parses and plans the shipped example; touches nothing.
if "$BIN" check -c "$ROOT/etc/wanlb/wanlb.yaml.example" --no-interfaces >"$WORK/check.out" 2>&1; then
    pass "wanlb check --no-interfaces on the shipped example"
else
    cat "$WORK/check.out"; fail "wanlb check --no-interfaces on the shipped example"
fi
bpf_type=$(file -b "$ROOT/usr/share/wanlb/bpf/wanlb_tc.bpf.o")
[[ $bpf_type == *eBPF* ]] && pass "BPF object: $bpf_type" || fail "BPF object: $bpf_type"

# ------------------------------------------------------------------ the unit
UNIT="$ROOT$UNIT_PATH"
if [[ -n $UNIT_PATH && -f $UNIT ]]; then
    for kv in 'Type=notify' 'ExecStart=/usr/sbin/wanlb run -c /etc/wanlb/wanlb.yaml' \
              'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=on-failure' 'RuntimeDirectory=wanlb' \
              'RuntimeDirectoryPreserve=yes' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'LimitMEMLOCK=infinity'; do
        grep -qxF -- "$kv" "$UNIT" && pass "unit: $kv" || fail "unit lacks '$kv'"
    done
    grep -Eq '^ExecStop(Post)?=' "$UNIT" && fail "unit has ExecStop/ExecStopPost (the data path must survive a stop)" \
        || pass "unit has no ExecStop/ExecStopPost"
    grep -q '^ProtectKernelTunables=yes' "$UNIT" && fail "ProtectKernelTunables=yes blocks the sysctls the agent sets" || true
    if command -v systemd-analyze >/dev/null 2>&1; then
        # Verify against the extracted tree (--root), where ExecStart's
        # /usr/sbin/wanlb exists. systemd-analyze also loads the units the
        # unit refers to (network.target, multi-user.target) from that root,
        # where they do not exist: those "not found" messages are expected;
        # anything else (bad keys, bad values, missing binaries) fails.
        UNITDIR=$(dirname "$UNIT_PATH")
        mkdir -p "$ROOT/etc/systemd/system" "$ROOT/bin"
        cp -L /bin/kill "$ROOT/bin/kill"   # ExecReload's binary, from procps, not in the package
        SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no --root="$ROOT" "$UNITDIR/wanlb.service" \
            >"$WORK/verify.out" 2>&1
        vrc=$?
        unexpected=$(grep -v -E "Unit [-a-zA-Z0-9_.@]+\.(target|slice|mount) not found\.?$|^$" "$WORK/verify.out" || true)
        if [[ -z $unexpected ]]; then
            pass "systemd-analyze verify (rc=$vrc; only missing-target messages from the bare root)"
        else
            cat "$WORK/verify.out"; fail "systemd-analyze verify reports: $unexpected"
        fi
    else
        echo "skip - systemd-analyze not installed: unit not verified (apt-get install systemd)"
    fi
fi

# ------------------------------------------------------------------ maintainer scripts
mkdir -p "$WORK/ctrl"
dpkg-deb --ctrl-tarfile "$DEB" | tar -x -C "$WORK/ctrl" || fail "dpkg-deb --ctrl-tarfile"
for s in postinst prerm postrm; do
    f="$WORK/ctrl/$s"
    if [[ ! -f $f ]]; then fail "control archive lacks $s"; continue; fi
    [[ -x $f ]] && pass "$s is executable" || fail "$s is not executable"
    sh -n "$f" && pass "$s: sh -n" || fail "$s: syntax error"
    grep -q '^set -e' "$f" && pass "$s: set -e" || fail "$s: no set -e"
    grep -q 'systemctl' "$f" && { grep -q 'command -v systemctl' "$f" && pass "$s: systemctl guarded" \
        || fail "$s: calls systemctl without 'command -v systemctl'"; }
    if command -v shellcheck >/dev/null 2>&1; then
        shellcheck -s sh "$f" && pass "$s: shellcheck" || fail "$s: shellcheck"
    fi
done
grep -qx '/etc/wanlb/wanlb.yaml.example' "$WORK/ctrl/conffiles" 2>/dev/null \
    && pass "conffiles: /etc/wanlb/wanlb.yaml.example" || fail "conffiles lacks the example config"
# postrm must never remove the operator's config.
grep -Eq 'rm .*wanlb\.yaml([^.]|$)|rm -r' "$WORK/ctrl/postrm" && fail "postrm may remove user configs" \
    || pass "postrm removes only the example config"
# postinst starts the service only when the config exists.
grep -q '\[ -f /etc/wanlb/wanlb.yaml \]' "$WORK/ctrl/postinst" && pass "postinst starts only with a config" \
    || fail "postinst does not check for /etc/wanlb/wanlb.yaml"

# Run the maintainer scripts with a fake systemctl on PATH and a machine
# that is "not booted with systemd": they must succeed without touching /etc
# of this host. The scripts use absolute /etc paths, so only the branches that
# do not write there are run: prerm (upgrade) and postrm (upgrade).
FAKEBIN="$WORK/fakebin"; mkdir -p "$FAKEBIN"
printf '#!/bin/sh\necho "systemctl $*" >>"%s/systemctl.log"\n' "$WORK" >"$FAKEBIN/systemctl"; chmod +x "$FAKEBIN/systemctl"
PATH="$FAKEBIN:$PATH" sh "$WORK/ctrl/prerm" upgrade 0.0.1 && pass "prerm upgrade exits 0" || fail "prerm upgrade"
PATH="$FAKEBIN:$PATH" sh "$WORK/ctrl/postrm" upgrade 0.0.1 && pass "postrm upgrade exits 0" || fail "postrm upgrade"
PATH="$FAKEBIN:$PATH" sh "$WORK/ctrl/postinst" bogus-arg >/dev/null 2>&1 && fail "postinst accepts an unknown argument" \
    || pass "postinst rejects an unknown argument"

echo
if ((failures)); then echo "test_deb: $failures check(s) failed"; exit 1; fi
echo "test_deb: all checks passed"
exit 0

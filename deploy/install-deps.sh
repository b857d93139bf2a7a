#!/usr/bin/env bash
# Install what wanlb needs to build, test and run its lab on Debian 12.
# Idempotent; run as root.
set -euo pipefail
PACKAGES=(
    build-essential cmake pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
    libnl-3-dev libnl-route-3-dev libnl-nf-3-dev libnftables-dev libcli11-dev libspdlog-dev libfmt-dev
    libyaml-cpp-dev nlohmann-json3-dev libcpp-httplib-dev libgtest-dev googletest
    iproute2 nftables iputils-ping jq procps conntrack curl util-linux
    dpkg-dev file systemd                  # cpack -G DEB (dpkg-shlibdeps, file); systemd-analyze
    yamllint
    libcap-dev netsniff-ng                 # least privilege (agent/privileges.cpp); trafgen for the WAN flood test
    ethtool                                # the forwarding benchmark turns on GRO (NAPI) on its veths
)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "install-deps: all packages present"
fi

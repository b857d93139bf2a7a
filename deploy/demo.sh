#!/usr/bin/env bash
# Quick-start demo: install, build, bring up a lab of network namespaces
# (LAN clients, a router running wanlb, three ISPs with weights 3:2:1, an
# "internet" host on documentation addresses), open a few hundred real TCP
# connections, print each WAN's share next to its weight, tear it all down.
# Nothing outside the lab's own namespaces is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[[ $EUID -eq 0 ]] || { echo "demo: run as root (it builds network namespaces)" >&2; exit 1; }

bash deploy/install-deps.sh
bash deploy/build.sh

WANLB=$ROOT/build/wanlb
LABCONN=$ROOT/build/wanlb-labconn
LAB_SH=$ROOT/deploy/lab/lab.sh
# shellcheck source=lab/lab.sh
source "$LAB_SH"
CFG=$(mktemp /tmp/wanlb-demo.XXXXXX.yaml)
P=""
teardown() {
    if [[ -n "$P" ]]; then
        lab_stop_proc "$P" agent >/dev/null 2>&1 || true
        ip netns exec "$P-rt" "$WANLB" cleanup >/dev/null 2>&1 || true
        lab_down "$P" >/dev/null 2>&1 || true
    fi
    rm -f "$CFG" "$CFG.flows"
}
trap teardown EXIT INT TERM

P="wldemo$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')"
lab_up --prefix "$P" --wans 3 --clients 24 --servers 25 >/dev/null
echo "demo: lab $P is up: clients in $P-cl, router $P-rt, ISPs $P-isp1..3, internet $P-inet"

cat >"$CFG" <<YAML
lan: [lan0]
classifier: both-addresses
wans:
  - name: isp1
    interface: wan1
    gateway: 10.100.1.1
    weight: 3
  - name: isp2
    interface: wan2
    gateway: 10.100.2.1
    weight: 2
  - name: isp3
    interface: wan3
    gateway: 10.100.3.1
    weight: 1
YAML
echo; echo "demo: wanlb check -c config.yaml"
ip netns exec "$P-rt" "$WANLB" check -c "$CFG"

lab_run "$P" rt agent "$WANLB" run -c "$CFG" >/dev/null
lab_run "$P" inet server "$LABCONN" serve --port 8080 >/dev/null
for _ in $(seq 100); do
    grep -q "ready:" "/run/wanlb-lab/$P.agent.log" 2>/dev/null && break
    sleep 0.1
done
grep -q "ready:" "/run/wanlb-lab/$P.agent.log" || { cat "/run/wanlb-lab/$P.agent.log"; exit 1; }
echo; echo "demo: agent log"; sed 's/^/  /' "/run/wanlb-lab/$P.agent.log"
sleep 0.5

N=600
echo; echo "demo: $N TCP connections from 24 clients to 25 servers (one per address pair)"
out=$(ip netns exec "$P-cl" "$LABCONN" burst --from "$(lab_client_addrs 24)" --to "$(lab_server_addrs 25)" \
    --port 8080 --count $N --json)
echo
printf "%-6s %-6s %-13s %-12s %s\n" WAN WEIGHT "TARGET SHARE" CONNECTIONS "MEASURED SHARE (seen by the server)"
i=0
for w in 3 2 1; do
    i=$((i + 1))
    n=$(jq -r ".by_peer[\"10.100.$i.2\"] // 0" <<<"$out")
    awk -v name="isp$i" -v w="$w" -v n="$n" -v t="$N" \
        'BEGIN { printf "%-6s %-6d %11.1f%%  %-12d %.1f%%\n", name, w, 100 * w / 6, n, 100 * n / t }'
done
echo "connections ok: $(jq .ok <<<"$out") of $N"

echo; echo "demo: wanlb status (from a separate ip netns exec)"
ip netns exec "$P-rt" "$WANLB" status
echo; echo "demo: first flows (wanlb flows)"
ip netns exec "$P-rt" "$WANLB" flows >"$CFG.flows"
head -6 "$CFG.flows"
echo; echo "demo: the same state with bpftool alone: bpftool map lookup name wanlb_wans key 1 0 0 0"
ip netns exec "$P-rt" bpftool map lookup name wanlb_wans key 1 0 0 0
echo; echo "demo: tearing down"

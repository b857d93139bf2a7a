#!/usr/bin/env bash
# Probe methods and targets in the lab:
#  - isp1 probes its gateway by ARP: when the gateway stops answering ARP
#    (the link stays up), isp1 goes down; when it answers again, isp1 comes up.
#  - isp2 probes its gateway AND a host beyond it (203.0.113.10) with
#    reliability 2: when isp2's upstream breaks but its gateway still
#    answers, isp2 goes down (what RouterOS needs recursive routes or
#    netwatch for), and the probes really leave through wan2 (isp1's
#    upstream keeps working the whole time).
source "$(dirname "${BASH_SOURCE[0]}")/wanlb_test_lib.sh"
need_root; need_labconn; need_wanlb; need_cmd jq

lab_start --wans 2 --clients 4 --servers 4
server_start
CFG=$TEST_TMP/wanlb.yaml
cat >"$CFG" <<YAML
lan: [lan0]
wans:
  - name: isp1
    interface: wan1
    gateway: 10.100.1.1
    probe:
      method: arp
  - name: isp2
    interface: wan2
    gateway: 10.100.2.1
    probe:
      targets: [gateway, 203.0.113.10]
      reliability: 2
YAML
agent_start "$CFG"
state() { wanlb_rt status --json | jq -r ".wans[] | select(.name==\"$1\") | .state"; }
is_state() { [[ $(state "$1") == "$2" ]]; }
wait_for 3 is_state isp1 up || fail "isp1 not up"
wait_for 3 is_state isp2 up || fail "isp2 not up"
sleep 1
assert_eq "isp2 still up after a second of two-target rounds" "$(state isp2)" up

# ARP: the gateway stops answering ARP, the carrier stays up.
lab exec isp1 ip link set down0 arp off
wait_for 5 is_state isp1 down || fail "isp1 did not go down when its gateway stopped answering ARP"
lab exec isp1 ip link set down0 arp on
wait_for 6 is_state isp1 up || fail "isp1 did not come back when ARP answered again"

# Beyond the gateway: isp2 stops forwarding; its gateway still answers.
lab exec isp2 sysctl -qw net.ipv4.ip_forward=0
wait_for 5 is_state isp2 down || fail "isp2 did not go down when only the host beyond its gateway failed"
assert_eq "isp1 unaffected" "$(state isp1)" up
lab exec isp2 sysctl -qw net.ipv4.ip_forward=1
wait_for 6 is_state isp2 up || fail "isp2 did not come back"
log "PASS"

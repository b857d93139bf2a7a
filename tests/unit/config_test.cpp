// Tests of the config loader (agent/config.cpp): accepted configs resolve
// to the right ids, marks and tables; every rejection names file, line and
// key path, because that message is all an operator gets at startup.
#include "config.h"
#include "metrics.h"
#include "plan.h"

#include <gtest/gtest.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace wanlb {
namespace {

const char* const kSource = "wanlb.yaml";

Config parse(const std::string& yaml) { return parse_config(yaml, kSource); }

// The ConfigError message for `yaml`, or "(accepted)".
std::string error_of(const std::string& yaml) {
  try {
    parse(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(accepted)";
}

// `n` WANs w1..wN on eth1..ethN, one flow mapping per line after `wans:`;
// `extra_top` lines go between `lan` and `wans`. `gateway: auto` because a
// WAN without a gateway cannot probe the default target [gateway].
std::string config_with_wans(size_t n, const std::string& extra_top = "") {
  std::string y = "lan: [br0]\n" + extra_top + "wans:\n";
  for (size_t i = 1; i <= n; i++)
    y += "  - {name: w" + std::to_string(i) + ", interface: eth" + std::to_string(i) + ", gateway: auto}\n";
  return y;
}

// ----------------------------------------------------------- accepted

TEST(Config, FullConfigResolvesEverything) {
  const Config c = parse(R"(lan:
  - br0
  - br1
classifier: both-addresses-and-ports
flow_table_size: 65536
bypass:
  - 10.0.0.0/8
  - 192.168.1.1
  - 2001:db8::/32
mark_mask: "0x0000ff00"
first_table: 200
rule_priority: 900
route_protocol: 42
bpffs_dir: /sys/fs/bpf/lab
wans:
  - name: fiber
    interface: eth1
    gateway: 192.0.2.1
    weight: 3
  - name: lte
    interface: wwan0
    gateway: auto
    weight: 1000
    mark: 0x0000ff00
    table: 300
  - name: v6.only
    interface: eth2
    gateway: fe80::1
)");
  EXPECT_EQ(c.source, kSource);
  EXPECT_EQ(c.lan, (std::vector<std::string>{"br0", "br1"}));
  EXPECT_EQ(c.lan_lines, (std::vector<int>{2, 3}));
  EXPECT_EQ(c.classifier, WANLB_CLS_BOTH_ADDRESSES_AND_PORTS);
  EXPECT_EQ(c.flow_table_size, 65536u);
  ASSERT_EQ(c.bypass.size(), 3u);
  EXPECT_EQ(c.bypass[0].str(), "10.0.0.0/8");
  EXPECT_EQ(c.bypass[1].str(), "192.168.1.1/32");
  EXPECT_EQ(c.bypass[2].str(), "2001:db8::/32");
  EXPECT_EQ(c.bypass[2].addr.family, AF_INET6);
  EXPECT_EQ(c.mark_mask, 0x0000ff00u);
  EXPECT_EQ(c.first_table, 200u);
  EXPECT_EQ(c.rule_priority, 900u);
  // `wanlb check` names the whole block of preferences the rules take.
  EXPECT_NE(describe_plan(c).find("  pref 901..905: the router's own traffic (iif lo); everything else skips to the "
                                  "nop at 905\n"),
            std::string::npos)
      << describe_plan(c);
  EXPECT_EQ(c.route_protocol, 42u);
  EXPECT_EQ(c.bpffs_dir, "/sys/fs/bpf/lab");
  ASSERT_EQ(c.wans.size(), 3u);

  const WanConfig& fiber = c.wans[0];
  EXPECT_EQ(fiber.name, "fiber");
  EXPECT_EQ(fiber.interface, "eth1");
  EXPECT_TRUE(fiber.has_gateway);
  EXPECT_EQ(fiber.gateway.family, AF_INET);
  EXPECT_EQ(fiber.gateway.str(), "192.0.2.1");
  EXPECT_EQ(fiber.weight, 3u);
  EXPECT_EQ(fiber.id, 1u);
  EXPECT_EQ(fiber.mark, 0x100u);  // 1 << ctz(0xff00)
  EXPECT_EQ(fiber.table, 200u);   // first_table + 0
  EXPECT_EQ(fiber.line, 16);
  EXPECT_EQ(fiber.interface_line, 17);

  EXPECT_FALSE(fiber.gateway_auto);

  const WanConfig& lte = c.wans[1];
  EXPECT_FALSE(lte.has_gateway);
  EXPECT_TRUE(lte.gateway_auto);
  EXPECT_EQ(lte.weight, 1000u);
  EXPECT_EQ(lte.id, 2u);
  EXPECT_EQ(lte.mark, 0xff00u);  // explicit
  EXPECT_EQ(lte.table, 300u);    // explicit
  EXPECT_EQ(lte.line, 20);

  const WanConfig& v6 = c.wans[2];
  EXPECT_EQ(v6.name, "v6.only");
  EXPECT_EQ(v6.gateway.family, AF_INET6);
  EXPECT_EQ(v6.gateway.str(), "fe80::1");
  EXPECT_EQ(v6.weight, 1u);
  EXPECT_EQ(v6.id, 3u);
  EXPECT_EQ(v6.mark, 0x300u);
  EXPECT_EQ(v6.table, 202u);
  EXPECT_EQ(v6.interface_line, 27);
}

TEST(Config, Defaults) {
  // The smallest config: every WAN needs a gateway (or `gateway: auto`, or
  // probe targets / method none) because the default probe target is it.
  const Config c =
      parse("lan: [br0]\nwans:\n  - name: isp1\n    interface: eth1\n    gateway: 192.0.2.1\n  - name: isp2\n"
            "    interface: ppp0\n    probe: {method: none}\n");
  EXPECT_EQ(c.classifier, WANLB_CLS_BOTH_ADDRESSES);
  EXPECT_EQ(c.flow_table_size, 262144u);
  EXPECT_TRUE(c.bypass.empty());
  EXPECT_EQ(c.mark_mask, 0x00ff0000u);
  EXPECT_EQ(c.first_table, 100u);
  EXPECT_EQ(c.rule_priority, 1000u);
  EXPECT_EQ(c.route_protocol, 201u);
  EXPECT_EQ(c.bpffs_dir, "/sys/fs/bpf/wanlb");
  EXPECT_EQ(c.hook, "");
  ASSERT_EQ(c.wans.size(), 2u);
  EXPECT_TRUE(c.wans[0].has_gateway);
  EXPECT_FALSE(c.wans[0].gateway_auto);
  EXPECT_FALSE(c.wans[1].has_gateway);
  EXPECT_FALSE(c.wans[1].gateway_auto);
  EXPECT_EQ(c.wans[0].weight, 1u);
  EXPECT_EQ(c.wans[0].tier, 1u);
  EXPECT_EQ(c.wans[1].tier, 1u);
  EXPECT_EQ(c.wans[0].mark, 0x00010000u);
  EXPECT_EQ(c.wans[1].mark, 0x00020000u);
  EXPECT_EQ(c.wans[0].table, 100u);
  EXPECT_EQ(c.wans[1].table, 101u);

  const ProbeConfig& p = c.wans[0].probe;
  EXPECT_EQ(p.method, ProbeMethod::Icmp);
  ASSERT_EQ(p.targets.size(), 1u);
  EXPECT_TRUE(p.targets[0].is_gateway);
  EXPECT_EQ(p.interval_ms, 200u);
  EXPECT_EQ(p.timeout_ms, 500u);
  EXPECT_EQ(p.down, 3u);
  EXPECT_EQ(p.up, 10u);
  EXPECT_EQ(p.reliability, 1u);
  EXPECT_EQ(p.max_loss_ppm, 0u);
  EXPECT_EQ(p.max_rtt_ms, 0u);
  EXPECT_EQ(p.quality_window_ms, 10000u);

  // method none keeps the (ignored) default targets; nothing else changes.
  const ProbeConfig& q = c.wans[1].probe;
  EXPECT_EQ(q.method, ProbeMethod::None);
  EXPECT_EQ(q.targets, p.targets);
  EXPECT_EQ(q.interval_ms, 200u);
  EXPECT_EQ(q.quality_window_ms, 10000u);
}

// One WAN `a` on eth1, then `probe:` with `keys` (one per line, indented
// for you). With a gateway the first key is on line 7, without on line 6.
std::string probe_config(const std::vector<std::string>& keys, const std::string& gateway = "192.0.2.1") {
  std::string y = "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n";
  if (!gateway.empty()) y += "    gateway: " + gateway + "\n";
  y += "    probe:\n";
  for (const auto& k : keys) y += "      " + k + "\n";
  return y;
}

ProbeConfig probe_of(const std::vector<std::string>& keys, const std::string& gateway = "192.0.2.1") {
  return parse(probe_config(keys, gateway)).wans.at(0).probe;
}

TEST(Config, ProbeEveryKey) {
  const Config c = parse(R"(lan: [br0]
hook: /etc/wanlb/on-change
wans:
  - name: a
    interface: eth1
    gateway: 192.0.2.1
    tier: 2
    probe:
      method: icmp
      targets:
        - gateway
        - 198.51.100.53
        - 2001:db8::53
      interval: 1.5s
      timeout: 750ms
      down: 5
      up: 20
      reliability: 2
      max_loss: 2.5%
      max_rtt: 300ms
      quality_window: 2m
  - name: b
    interface: eth2
    gateway: auto
    tier: 16
    probe:
      method: arp
)");
  EXPECT_EQ(c.hook, "/etc/wanlb/on-change");
  ASSERT_EQ(c.wans.size(), 2u);
  const WanConfig& a = c.wans[0];
  EXPECT_EQ(a.tier, 2u);
  const ProbeConfig& p = a.probe;
  EXPECT_EQ(p.method, ProbeMethod::Icmp);
  ASSERT_EQ(p.targets.size(), 3u);
  EXPECT_TRUE(p.targets[0].is_gateway);
  EXPECT_FALSE(p.targets[1].is_gateway);
  EXPECT_EQ(p.targets[1].addr.str(), "198.51.100.53");
  EXPECT_EQ(p.targets[2].addr.family, AF_INET6);
  EXPECT_EQ(p.targets[2].addr.str(), "2001:db8::53");
  EXPECT_EQ(p.interval_ms, 1500u);
  EXPECT_EQ(p.timeout_ms, 750u);
  EXPECT_EQ(p.down, 5u);
  EXPECT_EQ(p.up, 20u);
  EXPECT_EQ(p.reliability, 2u);
  EXPECT_EQ(p.max_loss_ppm, 25000u);
  EXPECT_EQ(p.max_rtt_ms, 300u);
  EXPECT_EQ(p.quality_window_ms, 120000u);

  const WanConfig& b = c.wans[1];
  EXPECT_EQ(b.tier, 16u);
  EXPECT_TRUE(b.gateway_auto);
  EXPECT_FALSE(b.has_gateway);
  EXPECT_EQ(b.gateway.family, 0);
  EXPECT_EQ(b.probe.method, ProbeMethod::Arp);
  ASSERT_EQ(b.probe.targets.size(), 1u);
  EXPECT_TRUE(b.probe.targets[0].is_gateway);
}

TEST(Config, DurationForms) {
  struct Case {
    const char* text;
    uint32_t ms;
  };
  const Case cases[] = {
      {"10ms", 10},    {"200ms", 200},  {"0200ms", 200}, {"1s", 1000},      {"1.5s", 1500}, {"0.25s", 250},
      {"1.001s", 1001}, {"2.50s", 2500}, {"1m", 60000},  {"0.5m", 30000},   {"60s", 60000}, {"\"3s\"", 3000},
      {"10.0ms", 10},  {"0.001m", 60},
  };
  for (const Case& k : cases) {
    const ProbeConfig p = probe_of({std::string("interval: ") + k.text, "quality_window: 10m"});
    EXPECT_EQ(p.interval_ms, k.ms) << k.text;
  }
  EXPECT_EQ(probe_of({"quality_window: 10m"}).quality_window_ms, 600000u);
  EXPECT_EQ(probe_of({"quality_window: 1.5m"}).quality_window_ms, 90000u);
  EXPECT_EQ(probe_of({"max_rtt: 0ms"}).max_rtt_ms, 0u);
  EXPECT_EQ(probe_of({"max_rtt: 60s"}).max_rtt_ms, 60000u);
  EXPECT_EQ(probe_of({"timeout: 10ms"}).timeout_ms, 10u);
  // quality_window may equal interval.
  const ProbeConfig eq = probe_of({"interval: 30s", "quality_window: 30s"});
  EXPECT_EQ(eq.quality_window_ms, eq.interval_ms);
}

TEST(Config, PercentForms) {
  struct Case {
    const char* text;
    uint32_t ppm;
  };
  const Case cases[] = {
      {"0%", 0},           {"5%", 50000},    {"2.5%", 25000},  {"12.34%", 123400}, {"0.0001%", 1},
      {"100%", 1000000},   {"100.0%", 1000000}, {"\"7%\"", 70000}, {"1.50%", 15000},
  };
  for (const Case& k : cases)
    EXPECT_EQ(probe_of({std::string("max_loss: ") + k.text}).max_loss_ppm, k.ppm) << k.text;
}

TEST(Config, ProbeTargetsWithoutGateway) {
  // Point-to-point WANs probe addresses beyond the link, or not at all.
  ProbeConfig p = probe_of({"targets: [198.51.100.53, 203.0.113.53]", "reliability: 2"}, "");
  ASSERT_EQ(p.targets.size(), 2u);
  EXPECT_EQ(p.targets[1].addr.str(), "203.0.113.53");
  EXPECT_EQ(p.reliability, 2u);
  // method none ignores targets, even a `gateway` one the WAN cannot have.
  EXPECT_EQ(probe_of({"method: none"}, "").method, ProbeMethod::None);
  EXPECT_EQ(probe_of({"method: none", "targets: [gateway]"}, "").method, ProbeMethod::None);
  EXPECT_EQ(probe_of({"method: none", "targets: [198.51.100.53]"}, "").targets.size(), 1u);
  // `gateway: auto` can probe `gateway`, by icmp or arp.
  EXPECT_TRUE(probe_of({"targets: [gateway, 198.51.100.53]"}, "auto").targets[0].is_gateway);
  EXPECT_EQ(probe_of({"method: arp", "targets: [gateway]"}, "auto").method, ProbeMethod::Arp);
  // arp on an IPv4 gateway, with targets spelled out.
  EXPECT_EQ(probe_of({"method: arp", "targets: [gateway]"}).targets.size(), 1u);
  // icmp to an IPv6 gateway is fine.
  EXPECT_TRUE(probe_of({"method: icmp"}, "fe80::1").targets[0].is_gateway);
}

TEST(Config, EmptyProbeMeansDefaults) {
  for (const char* probe : {"    probe:\n", "    probe: {}\n"}) {
    const Config c =
        parse(std::string("lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: 192.0.2.1\n") + probe);
    EXPECT_EQ(c.wans[0].probe.interval_ms, 200u) << probe;
    EXPECT_EQ(c.wans[0].probe.targets.size(), 1u) << probe;
  }
}

TEST(Config, ProbeMethodNames) {
  EXPECT_STREQ(probe_method_name(ProbeMethod::Icmp), "icmp");
  EXPECT_STREQ(probe_method_name(ProbeMethod::Arp), "arp");
  EXPECT_STREQ(probe_method_name(ProbeMethod::None), "none");
  for (ProbeMethod m : {ProbeMethod::Icmp, ProbeMethod::Arp, ProbeMethod::None})
    EXPECT_EQ(probe_of({std::string("method: ") + probe_method_name(m)}).method, m);
}

TEST(Config, IntegerForms) {
  // Decimal, 0x hex, quoted or not: all the same number.
  const Config c = parse(config_with_wans(1, "mark_mask: 16711680\nflow_table_size: \"0x400\"\nfirst_table: 0x10\n"));
  EXPECT_EQ(c.mark_mask, 0x00ff0000u);
  EXPECT_EQ(c.flow_table_size, 1024u);
  EXPECT_EQ(c.first_table, 16u);
}

TEST(Config, EmptyBypassIsAccepted) {
  EXPECT_TRUE(parse(config_with_wans(1, "bypass:\n")).bypass.empty());
  EXPECT_TRUE(parse(config_with_wans(1, "bypass: []\n")).bypass.empty());
}

TEST(Config, SixtyFourWansFitTheDefaultMask) {
  const Config c = parse(config_with_wans(WANLB_MAX_WANS));
  ASSERT_EQ(c.wans.size(), size_t(WANLB_MAX_WANS));
  EXPECT_EQ(c.wans.back().id, 64u);
  EXPECT_EQ(c.wans.back().mark, 64u << 16);
  EXPECT_EQ(c.wans.back().table, 163u);
}

TEST(Config, FullMaskIsContiguous) {
  const Config c = parse(config_with_wans(2, "mark_mask: 0xffffffff\n"));
  EXPECT_EQ(c.wans[1].mark, 2u);
}

// One WAN `a` on eth1 (block style) with `keys` after `interface`: the
// first key is on line 5.
std::string wan_lines(const std::vector<std::string>& keys) {
  std::string y = "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n";
  for (const auto& k : keys) y += "    " + k + "\n";
  return y;
}

// WANs isp1..isp3 (lines 3..5), then, if `lines` is not empty, `policies:`
// on line 6 and `lines` (indented by two) from line 7 on.
std::string policy_config(const std::vector<std::string>& lines) {
  std::string y = "lan: [br0]\nwans:\n";
  for (int i = 1; i <= 3; i++)
    y += "  - {name: isp" + std::to_string(i) + ", interface: eth" + std::to_string(i) + ", gateway: auto}\n";
  if (lines.empty()) return y;
  y += "policies:\n";
  for (const auto& l : lines) y += "  " + l + "\n";
  return y;
}

// `n` policies that each match one UDP port.
std::string many_policies(size_t n) {
  std::vector<std::string> lines;
  for (size_t i = 1; i <= n; i++) lines.push_back("- {protocol: udp, ports: [" + std::to_string(i) + "], to: isp1}");
  return policy_config(lines);
}

// ------------------------------------------- dual stack, NAT, sticky, tables

TEST(Config, DualStackWansAndNat) {
  const Config c = parse(R"(lan: [br0]
wans:
  - name: a
    interface: eth1
    gateway: 192.0.2.1
    gateway6: fe80::1
    nat6: none
  - name: b
    interface: eth2
    gateway: auto
    gateway6: auto
    nat: none
    probe: {method: arp}
  - name: v6only
    interface: eth3
    gateway6: 2001:db8::1
  - name: c
    interface: eth4
    gateway: fe80::2
    nat: none
    nat6: masquerade
  - name: d
    interface: ppp0
    gateway6: auto
)");
  ASSERT_EQ(c.wans.size(), 5u);
  const WanConfig& a = c.wans[0];
  EXPECT_TRUE(a.has_gateway);
  EXPECT_TRUE(a.has_gateway6);
  EXPECT_FALSE(a.gateway6_auto);
  EXPECT_EQ(a.gateway6.family, AF_INET6);
  EXPECT_EQ(a.gateway6.str(), "fe80::1");
  EXPECT_EQ(a.nat, NatMode::Masquerade);
  EXPECT_EQ(a.nat6, NatMode::None);

  const WanConfig& b = c.wans[1];
  EXPECT_TRUE(b.gateway_auto);
  EXPECT_TRUE(b.gateway6_auto);
  EXPECT_FALSE(b.has_gateway6);
  EXPECT_EQ(b.nat, NatMode::None);
  EXPECT_EQ(b.nat6, NatMode::None);  // follows nat
  EXPECT_EQ(b.probe.method, ProbeMethod::Arp);

  // IPv6 only: gateway6 alone satisfies the default probe target.
  const WanConfig& v6 = c.wans[2];
  EXPECT_FALSE(v6.has_gateway);
  EXPECT_FALSE(v6.gateway_auto);
  EXPECT_TRUE(v6.has_gateway6);
  EXPECT_EQ(v6.gateway6.str(), "2001:db8::1");
  ASSERT_EQ(v6.probe.targets.size(), 1u);
  EXPECT_TRUE(v6.probe.targets[0].is_gateway);
  EXPECT_EQ(v6.nat, NatMode::Masquerade);
  EXPECT_EQ(v6.nat6, NatMode::Masquerade);

  // An IPv6 `gateway` stays in gateway; gateway6 stays unset.
  const WanConfig& cw = c.wans[3];
  EXPECT_EQ(cw.gateway.family, AF_INET6);
  EXPECT_FALSE(cw.has_gateway6);
  EXPECT_EQ(cw.nat, NatMode::None);
  EXPECT_EQ(cw.nat6, NatMode::Masquerade);

  EXPECT_TRUE(c.wans[4].gateway6_auto);
  EXPECT_FALSE(c.wans[4].has_gateway);
}

TEST(Config, Gateway6TargetsBeyondTheGatewayAreFine) {
  const Config c = parse(wan_lines({"gateway: 192.0.2.1", "gateway6: fe80::1",
                                    "probe: {targets: [gateway, '2001:db8::53', 192.0.2.53], reliability: 2}"}));
  EXPECT_EQ(c.wans[0].probe.targets.size(), 3u);
}

TEST(Config, NatModeNames) {
  EXPECT_STREQ(nat_mode_name(NatMode::Masquerade), "masquerade");
  EXPECT_STREQ(nat_mode_name(NatMode::None), "none");
  for (NatMode m : {NatMode::Masquerade, NatMode::None}) {
    const Config c = parse(wan_lines({"gateway: auto", std::string("nat6: ") + nat_mode_name(m)}));
    EXPECT_EQ(c.wans[0].nat6, m);
    EXPECT_EQ(c.wans[0].nat, NatMode::Masquerade);
  }
}

TEST(Config, Sticky) {
  const Config d = parse(config_with_wans(1));
  EXPECT_FALSE(d.sticky_pair);
  EXPECT_EQ(d.sticky_timeout_ms, 600000u);
  EXPECT_FALSE(parse(config_with_wans(1, "sticky: none\n")).sticky_pair);
  const Config c = parse(config_with_wans(1, "sticky: pair\nsticky_timeout: 30s\n"));
  EXPECT_TRUE(c.sticky_pair);
  EXPECT_EQ(c.sticky_timeout_ms, 30000u);
  struct Case {
    const char* text;
    uint32_t ms;
  };
  const Case cases[] = {{"1s", 1000},         {"1000ms", 1000},    {"0.5m", 30000},   {"10m", 600000},
                        {"1.5h", 5400000},    {"24h", 86400000},   {"1440m", 86400000}, {"2h", 7200000}};
  for (const Case& k : cases)
    EXPECT_EQ(parse(config_with_wans(1, std::string("sticky: pair\nsticky_timeout: ") + k.text + "\n")).sticky_timeout_ms,
              k.ms)
        << k.text;
  // Without sticky: pair the timeout is accepted and unused.
  EXPECT_EQ(parse(config_with_wans(1, "sticky_timeout: 1h\n")).sticky_timeout_ms, 3600000u);
}

TEST(Config, Inbound) {
  EXPECT_TRUE(parse(config_with_wans(1)).inbound_conntrack);  // default: conntrack
  EXPECT_TRUE(parse(config_with_wans(1, "inbound: conntrack\n")).inbound_conntrack);
  EXPECT_FALSE(parse(config_with_wans(1, "inbound: none\n")).inbound_conntrack);
  const std::string msg = error_of(config_with_wans(1, "inbound: bpf\n"));
  EXPECT_EQ(msg.rfind(std::string(kSource) + ":2: inbound: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("unknown inbound mode 'bpf' (allowed: conntrack, none)"), std::string::npos) << msg;
  // The data path looks up conntrack only when the table tags connections.
  EXPECT_NE(plan_dp_config(parse(config_with_wans(1)), 1).flags & WANLB_CFG_F_INBOUND, 0u);
  EXPECT_EQ(plan_dp_config(parse(config_with_wans(1, "inbound: none\n")), 1).flags & WANLB_CFG_F_INBOUND, 0u);
  // `wanlb check` shows the mode, in text and JSON.
  const Config none = parse(config_with_wans(1, "inbound: none\n"));
  EXPECT_NE(describe_plan(none).find("\ninbound: none"), std::string::npos) << describe_plan(none);
  EXPECT_EQ(plan_json(none)["inbound"], "none");
  EXPECT_EQ(plan_json(parse(config_with_wans(1)))["inbound"], "conntrack");
}

TEST(Config, RoundRobinClassifier) {
  EXPECT_STREQ(classifier_name(WANLB_CLS_ROUND_ROBIN), "round-robin");
  EXPECT_EQ(parse(config_with_wans(1, "classifier: round-robin\n")).classifier, WANLB_CLS_ROUND_ROBIN);
}

TEST(Config, LocalTable) {
  EXPECT_EQ(parse(config_with_wans(2)).local_table, 164u);  // first_table + 64
  EXPECT_EQ(parse(config_with_wans(2, "first_table: 200\n")).local_table, 264u);
  EXPECT_EQ(parse(config_with_wans(2, "local_table: 500\n")).local_table, 500u);
  // Explicit local_table rescues a first_table whose default would be reserved.
  EXPECT_EQ(parse(config_with_wans(1, "first_table: 190\nlocal_table: 99\n")).local_table, 99u);
  // 64 WANs get 100..163: the default never clashes with default WAN tables.
  const Config c = parse(config_with_wans(WANLB_MAX_WANS));
  EXPECT_EQ(c.wans.back().table, 163u);
  EXPECT_EQ(c.local_table, 164u);
}

// -------------------------------------------------------------- policies

TEST(Config, PoliciesEveryKey) {
  const Config c = parse(R"(lan: [br0]
wans:
  - {name: isp1, interface: eth1, gateway: auto}
  - {name: isp2, interface: eth2, gateway: auto}
  - {name: lte, interface: wwan0, gateway: auto}
policies:
  - name: office
    source: [192.168.10.0/24, 192.168.11.7, '2001:db8:10::/48']
    to: isp1
  - name: voip
    protocol: udp
    ports: [5060, 10000-20000, "3478-3479"]
    to: [isp2, isp1, lte]
    order: lowest-rtt
  - name: vpn
    destination:
      - 198.51.100.0/24
    protocol: tcp
    ports: [443]
    to: bypass
  - protocol: icmpv6
    to: [lte, isp1]
    order: as-listed
  - protocol: 47
    source: [10.0.0.0/8]
    destination: [203.0.113.0/24]
    to: balance
)");
  ASSERT_EQ(c.policies.size(), 5u);
  const PolicyConfig& office = c.policies[0];
  EXPECT_EQ(office.name, "office");
  EXPECT_EQ(office.line, 7);
  ASSERT_EQ(office.source.size(), 3u);
  EXPECT_EQ(office.source[0].str(), "192.168.10.0/24");
  EXPECT_EQ(office.source[1].str(), "192.168.11.7/32");
  EXPECT_EQ(office.source[2].str(), "2001:db8:10::/48");
  EXPECT_TRUE(office.destination.empty());
  EXPECT_EQ(office.protocol, 0);
  EXPECT_TRUE(office.ports.empty());
  EXPECT_EQ(office.action, PolicyAction::Wans);
  EXPECT_EQ(office.wans, (std::vector<std::string>{"isp1"}));
  EXPECT_EQ(office.wan_ids, (std::vector<uint32_t>{1}));
  EXPECT_FALSE(office.order_by_rtt);

  const PolicyConfig& voip = c.policies[1];
  EXPECT_EQ(voip.protocol, 17);
  EXPECT_EQ(voip.ports, (std::vector<PortRange>{{5060, 5060}, {10000, 20000}, {3478, 3479}}));
  EXPECT_EQ(voip.wans, (std::vector<std::string>{"isp2", "isp1", "lte"}));
  EXPECT_EQ(voip.wan_ids, (std::vector<uint32_t>{2, 1, 3}));
  EXPECT_TRUE(voip.order_by_rtt);
  EXPECT_EQ(voip.line, 10);

  const PolicyConfig& vpn = c.policies[2];
  EXPECT_EQ(vpn.action, PolicyAction::Bypass);
  EXPECT_TRUE(vpn.wans.empty());
  EXPECT_TRUE(vpn.wan_ids.empty());
  ASSERT_EQ(vpn.destination.size(), 1u);
  EXPECT_EQ(vpn.destination[0].str(), "198.51.100.0/24");
  EXPECT_EQ(vpn.protocol, 6);
  EXPECT_EQ(vpn.ports, (std::vector<PortRange>{{443, 443}}));

  const PolicyConfig& p4 = c.policies[3];
  EXPECT_EQ(p4.name, "policy4");  // default: 1-based position
  EXPECT_EQ(p4.protocol, 58);
  EXPECT_EQ(p4.wan_ids, (std::vector<uint32_t>{3, 1}));
  EXPECT_FALSE(p4.order_by_rtt);

  const PolicyConfig& p5 = c.policies[4];
  EXPECT_EQ(p5.name, "policy5");
  EXPECT_EQ(p5.protocol, 47);
  EXPECT_EQ(p5.action, PolicyAction::Balance);
  EXPECT_EQ(p5.source.size(), 1u);
  EXPECT_EQ(p5.destination.size(), 1u);
}

TEST(Config, PoliciesDefaultToNone) {
  EXPECT_TRUE(parse(policy_config({})).policies.empty());
  EXPECT_TRUE(parse(policy_config({}) + "policies:\n").policies.empty());
  EXPECT_TRUE(parse(policy_config({}) + "policies: []\n").policies.empty());
}

TEST(Config, PolicyProtocolsAndPorts) {
  struct Case {
    const char* text;
    uint8_t proto;
  };
  const Case cases[] = {{"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"icmpv6", 58}, {"1", 1}, {"0x2f", 47}, {"255", 255}, {"'6'", 6}};
  for (const Case& k : cases)
    EXPECT_EQ(parse(policy_config({std::string("- {protocol: ") + k.text + ", to: isp1}"})).policies[0].protocol, k.proto)
        << k.text;
  // A numeric 6 or 17 is tcp or udp: ports are allowed.
  const Config c = parse(policy_config({"- {protocol: 17, ports: [1, 65535, 1-65535, 8080-8080, '00443'], to: isp1}"}));
  EXPECT_EQ(c.policies[0].ports,
            (std::vector<PortRange>{{1, 1}, {65535, 65535}, {1, 65535}, {8080, 8080}, {443, 443}}));
  // Eight entries is the limit, not an error.
  EXPECT_EQ(parse(policy_config({"- {protocol: tcp, ports: [1, 2, 3, 4, 5, 6, 7, 8], to: isp1}"})).policies[0].ports.size(),
            8u);
}

TEST(Config, PolicyToForms) {
  const Config c = parse(policy_config({"- {protocol: tcp, to: balance}", "- {protocol: udp, to: bypass}",
                                        "- {protocol: icmp, to: [isp3, isp2, isp1]}", "- {to: isp2}"}));
  EXPECT_EQ(c.policies[0].action, PolicyAction::Balance);
  EXPECT_EQ(c.policies[1].action, PolicyAction::Bypass);
  EXPECT_EQ(c.policies[2].action, PolicyAction::Wans);
  EXPECT_EQ(c.policies[2].wan_ids, (std::vector<uint32_t>{3, 2, 1}));
  // An unconditional policy is fine as the last one.
  EXPECT_EQ(c.policies[3].wan_ids, (std::vector<uint32_t>{2}));
  // A WAN called like a keyword is reachable through the list form.
  const Config k = parse("lan: [br0]\nwans:\n  - {name: balance, interface: eth1, gateway: auto}\npolicies:\n"
                         "  - {protocol: tcp, to: [balance]}\n");
  EXPECT_EQ(k.policies[0].action, PolicyAction::Wans);
  EXPECT_EQ(k.policies[0].wan_ids, (std::vector<uint32_t>{1}));
  // Eight WANs is the limit, not an error.
  const Config e = parse(config_with_wans(8) + "policies:\n  - {to: [w8, w7, w6, w5, w4, w3, w2, w1]}\n");
  EXPECT_EQ(e.policies[0].wan_ids.size(), 8u);
}

TEST(Config, SixtyFourPolicies) {
  const Config c = parse(many_policies(WANLB_MAX_POLICIES));
  ASSERT_EQ(c.policies.size(), size_t(WANLB_MAX_POLICIES));
  EXPECT_EQ(c.policies.back().name, "policy64");
  EXPECT_EQ(c.policies.back().ports, (std::vector<PortRange>{{64, 64}}));
}

TEST(Config, PolicyPrefixGivenTwiceCountsOnce) {
  const Config c = parse(policy_config({"- {destination: [10.0.0.0/8, 10.0.0.0/8, 10.0.0.1, '10.0.0.1/32'], to: isp1}"}));
  ASSERT_EQ(c.policies[0].destination.size(), 2u);
  EXPECT_EQ(c.policies[0].destination[1].str(), "10.0.0.1/32");
}

// ---------------------------------------------------------- rejections

struct Reject {
  const char* label;
  std::string yaml;
  int line;
  const char* path;    // expected "<key path>" after "wanlb.yaml:<line>: "
  const char* needle;  // must appear in the problem text
};

void PrintTo(const Reject& r, std::ostream* os) { *os << r.label; }

class ConfigReject : public ::testing::TestWithParam<Reject> {};

TEST_P(ConfigReject, NamesFileLineAndKey) {
  const Reject& r = GetParam();
  const std::string msg = error_of(r.yaml);
  const std::string prefix = std::string(kSource) + ":" + std::to_string(r.line) + ": " + r.path + ": ";
  EXPECT_EQ(msg.rfind(prefix, 0), 0u) << "message: " << msg << "\nwanted prefix: " << prefix;
  EXPECT_NE(msg.find(r.needle), std::string::npos) << "message: " << msg << "\nwanted: " << r.needle;
}

const char* const kAllClassifiers =
    "src-address, dst-address, both-addresses, src-port, dst-port, both-ports, "
    "src-address-and-port, dst-address-and-port, both-addresses-and-ports, round-robin";

// Each case: the YAML, then where the error must point. With config_with_wans(n, extra)
// a one-line `extra` is line 2 and wans[k] is on line 4 + k (3 + k without extra).
const std::vector<Reject> kRejects = {
    // --- structure
    {"empty_file", "", 1, "top level", "empty file"},
    {"comment_only", "# nothing\n", 1, "top level", "empty file"},
    {"top_level_list", "- lan\n", 1, "top level", "expected a mapping, got a list"},
    {"two_documents", config_with_wans(1) + "---\nlan: [x]\n", 5, "top level", "expected one YAML document"},
    {"unknown_top_key", "lan: [br0]\ncolour: blue\nwans:\n  - {name: a, interface: eth1}\n", 2, "colour",
     "unknown key 'colour' (allowed: lan, classifier, flow_table_size"},
    {"unknown_wan_key", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gatway: 192.0.2.1\n", 5,
     "wans[0].gatway",
     "unknown key 'gatway' (allowed: name, interface, gateway, gateway6, tier, weight, nat, nat6, mark, table, probe)"},
    {"duplicate_key", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    weight: 2\n    weight: 3\n", 6,
     "wans[0].weight", "duplicate key 'weight' (first on line 5)"},
    {"missing_lan", "wans:\n  - {name: a, interface: eth1}\n", 1, "top level", "missing required key 'lan'"},
    {"missing_wans", "lan: [br0]\n", 1, "top level", "missing required key 'wans'"},
    {"missing_interface", "lan: [br0]\nclassifier: src-address\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n  - name: b\n    weight: 2\n",
     7, "wans[1]", "missing required key 'interface'"},
    {"missing_name", "lan: [br0]\nwans:\n  - interface: eth1\n", 3, "wans[0]", "missing required key 'name'"},
    {"wan_not_mapping", "lan: [br0]\nwans:\n  - eth1\n", 3, "wans[0]", "expected a mapping, got 'eth1'"},
    // --- types
    {"lan_scalar", "lan: br0\nwans:\n  - {name: a, interface: eth1}\n", 1, "lan", "expected a list, got 'br0'"},
    {"lan_null", "lan:\nwans:\n  - {name: a, interface: eth1}\n", 1, "lan", "expected a list, got nothing"},
    {"lan_item_list", "lan:\n  - [br0]\nwans:\n  - {name: a, interface: eth1}\n", 2, "lan[0]",
     "expected an interface name, got a list"},
    {"wans_mapping", "lan: [br0]\nwans:\n  name: a\n", 2, "wans", "expected a list, got a mapping"},
    {"weight_not_int", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    weight: abc\n", 5, "wans[0].weight",
     "got 'abc'"},
    {"weight_negative", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    weight: -1\n", 5, "wans[0].weight",
     "got '-1'"},
    {"weight_null", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    weight:\n", 5, "wans[0].weight",
     "expected an integer, got nothing"},
    {"weight_huge", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    weight: 99999999999999999999999\n", 5,
     "wans[0].weight", "got '99999999999999999999999'"},
    // --- lan
    {"lan_empty", "lan: []\nwans:\n  - {name: a, interface: eth1}\n", 1, "lan", "at least one interface"},
    {"lan_duplicate", "lan:\n  - br0\n  - br0\nwans:\n  - {name: a, interface: eth1}\n", 3, "lan[1]",
     "duplicate interface 'br0' (also lan[0])"},
    {"lan_bad_ifname", "lan:\n  - br0\n  - a/b\nwans:\n  - {name: a, interface: eth1}\n", 3, "lan[1]",
     "'a/b' is not a valid interface name"},
    {"lan_ifname_too_long", "lan: [abcdefghijklmnop]\nwans:\n  - {name: a, interface: eth1}\n", 1, "lan[0]",
     "'abcdefghijklmnop' is not a valid interface name"},
    {"lan_dotdot", "lan: ['..']\nwans:\n  - {name: a, interface: eth1}\n", 1, "lan[0]", "'..' is not a valid"},
    {"lan_label", "lan: ['eth0:1']\nwans:\n  - {name: a, interface: eth1}\n", 1, "lan[0]", "'eth0:1' is not a valid"},
    // --- classifier and scalars
    {"bad_classifier", "lan: [br0]\nclassifier: nth\nwans:\n  - {name: a, interface: eth1}\n", 2, "classifier",
     kAllClassifiers},
    {"bad_classifier_names_value", "lan: [br0]\nclassifier: nth\nwans:\n  - {name: a, interface: eth1}\n", 2,
     "classifier", "unknown classifier 'nth'"},
    {"classifier_round_robin_case", "lan: [br0]\nclassifier: Round-Robin\nwans:\n  - {name: a, interface: eth1}\n", 2,
     "classifier", "unknown classifier 'Round-Robin'"},
    {"flow_table_small", config_with_wans(1, "flow_table_size: 1023\n"), 2, "flow_table_size",
     "1023 is out of range 1024..16777216"},
    {"flow_table_big", config_with_wans(1, "flow_table_size: 16777217\n"), 2, "flow_table_size", "16777217"},
    {"first_table_zero", config_with_wans(1, "first_table: 0\n"), 2, "first_table", "0 is out of range 1..4294967280"},
    {"rule_priority_main", config_with_wans(1, "rule_priority: 32761\n"), 2, "rule_priority", "32761 is out of range 1..32760"},
    {"route_protocol_low", config_with_wans(1, "route_protocol: 4\n"), 2, "route_protocol", "4 is out of range 5..254"},
    {"route_protocol_high", config_with_wans(1, "route_protocol: 255\n"), 2, "route_protocol", "255"},
    {"bpffs_relative", config_with_wans(1, "bpffs_dir: bpf/wanlb\n"), 2, "bpffs_dir", "'bpf/wanlb' is not an absolute path"},
    // --- bypass
    {"bypass_host_bits", "lan: [br0]\nbypass:\n  - 192.168.0.0/16\n  - 10.0.0.1/8\nwans:\n  - {name: a, interface: eth1}\n",
     4, "bypass[1]", "'10.0.0.1/8': host bits set (did you mean 10.0.0.0/8?)"},
    {"bypass_host_bits_v6", "lan: [br0]\nbypass:\n  - 2001:db8::1/32\nwans:\n  - {name: a, interface: eth1}\n", 3,
     "bypass[0]", "host bits set (did you mean 2001:db8::/32?)"},
    {"bypass_bad_len", "lan: [br0]\nbypass:\n  - 10.0.0.0/33\nwans:\n  - {name: a, interface: eth1}\n", 3, "bypass[0]",
     "prefix length '33' is not in 0..32"},
    {"bypass_not_address", "lan: [br0]\nbypass:\n  - example.com\nwans:\n  - {name: a, interface: eth1}\n", 3,
     "bypass[0]", "'example.com' is not an IPv4 or IPv6 address"},
    {"bypass_duplicate", "lan: [br0]\nbypass:\n  - 10.0.0.0/8\n  - 10.0.0.0/8\nwans:\n  - {name: a, interface: eth1}\n", 4,
     "bypass[1]", "duplicate prefix 10.0.0.0/8"},
    {"bypass_scalar", config_with_wans(1, "bypass: 10.0.0.0/8\n"), 2, "bypass", "expected a list"},
    // --- mark_mask
    {"mask_zero", config_with_wans(1, "mark_mask: 0\n"), 2, "mark_mask", "must be non-zero"},
    {"mask_not_contiguous", config_with_wans(1, "mark_mask: 0x00ff00ff\n"), 2, "mark_mask",
     "0x00ff00ff is not a contiguous run of bits"},
    {"mask_too_small", config_with_wans(4, "mark_mask: \"0x00000300\"\n"), 2, "mark_mask",
     "0x00000300 has room for 3 WAN ids but 4 WANs are configured"},
    {"mask_not_int", config_with_wans(1, "mark_mask: ff0000\n"), 2, "mark_mask", "got 'ff0000'"},
    // --- WANs
    {"no_wans", "lan: [br0]\nwans: []\n", 2, "wans", "at least one WAN"},
    {"too_many_wans", config_with_wans(WANLB_MAX_WANS + 1), 2, "wans", "65 WANs, at most 64"},
    {"bad_wan_name", "lan: [br0]\nwans:\n  - name: my isp\n    interface: eth1\n", 3, "wans[0].name",
     "'my isp' is not a valid name"},
    {"wan_name_too_long", "lan: [br0]\nwans:\n  - name: abcdefghijklmnop\n    interface: eth1\n", 3, "wans[0].name",
     "'abcdefghijklmnop'"},
    {"duplicate_name", "lan: [br0]\nwans:\n  - name: isp\n    interface: eth1\n    gateway: auto\n  - name: isp\n    interface: eth2\n    gateway: auto\n", 6,
     "wans[1].name", "duplicate name 'isp' (also wans[0])"},
    {"duplicate_interface", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n  - name: b\n    interface: eth1\n    gateway: auto\n", 7,
     "wans[1].interface", "interface 'eth1' is already used by wans[0] ('a')"},
    {"lan_is_wan", "lan: [br0, eth1]\nwans:\n  - name: a\n    interface: eth2\n    gateway: auto\n  - name: b\n    interface: eth1\n    gateway: auto\n", 7,
     "wans[1].interface", "interface 'eth1' is also lan[1]"},
    {"bad_wan_ifname", "lan: [br0]\nwans:\n  - name: a\n    interface: 'eth 1'\n", 4, "wans[0].interface",
     "'eth 1' is not a valid interface name"},
    {"bad_gateway", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: 192.0.2.256\n", 5,
     "wans[0].gateway", "'192.0.2.256' is not an IPv4 or IPv6 address"},
    {"gateway_prefix", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: 192.0.2.1/24\n", 5,
     "wans[0].gateway", "'192.0.2.1/24'"},
    {"gateway_unspecified", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: 0.0.0.0\n", 5,
     "wans[0].gateway", "unspecified address"},
    {"weight_zero", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    weight: 0\n", 5, "wans[0].weight",
     "0 is out of range 1..1000"},
    {"weight_1001", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n  - name: b\n    interface: eth2\n    weight: 1001\n",
     8, "wans[1].weight", "1001 is out of range 1..1000"},
    // --- marks
    {"mark_outside_mask", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n    mark: 0x01000000\n", 6,
     "wans[0].mark", "0x01000000 has bits outside mark_mask 0x00ff0000"},
    {"mark_zero", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n    mark: 0\n", 6, "wans[0].mark",
     "0 is not a mark"},
    {"mark_clash_explicit",
     "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n    mark: 0x00050000\n  - name: b\n    interface: eth2\n"
     "    gateway: auto\n    mark: 0x00050000\n",
     10, "wans[1].mark", "mark clash: 'b' (explicit) and 'a' (wans[0], explicit) both get mark 0x00050000"},
    {"mark_clash_default_vs_explicit",
     "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n  - name: b\n    interface: eth2\n    gateway: auto\n"
     "    mark: 0x00010000\n",
     9,
     "wans[1].mark", "mark clash: 'b' (explicit) and 'a' (wans[0], default) both get mark 0x00010000"},
    {"mark_clash_explicit_vs_default",
     "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n    mark: 0x00020000\n  - name: b\n    interface: eth2\n"
     "    gateway: auto\n",
     7,
     "wans[1].mark", "mark clash: 'b' (default) and 'a' (wans[0], explicit) both get mark 0x00020000"},
    // --- tables
    {"table_main", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n    table: 254\n", 6, "wans[0].table",
     "254 is reserved ('main')"},
    {"table_local", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n    table: 255\n", 6, "wans[0].table",
     "255 is reserved ('local')"},
    {"table_default", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n    table: 253\n", 6, "wans[0].table",
     "253 is reserved ('default')"},
    {"table_unspec", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n    table: 0\n", 6, "wans[0].table",
     "0 is reserved ('unspec')"},
    {"first_table_hits_reserved", config_with_wans(3, "first_table: 251\n"), 6, "wans[2].table",
     "default table 253 (first_table 251 + 2) is reserved ('default')"},
    {"first_table_overflows", config_with_wans(20, "first_table: 0xfffffff0\n"), 20, "wans[16].table",
     "default table 4294967296 (first_table 4294967280 + 16) is above 4294967295"},
    {"table_clash_explicit",
     "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n    table: 7\n  - name: b\n    interface: eth2\n"
     "    gateway: auto\n    table: 7\n",
     10, "wans[1].table", "table clash: 'b' (explicit) and 'a' (wans[0], explicit) both get table 7"},
    {"table_clash_default_vs_explicit",
     "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n  - name: b\n    interface: eth2\n    gateway: auto\n"
     "    table: 100\n",
     9,
     "wans[1].table", "table clash: 'b' (explicit) and 'a' (wans[0], default) both get table 100"},
    {"table_clash_explicit_vs_default",
     "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n    table: 101\n  - name: b\n    interface: eth2\n"
     "    gateway: auto\n",
     7,
     "wans[1].table", "table clash: 'b' (default) and 'a' (wans[0], explicit) both get table 101"},

    // --- tier, gateway: auto, hook
    {"tier_zero", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n    tier: 0\n", 6,
     "wans[0].tier", "0 is out of range 1..16"},
    {"tier_17", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n    tier: 17\n", 6,
     "wans[0].tier", "17 is out of range 1..16"},
    {"gateway_auto_case", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: Auto\n", 5,
     "wans[0].gateway", "'Auto' is not an IPv4 or IPv6 address (or 'auto')"},
    {"hook_relative", config_with_wans(1, "hook: scripts/on-change\n"), 2, "hook",
     "'scripts/on-change' is not an absolute path"},
    {"hook_empty", config_with_wans(1, "hook: ''\n"), 2, "hook", "'' is not an absolute path"},
    {"hook_list", config_with_wans(1, "hook: [/bin/true]\n"), 2, "hook", "expected an absolute path, got a list"},
    // --- probe block structure
    {"probe_scalar", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n    probe: icmp\n", 6,
     "wans[0].probe", "expected a mapping, got 'icmp'"},
    {"probe_unknown_key", probe_config({"interval: 1s", "retries: 3"}), 8, "wans[0].probe.retries",
     "unknown key 'retries' (allowed: method, targets, interval, timeout, down, up, reliability, max_loss, max_rtt, "
     "quality_window)"},
    {"probe_duplicate_key", probe_config({"down: 2", "down: 3"}), 8, "wans[0].probe.down",
     "duplicate key 'down' (first on line 7)"},
    {"probe_bad_method", probe_config({"method: ping"}), 7, "wans[0].probe.method",
     "unknown method 'ping' (allowed: icmp, arp, none)"},
    {"probe_method_case", probe_config({"method: ICMP"}), 7, "wans[0].probe.method", "(allowed: icmp, arp, none)"},
    // --- durations
    {"interval_bare_number", probe_config({"interval: 200"}), 7, "wans[0].probe.interval",
     "'200' needs a unit (ms, s, m)"},
    {"timeout_bare_decimal", probe_config({"timeout: 0.5"}), 7, "wans[0].probe.timeout", "'0.5' needs a unit (ms, s, m)"},
    {"max_rtt_bare_zero", probe_config({"max_rtt: 0"}), 7, "wans[0].probe.max_rtt", "'0' needs a unit"},
    {"interval_unknown_unit", probe_config({"interval: 200us"}), 7, "wans[0].probe.interval",
     "'200us': unknown unit 'us' (allowed: ms, s, m)"},
    {"interval_hours", probe_config({"quality_window: 1h"}), 7, "wans[0].probe.quality_window", "unknown unit 'h'"},
    {"interval_garbage", probe_config({"interval: fast"}), 7, "wans[0].probe.interval",
     "expected a duration such as 200ms, 1s, 1.5s or 2m, got 'fast'"},
    {"interval_negative", probe_config({"interval: -1s"}), 7, "wans[0].probe.interval", "got '-1s'"},
    {"interval_space", probe_config({"interval: 1 s"}), 7, "wans[0].probe.interval", "got '1 s'"},
    {"interval_leading_dot", probe_config({"interval: .5s"}), 7, "wans[0].probe.interval", "got '.5s'"},
    {"interval_trailing_dot", probe_config({"interval: 1.s"}), 7, "wans[0].probe.interval", "got '1.s'"},
    {"interval_exponent", probe_config({"interval: 1e3ms"}), 7, "wans[0].probe.interval", "got '1e3ms'"},
    {"interval_huge", probe_config({"interval: 99999999999999999999ms"}), 7, "wans[0].probe.interval",
     "got '99999999999999999999ms'"},
    {"interval_sub_ms", probe_config({"interval: 1.0005s"}), 7, "wans[0].probe.interval",
     "'1.0005s' is not a whole number of milliseconds"},
    {"interval_fraction_of_ms", probe_config({"interval: 10.5ms"}), 7, "wans[0].probe.interval",
     "not a whole number of milliseconds"},
    {"interval_too_short", probe_config({"interval: 9ms"}), 7, "wans[0].probe.interval", "9ms is out of range 10ms..60s"},
    {"interval_zero", probe_config({"interval: 0s"}), 7, "wans[0].probe.interval", "0s is out of range 10ms..60s"},
    {"interval_too_long", probe_config({"interval: 2m", "quality_window: 10m"}), 7, "wans[0].probe.interval",
     "2m is out of range 10ms..60s"},
    {"timeout_too_long", probe_config({"timeout: 60001ms"}), 7, "wans[0].probe.timeout",
     "60001ms is out of range 10ms..60s"},
    {"timeout_too_short", probe_config({"timeout: 0.005s"}), 7, "wans[0].probe.timeout",
     "0.005s is out of range 10ms..60s"},
    {"max_rtt_too_long", probe_config({"max_rtt: 61s"}), 7, "wans[0].probe.max_rtt", "61s is out of range 0ms..60s"},
    {"quality_window_too_long", probe_config({"quality_window: 10.5m"}), 7, "wans[0].probe.quality_window",
     "10.5m is out of range 10ms..10m"},
    {"quality_window_below_interval", probe_config({"interval: 2s", "quality_window: 1500ms"}), 8,
     "wans[0].probe.quality_window", "1500ms is shorter than interval (2s)"},
    {"interval_above_default_window", probe_config({"interval: 20s", "timeout: 1s"}), 7, "wans[0].probe.interval",
     "20s is longer than the default quality_window (10s)"},
    {"duration_list", probe_config({"interval: [1s]"}), 7, "wans[0].probe.interval", "expected a duration, got a list"},
    // --- counts
    {"down_zero", probe_config({"down: 0"}), 7, "wans[0].probe.down", "0 is out of range 1..100"},
    {"down_101", probe_config({"down: 101"}), 7, "wans[0].probe.down", "101 is out of range 1..100"},
    {"up_zero", probe_config({"up: 0"}), 7, "wans[0].probe.up", "0 is out of range 1..1000"},
    {"up_1001", probe_config({"up: 1001"}), 7, "wans[0].probe.up", "1001 is out of range 1..1000"},
    {"reliability_zero", probe_config({"reliability: 0"}), 7, "wans[0].probe.reliability", "0 is out of range 1..1"},
    {"reliability_above_default_targets", probe_config({"reliability: 2"}), 7, "wans[0].probe.reliability",
     "2 is out of range 1..1 (answers needed per round from 1 target)"},
    {"reliability_above_targets", probe_config({"reliability: 3", "targets: [gateway, 198.51.100.53]"}), 7,
     "wans[0].probe.reliability", "3 is out of range 1..2 (answers needed per round from 2 targets)"},
    {"reliability_not_int", probe_config({"reliability: all"}), 7, "wans[0].probe.reliability", "got 'all'"},
    // --- max_loss
    {"max_loss_no_sign", probe_config({"max_loss: 5"}), 7, "wans[0].probe.max_loss", "'5' needs a % sign"},
    {"max_loss_fraction", probe_config({"max_loss: 0.05"}), 7, "wans[0].probe.max_loss", "'0.05' needs a % sign"},
    {"max_loss_over_100", probe_config({"max_loss: 100.5%"}), 7, "wans[0].probe.max_loss",
     "100.5% is out of range 0%..100%"},
    {"max_loss_too_fine", probe_config({"max_loss: 0.00001%"}), 7, "wans[0].probe.max_loss",
     "'0.00001%' is finer than 0.0001%"},
    {"max_loss_garbage", probe_config({"max_loss: five%"}), 7, "wans[0].probe.max_loss",
     "expected a percentage such as 5% or 2.5%, got 'five%'"},
    {"max_loss_negative", probe_config({"max_loss: -1%"}), 7, "wans[0].probe.max_loss", "got '-1%'"},
    {"max_loss_space", probe_config({"max_loss: 5 %"}), 7, "wans[0].probe.max_loss", "got '5 %'"},
    // --- targets
    {"targets_empty", probe_config({"targets: []"}), 7, "wans[0].probe.targets", "must list at least one target"},
    {"targets_scalar", probe_config({"targets: gateway"}), 7, "wans[0].probe.targets", "expected a list, got 'gateway'"},
    {"target_not_address", probe_config({"targets: [gateway, example.com]"}), 7, "wans[0].probe.targets[1]",
     "'example.com' is neither 'gateway' nor an IPv4 or IPv6 address"},
    {"target_prefix", probe_config({"targets:", "  - 198.51.100.0/24"}), 8, "wans[0].probe.targets[0]",
     "'198.51.100.0/24' is neither"},
    {"target_unspecified", probe_config({"targets: ['::']"}), 7, "wans[0].probe.targets[0]",
     "'::' is the unspecified address"},
    {"target_duplicate", probe_config({"targets:", "  - 198.51.100.53", "  - gateway", "  - 198.51.100.53"}), 10,
     "wans[0].probe.targets[2]", "duplicate target '198.51.100.53' (also wans[0].probe.targets[0])"},
    {"target_gateway_twice", probe_config({"targets: [gateway, gateway]"}), 7, "wans[0].probe.targets[1]",
     "duplicate target 'gateway' (also wans[0].probe.targets[0])"},
    {"target_is_the_gateway", probe_config({"targets: [gateway, 192.0.2.1]"}), 7, "wans[0].probe.targets[1]",
     "duplicate target '192.0.2.1' (also wans[0].probe.targets[0], the gateway 192.0.2.1)"},
    {"target_gateway_after_its_address", probe_config({"targets: [192.0.2.1, gateway]"}), 7, "wans[0].probe.targets[1]",
     "duplicate target 'gateway' (also wans[0].probe.targets[0], the gateway 192.0.2.1)"},
    // --- method against gateway
    {"arp_ipv6_gateway", probe_config({"method: arp"}, "fe80::1"), 7, "wans[0].probe.method",
     "arp needs an IPv4 gateway or 'gateway: auto', but wans[0] has the IPv6 gateway fe80::1"},
    {"arp_no_gateway", probe_config({"method: arp"}, ""), 6, "wans[0].probe.method",
     "arp needs an IPv4 gateway or 'gateway: auto', but wans[0] has no gateway (point-to-point)"},
    {"arp_extra_targets", probe_config({"method: arp", "targets: [gateway, 198.51.100.53]"}), 8,
     "wans[0].probe.targets", "arp probes only the gateway: targets must be [gateway]"},
    {"arp_address_target", probe_config({"method: arp", "targets: [192.0.2.1]"}), 8, "wans[0].probe.targets",
     "arp probes only the gateway"},
    {"arp_reliability", probe_config({"method: arp", "reliability: 2"}), 8, "wans[0].probe.reliability",
     "2 is out of range 1..1"},
    {"p2p_gateway_target", probe_config({"targets:", "  - 198.51.100.53", "  - gateway"}, ""), 8,
     "wans[0].probe.targets[1]",
     "'gateway' but wans[0] has no gateway (point-to-point); list the addresses to probe or use method none"},
    {"p2p_default_targets", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n  - name: b\n"
                            "    interface: ppp0\n    weight: 2\n",
     6, "wans[1].probe.targets",
     "the default target 'gateway' needs a gateway, but wans[1] has none (point-to-point); list the addresses to probe "
     "or use method none"},
    {"p2p_default_targets_flow", "lan: [br0]\nwans:\n  - {name: a, interface: ppp0}\n", 3, "wans[0].probe.targets",
     "the default target 'gateway' needs a gateway"},
    {"p2p_default_targets_probe_block", probe_config({"interval: 1s"}, ""), 5, "wans[0].probe.targets",
     "the default target 'gateway' needs a gateway"},
    {"p2p_explicit_icmp", probe_config({"method: icmp"}, ""), 5, "wans[0].probe.targets", "has none (point-to-point)"},
    // --- gateway6, nat
    {"gateway6_ipv4", wan_lines({"gateway: 192.0.2.1", "gateway6: 192.0.2.2"}), 6, "wans[0].gateway6",
     "'192.0.2.2' is an IPv4 address; gateway6 takes an IPv6 address (IPv4 goes in gateway)"},
    {"gateway6_garbage", wan_lines({"gateway: 192.0.2.1", "gateway6: fe80::zz"}), 6, "wans[0].gateway6",
     "'fe80::zz' is not an IPv6 address (or 'auto')"},
    {"gateway6_auto_case", wan_lines({"gateway6: AUTO"}), 5, "wans[0].gateway6", "'AUTO' is not an IPv6 address"},
    {"gateway6_unspecified", wan_lines({"gateway: auto", "gateway6: '::'"}), 6, "wans[0].gateway6",
     "'::' is the unspecified address; omit gateway6 instead"},
    {"gateway6_prefix", wan_lines({"gateway6: 2001:db8::1/64"}), 5, "wans[0].gateway6", "'2001:db8::1/64' is not"},
    {"gateway6_list", wan_lines({"gateway6: [fe80::1]"}), 5, "wans[0].gateway6",
     "expected an IPv6 address or 'auto', got a list"},
    {"gateway6_after_ipv6_gateway", wan_lines({"gateway: fe80::1", "gateway6: fe80::2"}), 6, "wans[0].gateway6",
     "gateway is already IPv6 (fe80::1); gateway6 is for a second, IPv6 gateway next to an IPv4 one"},
    {"gateway6_auto_after_ipv6_gateway", wan_lines({"gateway: 2001:db8::1", "gateway6: auto"}), 6, "wans[0].gateway6",
     "gateway is already IPv6"},
    {"arp_gateway6_only", wan_lines({"gateway6: fe80::1", "probe: {method: arp}"}), 6, "wans[0].probe.method",
     "arp needs an IPv4 gateway or 'gateway: auto', but wans[0] has only an IPv6 gateway (gateway6); use method icmp"},
    {"target_is_the_gateway6", wan_lines({"gateway: 192.0.2.1", "gateway6: fe80::1", "probe: {targets: [gateway, 'fe80::1']}"}),
     7, "wans[0].probe.targets[1]", "duplicate target 'fe80::1' (also wans[0].probe.targets[0], the gateway fe80::1)"},
    {"nat_unknown", wan_lines({"gateway: auto", "nat: snat"}), 6, "wans[0].nat",
     "unknown NAT mode 'snat' (allowed: masquerade, none)"},
    {"nat6_case", wan_lines({"gateway: auto", "nat6: Masquerade"}), 6, "wans[0].nat6", "unknown NAT mode 'Masquerade'"},
    {"nat_bool", wan_lines({"gateway: auto", "nat: false"}), 6, "wans[0].nat", "unknown NAT mode 'false'"},
    {"nat_list", wan_lines({"gateway: auto", "nat: [masquerade]"}), 6, "wans[0].nat", "expected a NAT mode, got a list"},
    // --- sticky
    {"sticky_unknown", config_with_wans(1, "sticky: pairs\n"), 2, "sticky", "unknown sticky mode 'pairs' (allowed: none, pair)"},
    {"sticky_bool", config_with_wans(1, "sticky: true\n"), 2, "sticky", "unknown sticky mode 'true'"},
    {"sticky_timeout_short", config_with_wans(1, "sticky_timeout: 500ms\n"), 2, "sticky_timeout",
     "500ms is out of range 1s..24h"},
    {"sticky_timeout_long", config_with_wans(1, "sticky_timeout: 25h\n"), 2, "sticky_timeout",
     "25h is out of range 1s..24h"},
    {"sticky_timeout_long_minutes", config_with_wans(1, "sticky_timeout: 1441m\n"), 2, "sticky_timeout",
     "1441m is out of range 1s..24h"},
    {"sticky_timeout_fraction", config_with_wans(1, "sticky_timeout: 1500ms\n"), 2, "sticky_timeout",
     "'1500ms' is not a whole number of seconds"},
    {"sticky_timeout_bare", config_with_wans(1, "sticky_timeout: 600\n"), 2, "sticky_timeout",
     "'600' needs a unit (ms, s, m, h), e.g. 600s"},
    {"sticky_timeout_days", config_with_wans(1, "sticky_timeout: 1d\n"), 2, "sticky_timeout",
     "'1d': unknown unit 'd' (allowed: ms, s, m, h)"},
    // --- local_table
    {"local_table_main", config_with_wans(1, "local_table: 254\n"), 2, "local_table",
     "254 is reserved ('main'); 0, 253, 254 and 255 cannot be used"},
    {"local_table_zero", config_with_wans(1, "local_table: 0\n"), 2, "local_table", "0 is reserved ('unspec')"},
    {"local_table_huge", config_with_wans(1, "local_table: 4294967296\n"), 2, "local_table",
     "4294967296 is out of range 0..4294967295"},
    {"local_table_clash", config_with_wans(2, "local_table: 101\n"), 2, "local_table",
     "table clash: local_table and 'w2' (wans[1], default) both get table 101"},
    {"local_table_clash_explicit_wan", "lan: [br0]\nlocal_table: 7\nwans:\n  - {name: a, interface: eth1, gateway: auto, table: 7}\n",
     2, "local_table", "table clash: local_table and 'a' (wans[0], explicit) both get table 7"},
    {"default_local_table_clash", wan_lines({"gateway: auto", "table: 164"}), 6, "wans[0].table",
     "table clash: 'a' (explicit) and local_table (default, first_table + 64) both get table 164"},
    {"default_local_table_reserved", config_with_wans(1, "first_table: 190\n"), 2, "local_table",
     "default local_table 254 (first_table 190 + 64) is reserved ('main'); change first_table or set local_table explicitly"},
    {"default_local_table_overflow", config_with_wans(1, "first_table: 0xfffffff0\n"), 2, "local_table",
     "default local_table 4294967344 (first_table 4294967280 + 64) is above 4294967295; set local_table explicitly"},
    // --- policies: structure
    {"policies_scalar", policy_config({}) + "policies: isp1\n", 6, "policies", "expected a list, got 'isp1'"},
    {"policies_too_many", many_policies(WANLB_MAX_POLICIES + 1), 6, "policies", "65 policies, at most 64 are supported"},
    {"policy_not_mapping", policy_config({"- isp1"}), 7, "policies[0]", "expected a mapping, got 'isp1'"},
    {"policy_unknown_key", policy_config({"- {dst: 10.0.0.0/8, to: isp1}"}), 7, "policies[0].dst",
     "unknown key 'dst' (allowed: name, source, destination, protocol, ports, to, order)"},
    {"policy_duplicate_key", policy_config({"- protocol: tcp", "  protocol: udp", "  to: isp1"}), 8,
     "policies[0].protocol", "duplicate key 'protocol' (first on line 7)"},
    {"policy_missing_to", policy_config({"- {protocol: tcp}", "- protocol: udp", "  ports: [53]"}), 7, "policies[0]",
     "missing required key 'to'"},
    {"policy_bad_name", policy_config({"- {name: 'voip calls', protocol: udp, to: isp1}"}), 7, "policies[0].name",
     "'voip calls' is not a valid name (1..31 chars of A-Z a-z 0-9 _ . -)"},
    {"policy_name_too_long", policy_config({"- {name: " + std::string(32, 'n') + ", protocol: udp, to: isp1}"}), 7,
     "policies[0].name", "is not a valid name"},
    {"policy_name_empty", policy_config({"- {name: '', protocol: udp, to: isp1}"}), 7, "policies[0].name",
     "'' is not a valid name"},
    {"policy_duplicate_name",
     policy_config({"- name: voip", "  protocol: udp", "  to: isp1", "- name: voip", "  protocol: tcp", "  to: isp2"}), 10,
     "policies[1].name", "duplicate name 'voip' (also policies[0])"},
    {"policy_default_name_taken", policy_config({"- {name: policy2, protocol: udp, to: isp1}", "- {protocol: tcp, to: isp2}"}),
     8, "policies[1]", "its default name 'policy2' is already the name of policies[0]; name one of them"},
    {"policy_unreachable",
     policy_config({"- {protocol: udp, to: isp1}", "- {destination: [10.0.0.0/8], to: isp2}", "- {to: bypass}",
                    "- {protocol: tcp, to: isp3}"}),
     10, "policies[3]",
     "unreachable: policies[2] matches every connection (it has no source, destination, protocol or ports)"},
    {"policy_unreachable_first", policy_config({"- {name: all, to: isp1}", "- {name: voip, protocol: udp, to: isp2}"}), 8,
     "policies[1]", "unreachable: policies[0] matches every connection"},
    // --- policies: prefixes
    {"policy_source_empty", policy_config({"- {source: [], to: isp1}"}), 7, "policies[0].source",
     "must list at least one prefix or file:PATH (leave source out to match any source)"},
    {"policy_destination_null", policy_config({"- destination:", "  to: isp1"}), 7, "policies[0].destination",
     "must list at least one prefix or file:PATH (leave destination out to match any destination)"},
    {"policy_source_scalar", policy_config({"- {source: 10.0.0.0/8, to: isp1}"}), 7, "policies[0].source",
     "expected a list, got '10.0.0.0/8'"},
    {"policy_prefix_host_bits", policy_config({"- destination:", "    - 10.0.0.0/8", "    - 10.1.0.1/16", "  to: isp1"}), 9,
     "policies[0].destination[1]", "'10.1.0.1/16': host bits set (did you mean 10.1.0.0/16?)"},
    {"policy_prefix_v6_bad_len", policy_config({"- {source: ['2001:db8::/129'], to: isp1}"}), 7, "policies[0].source[0]",
     "prefix length '129' is not in 0..128 (IPv6)"},
    {"policy_prefix_not_address", policy_config({"- {destination: [example.com], to: isp1}"}), 7,
     "policies[0].destination[0]", "'example.com' is not an IPv4 or IPv6 address"},
    {"policy_prefix_list_item", policy_config({"- {destination: [[10.0.0.0/8]], to: isp1}"}), 7,
     "policies[0].destination[0]", "expected a prefix or file:PATH, got a list"},
    {"policy_file_as_mapping", policy_config({"- destination:", "    - file: domestic.txt", "  to: isp1"}), 8,
     "policies[0].destination[0]", "got a mapping; write file:PATH without a space after the colon (or quote it)"},
    {"policy_file_no_path", policy_config({"- {destination: ['file:  '], to: isp1}"}), 7, "policies[0].destination[0]",
     "'file:  ' names no file"},
    {"policy_file_missing", policy_config({"- {source: ['file:/nonexistent/wanlb-prefixes.txt'], to: isp1}"}), 7,
     "policies[0].source[0]", "cannot read /nonexistent/wanlb-prefixes.txt: No such file or directory"},
    {"policy_file_directory", policy_config({"- {source: ['file:/tmp'], to: isp1}"}), 7, "policies[0].source[0]",
     "cannot read /tmp: Is a directory"},
    // --- policies: protocol and ports
    {"protocol_unknown", policy_config({"- {protocol: sctp, to: isp1}"}), 7, "policies[0].protocol",
     "unknown protocol 'sctp' (allowed: tcp, udp, icmp, icmpv6, or a number 1..255)"},
    {"protocol_case", policy_config({"- {protocol: TCP, to: isp1}"}), 7, "policies[0].protocol", "unknown protocol 'TCP'"},
    {"protocol_zero", policy_config({"- {protocol: 0, to: isp1}"}), 7, "policies[0].protocol",
     "0 is out of range 1..255 (leave protocol out to match any protocol)"},
    {"protocol_256", policy_config({"- {protocol: 256, to: isp1}"}), 7, "policies[0].protocol", "256 is out of range 1..255"},
    {"protocol_negative", policy_config({"- {protocol: -6, to: isp1}"}), 7, "policies[0].protocol",
     "unknown protocol '-6'"},
    {"protocol_list", policy_config({"- {protocol: [tcp, udp], to: isp1}"}), 7, "policies[0].protocol",
     "expected a protocol, got a list"},
    {"ports_without_protocol", policy_config({"- {ports: [443], to: isp1}"}), 7, "policies[0].ports",
     "ports need protocol tcp or udp, but protocol is not set (any)"},
    {"ports_with_icmp", policy_config({"- {protocol: icmp, ports: [443], to: isp1}"}), 7, "policies[0].ports",
     "ports need protocol tcp or udp, but protocol is 'icmp'"},
    {"ports_with_gre", policy_config({"- protocol: 47", "  ports: [443]", "  to: isp1"}), 8, "policies[0].ports",
     "but protocol is '47'"},
    {"port_zero", policy_config({"- {protocol: tcp, ports: [0], to: isp1}"}), 7, "policies[0].ports[0]",
     "'0': port 0 is out of range 1..65535"},
    {"port_too_big", policy_config({"- {protocol: tcp, ports: [80, 65536], to: isp1}"}), 7, "policies[0].ports[1]",
     "'65536': port 65536 is out of range 1..65535"},
    {"port_range_too_big", policy_config({"- {protocol: tcp, ports: [60000-70000], to: isp1}"}), 7,
     "policies[0].ports[0]", "'60000-70000': port 70000 is out of range"},
    {"port_range_reversed", policy_config({"- {protocol: udp, ports: [20000-10000], to: isp1}"}), 7,
     "policies[0].ports[0]", "'20000-10000': the range starts above its end"},
    {"port_name", policy_config({"- {protocol: tcp, ports: [http], to: isp1}"}), 7, "policies[0].ports[0]",
     "expected a port 1..65535 or a range such as 10000-20000, got 'http'"},
    {"port_open_range", policy_config({"- {protocol: tcp, ports: [10000-], to: isp1}"}), 7, "policies[0].ports[0]",
     "got '10000-'"},
    {"port_spaced_range", policy_config({"- {protocol: tcp, ports: [10000 - 20000], to: isp1}"}), 7,
     "policies[0].ports[0]", "got '10000 - 20000'"},
    {"port_hex", policy_config({"- {protocol: tcp, ports: [0x50], to: isp1}"}), 7, "policies[0].ports[0]", "got '0x50'"},
    {"ports_scalar", policy_config({"- {protocol: tcp, ports: 443, to: isp1}"}), 7, "policies[0].ports",
     "expected a list, got '443'"},
    {"ports_empty", policy_config({"- {protocol: tcp, ports: [], to: isp1}"}), 7, "policies[0].ports",
     "must list at least one port or range (leave ports out to match any port)"},
    {"ports_too_many", policy_config({"- {protocol: tcp, ports: [1, 2, 3, 4, 5, 6, 7, 8, 9], to: isp1}"}), 7,
     "policies[0].ports", "9 entries, at most 8 are supported"},
    {"ports_duplicate", policy_config({"- protocol: udp", "  ports:", "    - 53", "    - 5353", "    - 53", "  to: isp1"}), 11,
     "policies[0].ports[2]", "duplicate port '53' (also policies[0].ports[0])"},
    // --- policies: to and order
    {"to_unknown_wan", policy_config({"- {protocol: tcp, to: isp9}"}), 7, "policies[0].to",
     "unknown WAN 'isp9' (configured: isp1, isp2, isp3)"},
    {"to_unknown_wan_in_list", policy_config({"- protocol: tcp", "  to:", "    - isp1", "    - ISP2"}), 10,
     "policies[0].to[1]", "unknown WAN 'ISP2' (configured: isp1, isp2, isp3)"},
    {"to_keyword_in_list", policy_config({"- {protocol: tcp, to: [isp1, balance]}"}), 7, "policies[0].to[1]",
     "unknown WAN 'balance' (configured: isp1, isp2, isp3); 'balance' is a word of its own: write to: balance, not in a list"},
    {"to_duplicate", policy_config({"- {protocol: tcp, to: [isp1, isp2, isp1]}"}), 7, "policies[0].to[2]",
     "duplicate WAN 'isp1' (also policies[0].to[0])"},
    {"to_empty", policy_config({"- {protocol: tcp, to: []}"}), 7, "policies[0].to", "must list at least one WAN"},
    {"to_null", policy_config({"- protocol: tcp", "  to:"}), 8, "policies[0].to",
     "expected a WAN name, a list of WAN names, 'balance' or 'bypass', got nothing"},
    {"to_mapping", policy_config({"- protocol: tcp", "  to: {wan: isp1}"}), 8, "policies[0].to",
     "expected a WAN name, a list of WAN names, 'balance' or 'bypass', got a mapping"},
    {"to_too_many", config_with_wans(9) + "policies:\n  - {protocol: tcp, to: [w1, w2, w3, w4, w5, w6, w7, w8, w9]}\n",
     13, "policies[0].to", "9 WANs, at most 8 are supported"},
    {"to_keyword_is_a_wan", "lan: [br0]\nwans:\n  - {name: balance, interface: eth1, gateway: auto}\npolicies:\n"
                            "  - {protocol: tcp, to: balance}\n",
     5, "policies[0].to", "'balance' is both a keyword and the name of wans[0]; write to: [balance] to mean the WAN"},
    {"order_unknown", policy_config({"- {protocol: tcp, to: [isp1, isp2], order: fastest}"}), 7, "policies[0].order",
     "unknown order 'fastest' (allowed: as-listed, lowest-rtt)"},
    {"order_rtt_one_wan", policy_config({"- {protocol: tcp, to: isp1, order: lowest-rtt}"}), 7, "policies[0].order",
     "lowest-rtt needs 'to' to list two or more WANs to order"},
    {"order_rtt_list_of_one", policy_config({"- {protocol: tcp, to: [isp1], order: lowest-rtt}"}), 7, "policies[0].order",
     "lowest-rtt needs 'to' to list two or more WANs"},
    {"order_rtt_balance", policy_config({"- {protocol: tcp, to: balance, order: lowest-rtt}"}), 7, "policies[0].order",
     "lowest-rtt needs 'to' to list two or more WANs"},
};

INSTANTIATE_TEST_SUITE_P(All, ConfigReject, ::testing::ValuesIn(kRejects),
                         [](const ::testing::TestParamInfo<Reject>& p) { return std::string(p.param.label); });

// ------------------------------------------------ metrics, control_group

TEST(Config, MetricsAndControlGroupDefaultOff) {
  const Config c = parse(config_with_wans(1));
  EXPECT_EQ(c.metrics, "");
  EXPECT_EQ(c.control_group, "");
}

TEST(Config, MetricsAcceptedForms) {
  const std::vector<std::pair<std::string, std::string>> forms = {
      {"127.0.0.1:9469", "127.0.0.1:9469"},
      {"\"127.0.0.1:9469\"", "127.0.0.1:9469"},
      {"0.0.0.0:9100", "0.0.0.0:9100"},
      {"192.0.2.7:1", "192.0.2.7:1"},
      {"127.0.0.1:65535", "127.0.0.1:65535"},
      {"\"[::1]:9469\"", "[::1]:9469"},
      {"'[::]:9469'", "[::]:9469"},
      {"'[2001:db8::1]:8080'", "[2001:db8::1]:8080"},
      {"'[::ffff:127.0.0.1]:9469'", "[::ffff:127.0.0.1]:9469"},
  };
  for (const auto& [yaml, want] : forms) {
    const Config c = parse(config_with_wans(1, "metrics: " + yaml + "\n"));
    EXPECT_EQ(c.metrics, want) << yaml;
  }
}

TEST(Config, ControlGroupAcceptedForms) {
  for (const std::string& name : std::vector<std::string>{"wanlb", "_ops", "net-admin", "adm_1", "a", std::string(32, 'g')}) {
    const Config c = parse(config_with_wans(1, "control_group: " + name + "\n"));
    EXPECT_EQ(c.control_group, name);
  }
  const Config both = parse(config_with_wans(1, "metrics: 127.0.0.1:9469\ncontrol_group: wanlb\n"));
  EXPECT_EQ(both.metrics, "127.0.0.1:9469");
  EXPECT_EQ(both.control_group, "wanlb");
}

TEST(Config, ParseListenAddress) {
  std::string host, why;
  int port = 0;
  ASSERT_TRUE(parse_listen_address("127.0.0.1:9469", &host, &port, &why)) << why;
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9469);
  ASSERT_TRUE(parse_listen_address("[::1]:80", &host, &port, &why)) << why;
  EXPECT_EQ(host, "::1");  // without the brackets
  EXPECT_EQ(port, 80);
  for (const char* bad : {"", ":9469", "127.0.0.1", "127.0.0.1:", "localhost:9469", "::1:9469", "[::1]", "[::1]9469",
                          "[::1:9469", "[127.0.0.1]:9469", "[fe80::1%eth0]:9469", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:09469", "127.0.0.1:123456", "1.2.3:80",
                          "127.0.0.1:80 "}) {
    why.clear();
    EXPECT_FALSE(parse_listen_address(bad, &host, &port, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

const Reject kMetricsRejects[] = {
    {"metrics_name", config_with_wans(1, "metrics: localhost:9469\n"), 2, "metrics",
     "'localhost' is not an IPv4 address (names are not accepted)"},
    {"metrics_no_port", config_with_wans(1, "metrics: 127.0.0.1\n"), 2, "metrics",
     "'127.0.0.1': expected host:port (e.g. 127.0.0.1:9469)"},
    {"metrics_port_only", config_with_wans(1, "metrics: 9469\n"), 2, "metrics", "'9469': expected host:port"},
    {"metrics_empty_port", config_with_wans(1, "metrics: '127.0.0.1:'\n"), 2, "metrics", "missing port"},
    {"metrics_port_zero", config_with_wans(1, "metrics: 127.0.0.1:0\n"), 2, "metrics", "port 0 is out of range 1..65535"},
    {"metrics_port_big", config_with_wans(1, "metrics: 127.0.0.1:65536\n"), 2, "metrics",
     "port 65536 is out of range 1..65535"},
    {"metrics_port_text", config_with_wans(1, "metrics: 127.0.0.1:http\n"), 2, "metrics",
     "port 'http' is not a number 1..65535"},
    {"metrics_v6_no_brackets", config_with_wans(1, "metrics: '::1:9469'\n"), 2, "metrics",
     "an IPv6 address needs brackets, e.g. [::1]:9469"},
    {"metrics_v6_unquoted", config_with_wans(1, "metrics: [::1]\n"), 2, "metrics",
     "expected host:port, got a list (quote an IPv6 form: \"[::1]:9469\")"},
    {"metrics_v6_bad", config_with_wans(1, "metrics: '[::g]:9469'\n"), 2, "metrics", "'::g' is not an IPv6 address"},
    {"metrics_v6_zone", config_with_wans(1, "metrics: '[fe80::1%eth0]:9469'\n"), 2, "metrics",
     "'fe80::1%eth0' is not an IPv6 address"},
    {"metrics_v6_no_port", config_with_wans(1, "metrics: '[::1]'\n"), 2, "metrics", "expected ':<port>' after ']'"},
    {"metrics_v4_in_brackets", config_with_wans(1, "metrics: '[127.0.0.1]:9469'\n"), 2, "metrics",
     "'127.0.0.1' is not an IPv6 address"},
    {"metrics_map", config_with_wans(1, "metrics: {host: 127.0.0.1}\n"), 2, "metrics", "expected host:port, got a mapping"},
    {"control_group_upper", config_with_wans(1, "control_group: Wheel\n"), 2, "control_group",
     "'Wheel' is not a valid group name ([a-z_][a-z0-9_-]{0,31})"},
    {"control_group_digit", config_with_wans(1, "control_group: 1ops\n"), 2, "control_group",
     "'1ops' is not a valid group name"},
    {"control_group_long", config_with_wans(1, "control_group: " + std::string(33, 'g') + "\n"), 2, "control_group",
     "is not a valid group name"},
    {"control_group_space", config_with_wans(1, "control_group: 'net ops'\n"), 2, "control_group",
     "'net ops' is not a valid group name"},
    {"control_group_empty", config_with_wans(1, "control_group: ''\n"), 2, "control_group",
     "'' is not a valid group name"},
    {"control_group_list", config_with_wans(1, "control_group: [wanlb]\n"), 2, "control_group",
     "expected a group name, got a list"},
    {"control_group_line", "lan: [br0]\nwans:\n  - {name: a, interface: eth1, gateway: auto}\ncontrol_group: 'a.b'\n", 4,
     "control_group", "'a.b' is not a valid group name"},
};

INSTANTIATE_TEST_SUITE_P(MetricsAndControlGroup, ConfigReject, ::testing::ValuesIn(kMetricsRejects),
                         [](const ::testing::TestParamInfo<Reject>& p) { return std::string(p.param.label); });

TEST(Config, SyntaxErrorNamesLine) {
  const std::string msg = error_of("lan: [br0]\nwans:\n  - name: a\n    interface: [eth1\n");
  EXPECT_EQ(msg.rfind("wanlb.yaml:", 0), 0u) << msg;
  EXPECT_NE(msg.find("YAML syntax error: "), std::string::npos) << msg;
  // yaml-cpp notices the unclosed flow sequence at the end of input.
  EXPECT_NE(msg.find(":5: YAML syntax error: end of sequence flow not found"), std::string::npos) << msg;
}

TEST(Config, SyntaxErrorTab) {
  const std::string msg = error_of("lan: [br0]\n\twans: []\n");
  EXPECT_EQ(msg.rfind("wanlb.yaml:2: YAML syntax error: ", 0), 0u) << msg;
}

// ------------------------------------------------------------- files

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char tmpl[] = "/tmp/wanlb_config_test_XXXXXX";
    int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    path_ = tmpl;
    EXPECT_EQ(write(fd, text.data(), text.size()), ssize_t(text.size()));
    close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Config, LoadConfigReadsFile) {
  TempFile f(config_with_wans(2));
  const Config c = load_config(f.path());
  EXPECT_EQ(c.source, f.path());
  EXPECT_EQ(c.wans.size(), 2u);
}

TEST(Config, LoadConfigErrorsNameThePath) {
  TempFile f("lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    weight: 0\n");
  try {
    load_config(f.path());
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), f.path() + ":5: wans[0].weight: 0 is out of range 1..1000");
  }
}

TEST(Config, MissingFile) {
  try {
    load_config("/nonexistent/wanlb.yaml");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read /nonexistent/wanlb.yaml: No such file or directory");
  }
}

TEST(Config, DirectoryIsNotAFile) {
  try {
    load_config("/tmp");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read /tmp: Is a directory");
  }
}

// ------------------------------------------------------- prefix files

// A fresh directory under /tmp, removed with what the test wrote into it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/wanlb_config_test_dir_XXXXXX";
    const char* d = mkdtemp(tmpl);
    EXPECT_NE(d, nullptr);
    path_ = d ? d : "/nonexistent";
  }
  ~TempDir() {
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) std::remove(it->c_str());
    rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  // Writes `text` to `rel` (its directory must exist); returns the full path.
  std::string write(const std::string& rel, const std::string& text) {
    const std::string full = path_ + "/" + rel;
    FILE* f = std::fopen(full.c_str(), "w");
    EXPECT_NE(f, nullptr) << full;
    if (!f) return full;
    EXPECT_EQ(std::fwrite(text.data(), 1, text.size(), f), text.size());
    std::fclose(f);
    made_.push_back(full);
    return full;
  }
  std::string mkdir(const std::string& rel) {
    const std::string full = path_ + "/" + rel;
    EXPECT_EQ(::mkdir(full.c_str(), 0700), 0) << full;
    made_.push_back(full);
    return full;
  }

 private:
  std::string path_;
  std::vector<std::string> made_;  // in creation order
};

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(accepted)";
}

// WANs isp1, isp2 (lines 3..4), `policies:` on line 5, one policy on line 6
// whose `destination` entries start on line 8.
std::string file_policy_config(const std::vector<std::string>& destinations) {
  std::string y =
      "lan: [br0]\nwans:\n  - {name: isp1, interface: eth1, gateway: auto}\n  - {name: isp2, interface: eth2, gateway: auto}\n"
      "policies:\n  - name: domestic\n    destination:\n";
  for (const auto& d : destinations) y += "      - '" + d + "'\n";
  y += "    to: isp2\n";
  return y;
}

TEST(PrefixFile, CommentsBlanksAndWhitespace) {
  TempDir dir;
  dir.write("domestic.txt",
            "# domestic prefixes\n"
            "\n"
            "198.51.100.0/24\n"
            "   203.0.113.0/25   \n"
            "\t192.0.2.7\t# a host, inline comment\n"
            "2001:db8:100::/40\r\n"
            "   \n"
            "#10.0.0.0/8 commented out\n"
            "2001:db8:200::1");  // no newline at the end
  const std::string cfg = dir.write("wanlb.yaml", file_policy_config({"10.99.0.0/16", "file:domestic.txt"}));
  const Config c = load_config(cfg);
  ASSERT_EQ(c.policies.size(), 1u);
  std::vector<std::string> got;
  for (const Prefix& p : c.policies[0].destination) got.push_back(p.str());
  EXPECT_EQ(got, (std::vector<std::string>{"10.99.0.0/16", "198.51.100.0/24", "203.0.113.0/25", "192.0.2.7/32",
                                           "2001:db8:100::/40", "2001:db8:200::1/128"}));
  EXPECT_EQ(c.policies[0].wan_ids, (std::vector<uint32_t>{2}));
}

TEST(PrefixFile, RelativeToTheConfigDirectory) {
  TempDir dir;
  dir.mkdir("etc");
  dir.mkdir("etc/lists");
  dir.write("etc/lists/dom.txt", "198.51.100.0/24\n");
  dir.write("etc/lists/abs.txt", "203.0.113.0/24\n");
  // Relative to the config's directory; absolute as written (spaces after
  // `file:` are trimmed).
  const std::string cfg = dir.write(
      "etc/wanlb.yaml", file_policy_config({"file:lists/dom.txt", "file: " + dir.path() + "/etc/lists/abs.txt"}));
  const Config c = load_config(cfg);
  ASSERT_EQ(c.policies[0].destination.size(), 2u);
  EXPECT_EQ(c.policies[0].destination[0].str(), "198.51.100.0/24");
  EXPECT_EQ(c.policies[0].destination[1].str(), "203.0.113.0/24");
  // parse_config with the same source name resolves the same way.
  const Config d = parse_config(file_policy_config({"file:lists/dom.txt"}), dir.path() + "/etc/wanlb.yaml");
  EXPECT_EQ(d.policies[0].destination.size(), 1u);
}

TEST(PrefixFile, SourceWithoutDirectoryMeansCurrentDirectory) {
  TempDir dir;
  dir.write("here.txt", "198.51.100.0/24\n");
  char old[PATH_MAX];
  ASSERT_NE(getcwd(old, sizeof old), nullptr);
  ASSERT_EQ(chdir(dir.path().c_str()), 0);
  const std::string msg = message_of([] {
    const Config c = parse_config(file_policy_config({"file:here.txt"}), "wanlb.yaml");
    EXPECT_EQ(c.policies[0].destination.size(), 1u);
  });
  EXPECT_EQ(chdir(old), 0);
  EXPECT_EQ(msg, "(accepted)");
}

TEST(PrefixFile, BadLineNamesFileAndLine) {
  TempDir dir;
  const std::string list = dir.write("dom.txt", "# header\n198.51.100.0/24\n\n  10.0.0.1/8  # typo\n");
  const std::string cfg = dir.write("wanlb.yaml", file_policy_config({"192.0.2.0/24", "file:dom.txt"}));
  EXPECT_EQ(message_of([&] { load_config(cfg); }),
            list + ":4: '10.0.0.1/8': host bits set (did you mean 10.0.0.0/8?) (policies[0].destination[1])");

  dir.write("two.txt", "198.51.100.0/24 203.0.113.0/24\n");
  const std::string two = dir.write("two.yaml", file_policy_config({"file:two.txt"}));
  EXPECT_EQ(message_of([&] { load_config(two); }),
            dir.path() + "/two.txt:1: '198.51.100.0/24 203.0.113.0/24': one prefix per line (policies[0].destination[0])");

  dir.write("junk.txt", "198.51.100.0/24\nexample.com\n");
  const std::string junk = dir.write("junk.yaml", file_policy_config({"file:junk.txt"}));
  EXPECT_EQ(message_of([&] { load_config(junk); }),
            dir.path() + "/junk.txt:2: 'example.com': 'example.com' is not an IPv4 or IPv6 address "
                         "(policies[0].destination[0])");
}

TEST(PrefixFile, MissingFileNamesConfigLine) {
  TempDir dir;
  const std::string cfg = dir.write("wanlb.yaml", file_policy_config({"192.0.2.0/24", "file:nope.txt"}));
  EXPECT_EQ(message_of([&] { load_config(cfg); }),
            cfg + ":9: policies[0].destination[1]: cannot read " + dir.path() + "/nope.txt: No such file or directory");
}

TEST(PrefixFile, EmptyFileAloneIsAnError) {
  TempDir dir;
  dir.write("empty.txt", "# nothing yet\n\n");
  const std::string cfg = dir.write("wanlb.yaml", file_policy_config({"file:empty.txt"}));
  EXPECT_EQ(message_of([&] { load_config(cfg); }),
            cfg + ":7: policies[0].destination: no prefixes: the listed files hold none, and an empty destination "
                  "would match every destination");
  // Next to other entries an empty file is harmless.
  const std::string ok = dir.write("ok.yaml", file_policy_config({"file:empty.txt", "192.0.2.0/24"}));
  EXPECT_EQ(load_config(ok).policies[0].destination.size(), 1u);
}

TEST(PrefixFile, FiftyThousandPrefixes) {
  TempDir dir;
  std::string text = "# generated\n";
  for (unsigned i = 0; i < 40000; i++)  // 40000 IPv4 /24s in 10.0.0.0/8 ...
    text += "10." + std::to_string(i >> 8) + "." + std::to_string(i & 255) + ".0/24\n";
  char buf[64];
  for (unsigned i = 0; i < 10000; i++) {  // ... and 10000 IPv6 /48s
    std::snprintf(buf, sizeof buf, "2001:db8:%x::/48\n", i);
    text += buf;
  }
  dir.write("big.txt", text);
  const std::string cfg = dir.write("wanlb.yaml", file_policy_config({"file:big.txt"}));
  const auto start = std::chrono::steady_clock::now();
  const Config c = load_config(cfg);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(c.policies[0].destination.size(), 50000u);
  EXPECT_EQ(c.policies[0].destination[39999].str(), "10.156.63.0/24");
  EXPECT_EQ(c.policies[0].destination[49999].str(), "2001:db8:270f::/48");
  // Linear reading takes a few tens of milliseconds; a quadratic one would
  // take many seconds. Generous, so a slow CI machine does not flake.
  EXPECT_LT(ms, 5000) << "reading 50000 prefixes took " << ms << " ms";
}

TEST(PrefixFile, ShippedExample) {
#ifdef WANLB_SOURCE_DIR
  const std::string data = std::string(WANLB_SOURCE_DIR) + "/tests/unit/data";
#else
  std::string here = __FILE__;
  const std::string data = here.substr(0, here.rfind('/') + 1) + "data";
#endif
  const Config c = parse_config(file_policy_config({"file:" + data + "/prefixes-example.txt"}), "wanlb.yaml");
  std::vector<std::string> got;
  for (const Prefix& p : c.policies[0].destination) got.push_back(p.str());
  EXPECT_EQ(got, (std::vector<std::string>{"198.51.100.0/24", "203.0.113.0/25", "192.0.2.7/32", "2001:db8:100::/40",
                                           "2001:db8:200::1/128"}));
}

// -------------------------------------------------- validate_interfaces

TEST(Config, ValidateInterfaces) {
  const Config c = parse(
      "lan:\n  - br0\n  - br1\nwans:\n  - name: a\n    interface: eth1\n    gateway: auto\n  - name: b\n    interface: ppp0\n"
      "    probe: {targets: [192.0.2.53]}\n");
  std::vector<std::string> asked;
  auto only = [&asked](std::vector<std::string> present) {
    return [&asked, present](const std::string& n) {
      asked.push_back(n);
      for (const auto& p : present)
        if (p == n) return true;
      return false;
    };
  };

  EXPECT_NO_THROW(validate_interfaces(c, only({"br0", "br1", "eth1", "ppp0"})));
  EXPECT_EQ(asked, (std::vector<std::string>{"br0", "br1", "eth1", "ppp0"}));  // lan first, then WANs in order

  struct Case {
    std::vector<std::string> present;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"br0", "eth1", "ppp0"}, "wanlb.yaml:3: lan[1]: interface 'br1' does not exist"},
      {{"br0", "br1", "eth1"}, "wanlb.yaml:9: wans[1].interface: interface 'ppp0' does not exist"},
      {{}, "wanlb.yaml:2: lan[0]: interface 'br0' does not exist"},
  };
  for (const Case& k : cases) {
    try {
      validate_interfaces(c, only(k.present));
      ADD_FAILURE() << "accepted: " << k.message;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()), k.message);
    }
  }
}

// ------------------------------------------------ classifier, addresses

TEST(Config, EveryClassifierRoundTrips) {
  for (int i = 0; i < WANLB_CLS_COUNT; i++) {
    const auto c = wanlb_classifier(i);
    const std::string name = classifier_name(c);
    wanlb_classifier back = WANLB_CLS_COUNT;
    ASSERT_TRUE(parse_classifier(name, &back)) << name;
    EXPECT_EQ(back, c) << name;
    EXPECT_EQ(parse(config_with_wans(1, "classifier: " + name + "\n")).classifier, c) << name;
  }
  EXPECT_STREQ(classifier_name(WANLB_CLS_COUNT), "unknown");
  EXPECT_FALSE(parse_classifier("Both-Addresses", nullptr));  // case matters, as in RouterOS
  EXPECT_FALSE(parse_classifier("", nullptr));
}

TEST(Address, ParseIp) {
  IpAddr a;
  ASSERT_TRUE(parse_ip("192.0.2.1", &a));
  EXPECT_EQ(a.family, AF_INET);
  EXPECT_EQ(a.bytes[0], 192);
  EXPECT_EQ(a.bytes[3], 1);
  EXPECT_EQ(a.str(), "192.0.2.1");
  ASSERT_TRUE(parse_ip("2001:DB8:0::1", &a));
  EXPECT_EQ(a.family, AF_INET6);
  EXPECT_EQ(a.str(), "2001:db8::1");
  for (const char* bad : {"", "192.0.2", "192.0.2.1.5", "10.0.0.0/8", " 10.0.0.1", "fe80::1%eth0", "x"})
    EXPECT_FALSE(parse_ip(bad, &a)) << bad;
  EXPECT_FALSE(parse_ip(std::string("10.0.0.1\0junk", 13), &a));
  EXPECT_EQ(IpAddr{}.str(), "unset");
}

TEST(Address, ParsePrefix) {
  struct Case {
    const char* text;
    const char* str;  // nullptr: rejected
    const char* why;
  };
  const Case cases[] = {
      {"10.0.0.0/8", "10.0.0.0/8", ""},
      {"0.0.0.0/0", "0.0.0.0/0", ""},
      {"192.168.1.7", "192.168.1.7/32", ""},
      {"192.168.1.7/32", "192.168.1.7/32", ""},
      {"2001:db8::/32", "2001:db8::/32", ""},
      {"2001:db8::1", "2001:db8::1/128", ""},
      {"::/0", "::/0", ""},
      {"10.1.2.0/23", "10.1.2.0/23", ""},
      {"10.0.0.1/8", nullptr, "host bits set (did you mean 10.0.0.0/8?)"},
      {"10.1.3.0/23", nullptr, "host bits set (did you mean 10.1.2.0/23?)"},
      {"2001:db8::1/64", nullptr, "host bits set (did you mean 2001:db8::/64?)"},
      {"10.0.0.0/33", nullptr, "prefix length '33' is not in 0..32 (IPv4)"},
      {"2001:db8::/129", nullptr, "prefix length '129' is not in 0..128 (IPv6)"},
      {"10.0.0.0/", nullptr, "prefix length '' is not in 0..32 (IPv4)"},
      {"10.0.0.0/+8", nullptr, "prefix length '+8'"},
      {"10.0.0/8", nullptr, "'10.0.0' is not an IPv4 or IPv6 address"},
  };
  for (const Case& c : cases) {
    Prefix p;
    std::string why;
    bool ok = parse_prefix(c.text, &p, &why);
    if (c.str) {
      EXPECT_TRUE(ok) << c.text << ": " << why;
      EXPECT_EQ(p.str(), c.str);
    } else {
      EXPECT_FALSE(ok) << c.text;
      EXPECT_NE(why.find(c.why), std::string::npos) << c.text << ": " << why;
    }
  }
  EXPECT_FALSE(parse_prefix("10.0.0.1/8", nullptr, nullptr));  // null outputs are allowed
}

// ------------------------------------------------------------ LAN modes

TEST(Config, LanEntriesMayGiveAMode) {
  const Config c = parse(R"(lan:
  - br0
  - {interface: eth5, mode: xdp}
  - interface: "veth*"
    mode: tc
  - interface: lxc*
    mode: xdp
  - {interface: eth6}
wans:
  - {name: w1, interface: eth1, gateway: auto, nat: none}
  - {name: w2, interface: eth2, gateway: auto, nat6: none}
  - {name: w3, interface: eth3, gateway: auto}
)");
  EXPECT_EQ(c.lan, (std::vector<std::string>{"br0", "eth5", "veth*", "lxc*", "eth6"}));
  EXPECT_EQ(c.lan_lines, (std::vector<int>{2, 3, 4, 6, 8}));
  EXPECT_EQ(c.lan_modes,
            (std::vector<LanMode>{LanMode::Tc, LanMode::Xdp, LanMode::Tc, LanMode::Xdp, LanMode::Tc}));
  EXPECT_EQ(lan_mode_of(c, "br0"), LanMode::Tc);
  EXPECT_EQ(lan_mode_of(c, "eth5"), LanMode::Xdp);
  EXPECT_EQ(lan_mode_of(c, "veth12"), LanMode::Tc);
  EXPECT_EQ(lan_mode_of(c, "lxc9f"), LanMode::Xdp);  // a pattern's mode
  EXPECT_EQ(lan_mode_of(c, "eth6"), LanMode::Tc);
  EXPECT_EQ(lan_mode_of(c, "other"), LanMode::Tc);
  EXPECT_STREQ(lan_mode_name(LanMode::Xdp), "xdp");
  EXPECT_STREQ(lan_mode_name(LanMode::Tc), "tc");
  // nat6 defaults to nat.
  EXPECT_EQ(wan_nat_flags(c.wans[0]), static_cast<uint32_t>(WANLB_WAN_F_NO_NAT | WANLB_WAN_F_NO_NAT6));
  EXPECT_EQ(wan_nat_flags(c.wans[1]), static_cast<uint32_t>(WANLB_WAN_F_NO_NAT6));
  EXPECT_EQ(wan_nat_flags(c.wans[2]), 0u);
}

TEST(Config, LanStringsAreTcMode) {
  const Config c = parse(config_with_wans(1));
  EXPECT_EQ(c.lan_modes, (std::vector<LanMode>{LanMode::Tc}));
}

TEST(Config, BadLanEntriesNameFileLineAndKey) {
  const std::string wans = "wans:\n  - {name: w1, interface: eth1, gateway: auto}\n";
  struct Case {
    std::string lan;
    std::string want;
  } cases[] = {
      {"lan:\n  - {interface: eth0, mode: dpdk}\n", "wanlb.yaml:2: lan[0].mode: unknown mode 'dpdk' (allowed: tc, xdp)"},
      {"lan:\n  - {mode: xdp}\n", "wanlb.yaml:2: lan[0]: missing required key 'interface'"},
      {"lan:\n  - {interface: eth0, speed: 10}\n", "wanlb.yaml:2: lan[0].speed: unknown key 'speed' (allowed: interface, mode)"},
      {"lan:\n  - br0\n  - {interface: br0, mode: xdp}\n", "wanlb.yaml:3: lan[1].interface: duplicate interface 'br0' (also lan[0])"},
      {"lan:\n  - {interface: \"a/b\", mode: xdp}\n", "wanlb.yaml:2: lan[0].interface: 'a/b' is not a valid interface name"},
      {"lan:\n  - {interface: eth0, mode: [xdp]}\n", "wanlb.yaml:2: lan[0].mode: expected a mode"},
  };
  for (const auto& c : cases) {
    const std::string msg = error_of(c.lan + wans);
    EXPECT_EQ(msg.rfind(c.want, 0), 0u) << "message: " << msg << "\nwanted: " << c.want;
  }
}

}  // namespace
}  // namespace wanlb

namespace {

// Found by tests/fuzz/fuzz_config: yaml-cpp 0.7's LoadAll never returns on
// some malformed input (a lone ","). The parser must answer, with an error.
TEST(ConfigFuzzFindings, MalformedInputDoesNotHang) {
  EXPECT_THROW(wanlb::parse_config(",\n", "c.yaml"), wanlb::ConfigError);
  EXPECT_THROW(wanlb::parse_config(",", "c.yaml"), wanlb::ConfigError);
}

// Found by tests/fuzz/fuzz_config: control bytes from the file were copied
// into messages (a NUL cut the message short; escapes could forge output).
TEST(ConfigFuzzFindings, ControlBytesAreEscapedInMessages) {
  std::string yaml = std::string("lan: [br-lan]\n\"") + '\0' + " x\e[31m\": 1\n";
  try {
    wanlb::parse_config(yaml, "n.yaml");
    FAIL() << "accepted";
  } catch (const wanlb::ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("unknown key '\\x00 x\\x1b[31m'"), std::string::npos) << msg;
    for (char c : msg) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20) << "raw control byte in: " << msg;
  }
}

}  // namespace

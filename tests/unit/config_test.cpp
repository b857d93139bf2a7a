// Tests of the config loader (agent/config.cpp): accepted configs resolve
// to the right ids, marks and tables; every rejection names file, line and
// key path, because that message is all an operator gets at startup.
#include "config.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

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
    "src-address-and-port, dst-address-and-port, both-addresses-and-ports";

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
     "wans[0].gatway", "unknown key 'gatway' (allowed: name, interface, gateway, tier, weight, mark, table, probe)"},
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
    {"bad_classifier", "lan: [br0]\nclassifier: round-robin\nwans:\n  - {name: a, interface: eth1}\n", 2, "classifier",
     kAllClassifiers},
    {"bad_classifier_names_value", "lan: [br0]\nclassifier: round-robin\nwans:\n  - {name: a, interface: eth1}\n", 2,
     "classifier", "unknown classifier 'round-robin'"},
    {"flow_table_small", config_with_wans(1, "flow_table_size: 1023\n"), 2, "flow_table_size",
     "1023 is out of range 1024..16777216"},
    {"flow_table_big", config_with_wans(1, "flow_table_size: 16777217\n"), 2, "flow_table_size", "16777217"},
    {"first_table_zero", config_with_wans(1, "first_table: 0\n"), 2, "first_table", "0 is out of range 1..4294967280"},
    {"rule_priority_main", config_with_wans(1, "rule_priority: 32766\n"), 2, "rule_priority", "32766 is out of range 1..32765"},
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
    {"p2p_explicit_icmp", probe_config({"method: icmp"}, ""), 5, "wans[0].probe.targets", "has none (point-to-point)"},};

INSTANTIATE_TEST_SUITE_P(All, ConfigReject, ::testing::ValuesIn(kRejects),
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

}  // namespace
}  // namespace wanlb

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
// `extra_top` lines go between `lan` and `wans`.
std::string config_with_wans(size_t n, const std::string& extra_top = "") {
  std::string y = "lan: [br0]\n" + extra_top + "wans:\n";
  for (size_t i = 1; i <= n; i++)
    y += "  - {name: w" + std::to_string(i) + ", interface: eth" + std::to_string(i) + "}\n";
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

  const WanConfig& lte = c.wans[1];
  EXPECT_FALSE(lte.has_gateway);
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
  EXPECT_EQ(v6.interface_line, 26);
}

TEST(Config, Defaults) {
  const Config c = parse("lan: [br0]\nwans:\n  - name: isp1\n    interface: eth1\n  - name: isp2\n    interface: ppp0\n");
  EXPECT_EQ(c.classifier, WANLB_CLS_BOTH_ADDRESSES);
  EXPECT_EQ(c.flow_table_size, 262144u);
  EXPECT_TRUE(c.bypass.empty());
  EXPECT_EQ(c.mark_mask, 0x00ff0000u);
  EXPECT_EQ(c.first_table, 100u);
  EXPECT_EQ(c.rule_priority, 1000u);
  EXPECT_EQ(c.route_protocol, 201u);
  EXPECT_EQ(c.bpffs_dir, "/sys/fs/bpf/wanlb");
  ASSERT_EQ(c.wans.size(), 2u);
  EXPECT_FALSE(c.wans[0].has_gateway);
  EXPECT_EQ(c.wans[0].weight, 1u);
  EXPECT_EQ(c.wans[0].mark, 0x00010000u);
  EXPECT_EQ(c.wans[1].mark, 0x00020000u);
  EXPECT_EQ(c.wans[0].table, 100u);
  EXPECT_EQ(c.wans[1].table, 101u);
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
     "wans[0].gatway", "unknown key 'gatway' (allowed: name, interface, gateway, weight, mark, table)"},
    {"duplicate_key", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    weight: 2\n    weight: 3\n", 6,
     "wans[0].weight", "duplicate key 'weight' (first on line 5)"},
    {"missing_lan", "wans:\n  - {name: a, interface: eth1}\n", 1, "top level", "missing required key 'lan'"},
    {"missing_wans", "lan: [br0]\n", 1, "top level", "missing required key 'wans'"},
    {"missing_interface", "lan: [br0]\nclassifier: src-address\nwans:\n  - name: a\n    interface: eth1\n  - name: b\n    weight: 2\n",
     6, "wans[1]", "missing required key 'interface'"},
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
    {"duplicate_name", "lan: [br0]\nwans:\n  - name: isp\n    interface: eth1\n  - name: isp\n    interface: eth2\n", 5,
     "wans[1].name", "duplicate name 'isp' (also wans[0])"},
    {"duplicate_interface", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n  - name: b\n    interface: eth1\n", 6,
     "wans[1].interface", "interface 'eth1' is already used by wans[0] ('a')"},
    {"lan_is_wan", "lan: [br0, eth1]\nwans:\n  - name: a\n    interface: eth2\n  - name: b\n    interface: eth1\n", 6,
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
    {"weight_1001", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n  - name: b\n    interface: eth2\n    weight: 1001\n",
     7, "wans[1].weight", "1001 is out of range 1..1000"},
    // --- marks
    {"mark_outside_mask", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    mark: 0x01000000\n", 5,
     "wans[0].mark", "0x01000000 has bits outside mark_mask 0x00ff0000"},
    {"mark_zero", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    mark: 0\n", 5, "wans[0].mark",
     "0 is not a mark"},
    {"mark_clash_explicit",
     "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    mark: 0x00050000\n  - name: b\n    interface: eth2\n"
     "    mark: 0x00050000\n",
     8, "wans[1].mark", "mark clash: 'b' (explicit) and 'a' (wans[0], explicit) both get mark 0x00050000"},
    {"mark_clash_default_vs_explicit",
     "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n  - name: b\n    interface: eth2\n    mark: 0x00010000\n", 7,
     "wans[1].mark", "mark clash: 'b' (explicit) and 'a' (wans[0], default) both get mark 0x00010000"},
    {"mark_clash_explicit_vs_default",
     "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    mark: 0x00020000\n  - name: b\n    interface: eth2\n", 6,
     "wans[1].mark", "mark clash: 'b' (default) and 'a' (wans[0], explicit) both get mark 0x00020000"},
    // --- tables
    {"table_main", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    table: 254\n", 5, "wans[0].table",
     "254 is reserved ('main')"},
    {"table_local", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    table: 255\n", 5, "wans[0].table",
     "255 is reserved ('local')"},
    {"table_default", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    table: 253\n", 5, "wans[0].table",
     "253 is reserved ('default')"},
    {"table_unspec", "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    table: 0\n", 5, "wans[0].table",
     "0 is reserved ('unspec')"},
    {"first_table_hits_reserved", config_with_wans(3, "first_table: 251\n"), 6, "wans[2].table",
     "default table 253 (first_table 251 + 2) is reserved ('default')"},
    {"first_table_overflows", config_with_wans(20, "first_table: 0xfffffff0\n"), 20, "wans[16].table",
     "default table 4294967296 (first_table 4294967280 + 16) is above 4294967295"},
    {"table_clash_explicit",
     "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    table: 7\n  - name: b\n    interface: eth2\n    table: 7\n",
     8, "wans[1].table", "table clash: 'b' (explicit) and 'a' (wans[0], explicit) both get table 7"},
    {"table_clash_default_vs_explicit",
     "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n  - name: b\n    interface: eth2\n    table: 100\n", 7,
     "wans[1].table", "table clash: 'b' (explicit) and 'a' (wans[0], default) both get table 100"},
    {"table_clash_explicit_vs_default",
     "lan: [br0]\nwans:\n  - name: a\n    interface: eth1\n    table: 101\n  - name: b\n    interface: eth2\n", 6,
     "wans[1].table", "table clash: 'b' (default) and 'a' (wans[0], explicit) both get table 101"},
};

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
  const Config c = parse("lan:\n  - br0\n  - br1\nwans:\n  - name: a\n    interface: eth1\n  - name: b\n    interface: ppp0\n");
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
      {{"br0", "br1", "eth1"}, "wanlb.yaml:8: wans[1].interface: interface 'ppp0' does not exist"},
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

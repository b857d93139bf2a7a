// Routing, connected-network reading and sysctls against a real kernel, each
// test inside its own private network namespace (see netns_fixture.h).
// State is checked with iproute2 (`ip -j ...`), independently of libnl.
#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "connected.h"
#include "netns/netns_fixture.h"
#include "routing.h"
#include "sysctl.h"

namespace wanlb {
namespace {

using nlohmann::json;
using wanlb_test::sh;
using wanlb_test::sh_out;

constexpr uint8_t kProto = 201;

IpAddr ip(const char* text) {
  IpAddr a;
  a.family = std::string(text).find(':') == std::string::npos ? AF_INET : AF_INET6;
  EXPECT_EQ(inet_pton(a.family, text, a.bytes.data()), 1) << text;
  return a;
}

Prefix prefix(const char* addr, uint8_t len) {
  Prefix p;
  p.addr = ip(addr);
  p.len = len;
  return p;
}

json ip_json(const std::string& args) {
  std::string out = sh_out("ip -j " + args + " 2>/dev/null");
  // A table that does not exist (yet) in a family makes ip print just "[".
  if (out.find_first_not_of(" [\n") == std::string::npos) return json::array();
  return json::parse(out);
}

std::string field(const json& e, const char* key) {
  if (!e.contains(key)) return "";
  const json& v = e[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// Rules with protocol 201, as "<fam> <fwmark>/<fwmask> <table> <pref>".
std::multiset<std::string> our_rules_in_kernel() {
  std::multiset<std::string> out;
  for (const char* fam : {"-4", "-6"})
    for (const auto& e : ip_json(std::string(fam) + " -d rule show"))
      if (field(e, "protocol") == "201")
        out.insert(std::string(fam) + " " + field(e, "fwmark") + "/" + field(e, "fwmask") + " " +
                   field(e, "table") + " " + field(e, "priority"));
  return out;
}

// Every route of `table`, as "<fam> <dst> via <gw> dev <dev> proto <p> scope <s>".
std::multiset<std::string> routes_in_table(int table) {
  std::multiset<std::string> out;
  for (const char* fam : {"-4", "-6"})
    for (const auto& e : ip_json(std::string(fam) + " route show table " + std::to_string(table)))
      out.insert(std::string(fam) + " " + field(e, "dst") + " via " + field(e, "gateway") + " dev " +
                 field(e, "dev") + " proto " + field(e, "protocol") + " scope " + field(e, "scope"));
  return out;
}

std::string all_rules_text() { return sh_out("ip -d rule show; ip -d -6 rule show"); }

bool contains(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += "  " + l + "\n";
  return s;
}

WanConfig wan(const char* name, uint32_t id, const char* gateway) {
  WanConfig w;
  w.name = w.interface = name;
  w.id = id;
  w.mark = id << 16;
  w.table = 99 + id;
  if (gateway) {
    w.has_gateway = true;
    w.gateway = ip(gateway);
  }
  return w;
}

class RoutingTest : public wanlb_test::PrivateNetnsTest {
 protected:
  void SetUp() override {
    PrivateNetnsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // veth rather than dummy: the dummy module may not be loaded, and loading
    // it would create dummy0 in the host namespace.
    for (int i : {1, 2}) {
      std::string n = "wan" + std::to_string(i);
      ASSERT_EQ(sh("ip link add " + n + " type veth peer name " + n + "p"), 0);
      ASSERT_EQ(sh("ip addr add 10.100." + std::to_string(i) + ".2/24 dev " + n), 0);
      ASSERT_EQ(sh("ip link set " + n + "p up && ip link set " + n + " up"), 0);
    }
    cfg_.source = "test.yaml";
    cfg_.lan = {"lan0"};
    cfg_.wans = {wan("wan1", 1, "10.100.1.1"), wan("wan2", 2, "10.100.2.1")};
  }

  // The reconciler's input in its simplest form (the agent's full plan is
  // plan_routes, tested in tests/unit/plan_routes_test.cpp): per WAN a fwmark
  // rule for each family and a default route for its gateway's family.
  RoutingPlan plan() {
    RoutingPlan p;
    for (const WanConfig& w : cfg_.wans) {
      const int ifindex = static_cast<int>(if_nametoindex(w.interface.c_str()));
      for (int family : {AF_INET, AF_INET6}) {
        FwmarkRule r;
        r.family = family;
        r.mark = w.mark;
        r.mask = cfg_.mark_mask;
        r.table = w.table;
        r.priority = cfg_.rule_priority;
        p.rules.push_back(r);
        if (w.has_gateway && w.gateway.family != family) continue;
        WanRoute rt;
        rt.family = family;
        rt.table = w.table;
        rt.ifindex = ifindex;
        rt.has_gateway = w.has_gateway;
        rt.gateway = w.gateway;
        p.routes.push_back(rt);
      }
    }
    return p;
  }

  Config cfg_;
};

const std::multiset<std::string> kBothWanRules = {
    "-4 0x10000/0xff0000 100 1000", "-6 0x10000/0xff0000 100 1000",
    "-4 0x20000/0xff0000 101 1000", "-6 0x20000/0xff0000 101 1000"};

TEST_F(RoutingTest, ReconcileInstallsExactlyThePlan) {
  Routing routing(kProto);
  auto lines = routing.reconcile(plan());
  EXPECT_EQ(lines.size(), 6u) << joined(lines);
  EXPECT_TRUE(contains(lines, "added rule fwmark 0x10000/0xff0000 lookup 100 pref 1000 (inet)")) << joined(lines);
  EXPECT_TRUE(contains(lines, "added rule fwmark 0x10000/0xff0000 lookup 100 pref 1000 (inet6)")) << joined(lines);
  EXPECT_TRUE(contains(lines, "added route default via 10.100.1.1 dev wan1 table 100")) << joined(lines);
  EXPECT_TRUE(contains(lines, "added route default via 10.100.2.1 dev wan2 table 101")) << joined(lines);

  EXPECT_EQ(our_rules_in_kernel(), kBothWanRules);
  EXPECT_EQ(routes_in_table(100), std::multiset<std::string>{"-4 default via 10.100.1.1 dev wan1 proto 201 scope "});
  EXPECT_EQ(routes_in_table(101), std::multiset<std::string>{"-4 default via 10.100.2.1 dev wan2 proto 201 scope "});
  EXPECT_EQ(routing.list_rules().size(), 4u);
  auto routes = routing.list_routes();
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_TRUE(std::find(routes.begin(), routes.end(), plan().routes[0]) != routes.end());
}

TEST_F(RoutingTest, ReconcileIsIdempotent) {
  Routing routing(kProto);
  routing.reconcile(plan());
  auto lines = routing.reconcile(plan());
  EXPECT_TRUE(lines.empty()) << joined(lines);
  EXPECT_EQ(our_rules_in_kernel(), kBothWanRules);
  EXPECT_EQ(routes_in_table(100).size(), 1u);
  EXPECT_EQ(routes_in_table(101).size(), 1u);
}

TEST_F(RoutingTest, ChangedGatewayIsReplaced) {
  Routing routing(kProto);
  routing.reconcile(plan());
  cfg_.wans[0].gateway = ip("10.100.1.254");
  auto lines = routing.reconcile(plan());
  EXPECT_EQ(lines, std::vector<std::string>{"replaced route default via 10.100.1.254 dev wan1 table 100"});
  EXPECT_EQ(routes_in_table(100), std::multiset<std::string>{"-4 default via 10.100.1.254 dev wan1 proto 201 scope "});
  EXPECT_EQ(our_rules_in_kernel(), kBothWanRules);
}

TEST_F(RoutingTest, RemovedWanLosesRulesAndRoute) {
  Routing routing(kProto);
  routing.reconcile(plan());
  cfg_.wans.pop_back();
  auto lines = routing.reconcile(plan());
  EXPECT_EQ(lines.size(), 3u) << joined(lines);
  EXPECT_TRUE(contains(lines, "deleted rule fwmark 0x20000/0xff0000 lookup 101 pref 1000 (inet)")) << joined(lines);
  EXPECT_TRUE(contains(lines, "deleted rule fwmark 0x20000/0xff0000 lookup 101 pref 1000 (inet6)")) << joined(lines);
  EXPECT_TRUE(contains(lines, "deleted route default via 10.100.2.1 dev wan2 table 101")) << joined(lines);
  EXPECT_EQ(our_rules_in_kernel(),
            (std::multiset<std::string>{"-4 0x10000/0xff0000 100 1000", "-6 0x10000/0xff0000 100 1000"}));
  EXPECT_TRUE(routes_in_table(101).empty());
  EXPECT_EQ(routes_in_table(100).size(), 1u);
}

TEST_F(RoutingTest, ForeignRulesAndRoutesSurvive) {
  // (iproute2 prints no protocol for "boot", the default of `ip route add`.)
  // Same selector as ours but no protocol, a rule with another protocol, a
  // foreign route inside our table and one in another table.
  ASSERT_EQ(sh("ip rule add fwmark 0x10000/0xff0000 lookup 100 pref 1000"), 0);
  ASSERT_EQ(sh("ip rule add from 10.100.9.0/24 lookup 300 pref 1500 proto static"), 0);
  ASSERT_EQ(sh("ip route add 10.100.9.0/24 via 10.100.1.1 dev wan1 table 100"), 0);
  ASSERT_EQ(sh("ip route add default via 10.100.2.1 dev wan2 table 300 proto static"), 0);
  std::string rules_before = all_rules_text();

  Routing routing(kProto);
  routing.reconcile(plan());
  EXPECT_EQ(our_rules_in_kernel(), kBothWanRules);
  EXPECT_EQ(routes_in_table(100), (std::multiset<std::string>{"-4 default via 10.100.1.1 dev wan1 proto 201 scope ",
                                                              "-4 10.100.9.0/24 via 10.100.1.1 dev wan1 proto  scope "}));
  EXPECT_TRUE(routing.reconcile(plan()).empty());

  routing.remove_all();
  EXPECT_EQ(all_rules_text(), rules_before);
  EXPECT_EQ(routes_in_table(100),
            std::multiset<std::string>{"-4 10.100.9.0/24 via 10.100.1.1 dev wan1 proto  scope "});
  EXPECT_EQ(routes_in_table(300),
            std::multiset<std::string>{"-4 default via 10.100.2.1 dev wan2 proto static scope "});
}

TEST_F(RoutingTest, RemoveAllRestoresRuleList) {
  std::string before = all_rules_text();
  Routing routing(kProto);
  routing.reconcile(plan());
  ASSERT_NE(all_rules_text(), before);
  auto lines = routing.remove_all();
  EXPECT_EQ(lines.size(), 6u) << joined(lines);
  EXPECT_EQ(all_rules_text(), before);
  EXPECT_TRUE(routes_in_table(100).empty());
  EXPECT_TRUE(routes_in_table(101).empty());
  EXPECT_TRUE(routing.list_rules().empty());
  EXPECT_TRUE(routing.list_routes().empty());
  EXPECT_TRUE(routing.remove_all().empty());
}

TEST_F(RoutingTest, GatewaylessWanGetsDeviceRoutesForBothFamilies) {
  cfg_.wans[1].has_gateway = false;
  cfg_.wans[1].gateway = IpAddr{};
  Routing routing(kProto);
  auto lines = routing.reconcile(plan());
  EXPECT_TRUE(contains(lines, "added route default dev wan2 scope link table 101 (inet)")) << joined(lines);
  EXPECT_TRUE(contains(lines, "added route default dev wan2 scope link table 101 (inet6)")) << joined(lines);
  EXPECT_EQ(routes_in_table(101), (std::multiset<std::string>{"-4 default via  dev wan2 proto 201 scope link",
                                                              "-6 default via  dev wan2 proto 201 scope "}));
  EXPECT_TRUE(routing.reconcile(plan()).empty());

  // Gaining a gateway replaces the IPv4 device route and drops the IPv6 one.
  cfg_.wans[1].has_gateway = true;
  cfg_.wans[1].gateway = ip("10.100.2.1");
  lines = routing.reconcile(plan());
  EXPECT_TRUE(contains(lines, "replaced route default via 10.100.2.1 dev wan2 table 101")) << joined(lines);
  EXPECT_TRUE(contains(lines, "deleted route default dev wan2 scope link table 101 (inet6)")) << joined(lines);
  EXPECT_EQ(routes_in_table(101), std::multiset<std::string>{"-4 default via 10.100.2.1 dev wan2 proto 201 scope "});
}

TEST_F(RoutingTest, Ipv6GatewayRoute) {
  ASSERT_EQ(sh("ip -6 addr add fd00:100:1::2/64 dev wan1 nodad"), 0);
  cfg_.wans[0].gateway = ip("fd00:100:1::1");
  Routing routing(kProto);
  auto lines = routing.reconcile(plan());
  EXPECT_TRUE(contains(lines, "added route default via fd00:100:1::1 dev wan1 table 100")) << joined(lines);
  EXPECT_EQ(routes_in_table(100), std::multiset<std::string>{"-6 default via fd00:100:1::1 dev wan1 proto 201 scope "});
  EXPECT_TRUE(routing.reconcile(plan()).empty());
}

TEST_F(RoutingTest, KernelErrorsNameWhatFailed) {
  Routing routing(kProto);
  RoutingPlan p;
  WanRoute r;
  r.family = AF_INET;
  r.table = 100;
  r.ifindex = 9999;  // no such interface
  p.routes.push_back(r);
  try {
    routing.reconcile(p);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot install route default dev"), std::string::npos) << e.what();
  }
}

// ------------------------------------------------- source / iif rules

// Rules with protocol 201, every selector: "<fam> from <src> fwmark <m>/<k>
// iif <dev> lookup <table> suppress <n> pref <p>" (empty fields stay empty).
std::multiset<std::string> our_full_rules_in_kernel() {
  std::multiset<std::string> out;
  for (const char* fam : {"-4", "-6"})
    for (const auto& e : ip_json(std::string(fam) + " -d rule show"))
      if (field(e, "protocol") == "201")
        out.insert(std::string(fam) + " from " + field(e, "src") +
                   (e.contains("srclen") ? "/" + field(e, "srclen") : "") + " fwmark " + field(e, "fwmark") + "/" +
                   field(e, "fwmask") + " iif " + field(e, "iif") + " lookup " + field(e, "table") + " suppress " +
                   field(e, "suppress_prefixlen") + " pref " + field(e, "priority"));
  return out;
}

FwmarkRule src_rule(const char* addr, uint32_t table, uint32_t pref) {
  FwmarkRule r;
  r.src = prefix(addr, 0);
  r.family = r.src.addr.family;
  r.src.len = r.family == AF_INET ? 32 : 128;
  r.has_src = true;
  r.table = table;
  r.priority = pref;
  return r;
}

FwmarkRule iif_rule(int family, const char* iif, uint32_t table, int suppress, uint32_t pref) {
  FwmarkRule r;
  r.family = family;
  r.iif = iif;
  r.table = table;
  r.suppress_prefixlen = suppress;
  r.priority = pref;
  return r;
}

FwmarkRule mark_rule(int family, uint32_t mark, uint32_t table, uint32_t pref) {
  FwmarkRule r;
  r.family = family;
  r.mark = mark;
  r.mask = 0xff0000;
  r.table = table;
  r.priority = pref;
  return r;
}

TEST_F(RoutingTest, SourceRulesForBothFamilies) {
  ASSERT_EQ(sh("ip -6 addr add fd00:100:1::2/64 dev wan1 nodad"), 0);
  RoutingPlan p;
  p.rules = {src_rule("10.100.1.2", 100, 999), src_rule("fd00:100:1::2", 100, 999)};
  Routing routing(kProto);
  auto lines = routing.reconcile(p);
  EXPECT_EQ(lines, (std::vector<std::string>{"added rule from 10.100.1.2 lookup 100 pref 999 (inet)",
                                             "added rule from fd00:100:1::2 lookup 100 pref 999 (inet6)"}));
  EXPECT_EQ(our_full_rules_in_kernel(),
            (std::multiset<std::string>{"-4 from 10.100.1.2 fwmark / iif  lookup 100 suppress  pref 999",
                                        "-6 from fd00:100:1::2 fwmark / iif  lookup 100 suppress  pref 999"}));
  auto listed = routing.list_rules();
  ASSERT_EQ(listed.size(), 2u);
  for (const auto& r : p.rules) EXPECT_TRUE(std::find(listed.begin(), listed.end(), r) != listed.end());

  std::string before = all_rules_text();
  lines = routing.reconcile(p);
  EXPECT_TRUE(lines.empty()) << joined(lines);
  EXPECT_EQ(all_rules_text(), before);

  // A source prefix shorter than a host.
  p.rules[0].src = prefix("10.100.0.0", 16);
  lines = routing.reconcile(p);
  EXPECT_EQ(lines, (std::vector<std::string>{"added rule from 10.100.0.0/16 lookup 100 pref 999 (inet)",
                                             "deleted rule from 10.100.1.2 lookup 100 pref 999 (inet)"}));
  EXPECT_TRUE(routing.reconcile(p).empty());
}

TEST_F(RoutingTest, IifSuppressPrefixlengthRuleForMain) {
  RoutingPlan p;
  p.rules = {iif_rule(AF_INET, "lo", 254, 0, 1001), iif_rule(AF_INET6, "lo", 254, 0, 1001),
             iif_rule(AF_INET, "lo", 164, -1, 1002)};
  Routing routing(kProto);
  auto lines = routing.reconcile(p);
  EXPECT_EQ(lines, (std::vector<std::string>{"added rule iif lo lookup main suppress_prefixlength 0 pref 1001 (inet)",
                                             "added rule iif lo lookup main suppress_prefixlength 0 pref 1001 (inet6)",
                                             "added rule iif lo lookup 164 pref 1002 (inet)"}));
  EXPECT_EQ(our_full_rules_in_kernel(),
            (std::multiset<std::string>{"-4 from all fwmark / iif lo lookup main suppress 0 pref 1001",
                                        "-6 from all fwmark / iif lo lookup main suppress 0 pref 1001",
                                        "-4 from all fwmark / iif lo lookup 164 suppress  pref 1002"}));
  std::string before = all_rules_text();
  lines = routing.reconcile(p);
  EXPECT_TRUE(lines.empty()) << joined(lines);
  EXPECT_EQ(all_rules_text(), before);

  // Only the suppress selector differs: a different rule.
  p.rules[0].suppress_prefixlen = 1;
  lines = routing.reconcile(p);
  EXPECT_EQ(lines,
            (std::vector<std::string>{"added rule iif lo lookup main suppress_prefixlength 1 pref 1001 (inet)",
                                      "deleted rule iif lo lookup main suppress_prefixlength 0 pref 1001 (inet)"}));
  EXPECT_EQ(routing.list_rules().size(), 3u);
}

FwmarkRule skip_rule(int family, uint32_t pref, uint32_t to) {
  FwmarkRule r;
  r.family = family;
  r.iif = "lo";
  r.invert = true;
  r.action = RuleAction::Goto;
  r.goto_priority = to;
  r.priority = pref;
  return r;
}

FwmarkRule nop_rule(int family, uint32_t pref) {
  FwmarkRule r;
  r.family = family;
  r.action = RuleAction::Nop;
  r.priority = pref;
  return r;
}

// The agent's skip (plan_routes: `not iif lo goto P+5` ... `nop` at P+5)
// round-trips through the reconciler, unresolved or not, and does what it is
// there for: a lookup that does not come from the router itself passes over
// every rule between the two, one from the router does not.
TEST_F(RoutingTest, SkipRuleJumpsOverTheRulesUpToItsNop) {
  RoutingPlan p = plan();  // fwmark rules at 1000, tables 100 and 101
  p.rules.push_back(skip_rule(AF_INET, 1001, 1005));
  Routing routing(kProto);
  auto lines = routing.reconcile(p);
  EXPECT_TRUE(contains(lines, "added rule not iif lo goto 1005 pref 1001 (inet)")) << joined(lines);
  // No nop yet: the kernel reports the goto as unresolved, still ours as planned.
  EXPECT_NE(sh_out("ip rule show pref 1001").find("[unresolved]"), std::string::npos) << sh_out("ip rule show");
  lines = routing.reconcile(p);
  EXPECT_TRUE(lines.empty()) << joined(lines);

  FwmarkRule own = iif_rule(AF_INET, "lo", 101, -1, 1002);  // the router's own traffic -> wan2
  FwmarkRule forwarded = src_rule("198.51.100.0", 101, 1003);  // what the skip must hide
  forwarded.src.len = 24;
  p.rules.insert(p.rules.end(), {own, forwarded, nop_rule(AF_INET, 1005), skip_rule(AF_INET6, 1001, 1005),
                                 nop_rule(AF_INET6, 1005)});
  lines = routing.reconcile(p);
  EXPECT_TRUE(contains(lines, "added rule from all nop pref 1005 (inet)")) << joined(lines);
  EXPECT_TRUE(contains(lines, "added rule not iif lo goto 1005 pref 1001 (inet6)")) << joined(lines);
  std::string rules = sh_out("ip rule show");
  EXPECT_NE(rules.find("1001:\tnot from all iif lo goto 1005 proto 201"), std::string::npos) << rules;
  EXPECT_EQ(rules.find("unresolved"), std::string::npos) << rules;
  std::string before = all_rules_text();
  lines = routing.reconcile(p);
  EXPECT_TRUE(lines.empty()) << joined(lines);
  EXPECT_EQ(all_rules_text(), before);
  auto listed = routing.list_rules();
  for (const auto& r : p.rules) EXPECT_TRUE(std::find(listed.begin(), listed.end(), r) != listed.end()) << r.priority;

  // Routing: main knows no 192.0.2.0/24; table 101 has the default via wan2.
  ASSERT_EQ(sh("sysctl -qw net.ipv4.ip_forward=1"), 0);
  EXPECT_NE(sh_out("ip route get 192.0.2.1").find("dev wan2"), std::string::npos)
      << "the router's own traffic must reach the iif lo rule inside the block";
  const std::string fwd = "ip route get 192.0.2.1 from 198.51.100.7 iif wan1 2>&1";
  EXPECT_EQ(sh_out(fwd).find("dev wan2"), std::string::npos) << "a forwarded packet must jump over 1003: " << sh_out(fwd);
  // Without the skip the same lookup does reach 1003: the check above can fail.
  ASSERT_EQ(sh("ip rule del pref 1001 not iif lo goto 1005"), 0);
  EXPECT_NE(sh_out(fwd).find("dev wan2"), std::string::npos) << sh_out(fwd);
}

TEST_F(RoutingTest, SelectorsMakeRulesDistinctAtOnePriority) {
  RoutingPlan p;
  p.rules = {src_rule("10.100.1.2", 100, 1000), mark_rule(AF_INET, 0x10000, 100, 1000),
             iif_rule(AF_INET, "lo", 100, -1, 1000), iif_rule(AF_INET, "lo", 100, 0, 1000)};
  Routing routing(kProto);
  EXPECT_EQ(routing.reconcile(p).size(), 4u);
  EXPECT_EQ(our_full_rules_in_kernel(),
            (std::multiset<std::string>{"-4 from 10.100.1.2 fwmark / iif  lookup 100 suppress  pref 1000",
                                        "-4 from all fwmark 0x10000/0xff0000 iif  lookup 100 suppress  pref 1000",
                                        "-4 from all fwmark / iif lo lookup 100 suppress  pref 1000",
                                        "-4 from all fwmark / iif lo lookup 100 suppress 0 pref 1000"}));
  EXPECT_TRUE(routing.reconcile(p).empty());

  // Dropping each one takes exactly that one.
  std::vector<std::string> expect = {"deleted rule from 10.100.1.2 lookup 100 pref 1000 (inet)",
                                     "deleted rule fwmark 0x10000/0xff0000 lookup 100 pref 1000 (inet)",
                                     "deleted rule iif lo lookup 100 pref 1000 (inet)"};
  for (size_t i = 0; i < expect.size(); ++i) {
    p.rules.erase(p.rules.begin());
    EXPECT_EQ(routing.reconcile(p), std::vector<std::string>{expect[i]});
    EXPECT_EQ(routing.list_rules(), p.rules);
    EXPECT_EQ(our_full_rules_in_kernel().size(), p.rules.size());
  }
}

TEST_F(RoutingTest, DeletingARuleSparesAMoreSpecificOneListedBefore) {
  // The kernel deletes the first rule matching the request's selectors; the
  // more specific rule comes first, and a request for the general one
  // matches it too.
  FwmarkRule specific = mark_rule(AF_INET, 0x10000, 100, 1000);
  specific.has_src = true;
  specific.src = prefix("10.100.1.2", 32);
  FwmarkRule general = mark_rule(AF_INET, 0x10000, 100, 1000);
  RoutingPlan p;
  p.rules = {specific, general};
  Routing routing(kProto);
  routing.reconcile(p);
  p.rules = {specific};
  auto lines = routing.reconcile(p);
  EXPECT_EQ(lines, std::vector<std::string>{"deleted rule fwmark 0x10000/0xff0000 lookup 100 pref 1000 (inet)"});
  EXPECT_EQ(our_full_rules_in_kernel(),
            std::multiset<std::string>{"-4 from 10.100.1.2 fwmark 0x10000/0xff0000 iif  lookup 100 suppress  pref 1000"});
  EXPECT_TRUE(routing.reconcile(p).empty());
}

TEST_F(RoutingTest, ForeignRulesWithOurSelectorsAndPrioritySurvive) {
  ASSERT_EQ(sh("ip rule add from 10.100.1.2 lookup 100 pref 999"), 0);
  ASSERT_EQ(sh("ip rule add iif lo lookup main suppress_prefixlength 0 pref 1001 proto static"), 0);
  ASSERT_EQ(sh("ip -6 rule add iif lo lookup main suppress_prefixlength 0 pref 1001"), 0);
  ASSERT_EQ(sh("ip rule add from 10.100.1.2 lookup 300 pref 999 proto 202"), 0);
  std::string before = all_rules_text();

  RoutingPlan p;
  p.rules = {src_rule("10.100.1.2", 100, 999), iif_rule(AF_INET, "lo", 254, 0, 1001),
             iif_rule(AF_INET6, "lo", 254, 0, 1001)};
  Routing routing(kProto);
  EXPECT_EQ(routing.reconcile(p).size(), 3u);
  EXPECT_EQ(routing.list_rules().size(), 3u);
  EXPECT_TRUE(routing.reconcile(p).empty());
  p.rules.pop_back();
  EXPECT_EQ(routing.reconcile(p),
            std::vector<std::string>{"deleted rule iif lo lookup main suppress_prefixlength 0 pref 1001 (inet6)"});
  EXPECT_EQ(routing.remove_all().size(), 2u);
  EXPECT_EQ(all_rules_text(), before);
}

TEST_F(RoutingTest, OddRuleOfOursIsDeleted) {
  // Stamped with our protocol, but with a selector wanlb never sets: not
  // taken for the planned rule it otherwise equals.
  ASSERT_EQ(sh("ip rule add from 10.100.1.2 to 10.100.9.0/24 lookup 100 pref 999 proto 201"), 0);
  RoutingPlan p;
  p.rules = {src_rule("10.100.1.2", 100, 999)};
  Routing routing(kProto);
  auto lines = routing.reconcile(p);
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "added rule from 10.100.1.2 lookup 100 pref 999 (inet)",
                       "deleted rule from 10.100.1.2 (and other selectors) lookup 100 pref 999 (inet)"}));
  EXPECT_EQ(our_full_rules_in_kernel(),
            std::multiset<std::string>{"-4 from 10.100.1.2 fwmark / iif  lookup 100 suppress  pref 999"});
  EXPECT_TRUE(routing.reconcile(p).empty());
}

// ------------------------------------------------------------ multipath

Nexthop hop(const char* dev, const char* gw, uint32_t weight) {
  Nexthop n;
  n.ifindex = static_cast<int>(if_nametoindex(dev));
  EXPECT_GT(n.ifindex, 0) << dev;
  if (gw) {
    n.has_gateway = true;
    n.gateway = ip(gw);
  }
  n.weight = weight;
  return n;
}

WanRoute multipath(int family, uint32_t table, std::vector<Nexthop> hops) {
  WanRoute r;
  r.family = family;
  r.table = table;
  r.nexthops = std::move(hops);
  return r;
}

// The routes of `table` with their next hops: "<fam> <dst> proto <p>[ nexthop
// via <gw> dev <dev> weight <w>]..." or, for one next hop, "... via <gw> dev <dev>".
std::multiset<std::string> multipath_routes_in_table(int table) {
  std::multiset<std::string> out;
  for (const char* fam : {"-4", "-6"})
    for (const auto& e : ip_json(std::string(fam) + " route show table " + std::to_string(table))) {
      std::string s = std::string(fam) + " " + field(e, "dst") + " proto " + field(e, "protocol");
      if (e.contains("nexthops")) {
        for (const auto& n : e["nexthops"])
          s += " nexthop via " + field(n, "gateway") + " dev " + field(n, "dev") + " weight " + field(n, "weight");
      } else {
        s += " via " + field(e, "gateway") + " dev " + field(e, "dev");
      }
      out.insert(s);
    }
  return out;
}

TEST_F(RoutingTest, MultipathDefaultRouteLifecycle) {
  Routing routing(kProto);
  RoutingPlan p = plan();
  p.routes.push_back(multipath(AF_INET, 164, {hop("wan1", "10.100.1.1", 2), hop("wan2", "10.100.2.1", 1)}));
  auto lines = routing.reconcile(p);
  EXPECT_EQ(lines.size(), 7u) << joined(lines);
  EXPECT_TRUE(contains(lines,
                       "added route default nexthop via 10.100.1.1 dev wan1 weight 2 nexthop via 10.100.2.1 dev wan2 "
                       "weight 1 table 164"))
      << joined(lines);
  EXPECT_EQ(multipath_routes_in_table(164),
            std::multiset<std::string>{"-4 default proto 201 nexthop via 10.100.1.1 dev wan1 weight 2 nexthop via "
                                       "10.100.2.1 dev wan2 weight 1"});
  EXPECT_NE(sh_out("ip route show table 164").find("nexthop via 10.100.1.1 dev wan1 weight 2"), std::string::npos)
      << sh_out("ip route show table 164");
  auto listed = routing.list_routes();
  EXPECT_TRUE(std::find(listed.begin(), listed.end(), p.routes.back()) != listed.end());

  // Idempotent, also with the next hops in another order.
  lines = routing.reconcile(p);
  EXPECT_TRUE(lines.empty()) << joined(lines);
  std::swap(p.routes.back().nexthops[0], p.routes.back().nexthops[1]);
  lines = routing.reconcile(p);
  EXPECT_TRUE(lines.empty()) << joined(lines);

  // Changed weights: replaced in place.
  p.routes.back().nexthops = {hop("wan1", "10.100.1.1", 1), hop("wan2", "10.100.2.1", 256)};
  lines = routing.reconcile(p);
  EXPECT_EQ(lines, std::vector<std::string>{"replaced route default nexthop via 10.100.1.1 dev wan1 weight 1 nexthop "
                                            "via 10.100.2.1 dev wan2 weight 256 table 164"});
  EXPECT_EQ(multipath_routes_in_table(164),
            std::multiset<std::string>{"-4 default proto 201 nexthop via 10.100.1.1 dev wan1 weight 1 nexthop via "
                                       "10.100.2.1 dev wan2 weight 256"});
  EXPECT_TRUE(routing.reconcile(p).empty());

  // Changed gateway of one next hop.
  p.routes.back().nexthops[0].gateway = ip("10.100.1.254");
  lines = routing.reconcile(p);
  ASSERT_EQ(lines.size(), 1u) << joined(lines);
  EXPECT_EQ(lines[0].rfind("replaced route default nexthop via 10.100.1.254 dev wan1 weight 1", 0), 0u) << lines[0];
  EXPECT_TRUE(routing.reconcile(p).empty());

  // Down to one next hop: a plain route.
  p.routes.back().nexthops = {hop("wan2", "10.100.2.1", 7)};
  lines = routing.reconcile(p);
  EXPECT_EQ(lines, std::vector<std::string>{"replaced route default via 10.100.2.1 dev wan2 table 164"});
  EXPECT_EQ(multipath_routes_in_table(164),
            std::multiset<std::string>{"-4 default proto 201 via 10.100.2.1 dev wan2"});
  lines = routing.reconcile(p);
  EXPECT_TRUE(lines.empty()) << joined(lines);

  // Back to two.
  p.routes.back().nexthops = {hop("wan1", "10.100.1.1", 2), hop("wan2", "10.100.2.1", 1)};
  lines = routing.reconcile(p);
  EXPECT_EQ(lines.size(), 1u) << joined(lines);
  EXPECT_EQ(multipath_routes_in_table(164).size(), 1u);
  EXPECT_TRUE(routing.reconcile(p).empty());

  // Removed.
  p.routes.pop_back();
  lines = routing.reconcile(p);
  EXPECT_EQ(lines, std::vector<std::string>{"deleted route default nexthop via 10.100.1.1 dev wan1 weight 2 nexthop "
                                            "via 10.100.2.1 dev wan2 weight 1 table 164"});
  EXPECT_TRUE(multipath_routes_in_table(164).empty());
  EXPECT_EQ(routes_in_table(100).size(), 1u);
  EXPECT_EQ(routes_in_table(101).size(), 1u);
}

TEST_F(RoutingTest, Ipv6MultipathDefaultRoute) {
  for (int i : {1, 2})
    ASSERT_EQ(sh("ip -6 addr add fd00:100:" + std::to_string(i) + "::2/64 dev wan" + std::to_string(i) + " nodad"), 0);
  Routing routing(kProto);
  RoutingPlan p;
  p.routes.push_back(multipath(AF_INET6, 164, {hop("wan1", "fd00:100:1::1", 2), hop("wan2", "fd00:100:2::1", 1)}));
  auto lines = routing.reconcile(p);
  EXPECT_EQ(lines, std::vector<std::string>{"added route default nexthop via fd00:100:1::1 dev wan1 weight 2 nexthop "
                                            "via fd00:100:2::1 dev wan2 weight 1 table 164"});
  EXPECT_EQ(multipath_routes_in_table(164),
            std::multiset<std::string>{"-6 default proto 201 nexthop via fd00:100:1::1 dev wan1 weight 2 nexthop via "
                                       "fd00:100:2::1 dev wan2 weight 1"});
  EXPECT_TRUE(routing.reconcile(p).empty());

  p.routes[0].nexthops[1].weight = 5;
  lines = routing.reconcile(p);
  EXPECT_EQ(lines.size(), 1u) << joined(lines);
  EXPECT_EQ(multipath_routes_in_table(164),
            std::multiset<std::string>{"-6 default proto 201 nexthop via fd00:100:1::1 dev wan1 weight 2 nexthop via "
                                       "fd00:100:2::1 dev wan2 weight 5"});
  EXPECT_TRUE(routing.reconcile(p).empty());

  p.routes[0].nexthops.pop_back();
  lines = routing.reconcile(p);
  EXPECT_EQ(lines, std::vector<std::string>{"replaced route default via fd00:100:1::1 dev wan1 table 164"});
  EXPECT_EQ(multipath_routes_in_table(164),
            std::multiset<std::string>{"-6 default proto 201 via fd00:100:1::1 dev wan1"});
  EXPECT_TRUE(routing.reconcile(p).empty());

  EXPECT_EQ(routing.remove_all().size(), 1u);
  EXPECT_TRUE(multipath_routes_in_table(164).empty());
}

TEST_F(RoutingTest, MultipathWeightOutOfRangeIsRefused) {
  Routing routing(kProto);
  RoutingPlan p;
  p.routes.push_back(multipath(AF_INET, 164, {hop("wan1", "10.100.1.1", 257), hop("wan2", "10.100.2.1", 1)}));
  try {
    routing.reconcile(p);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("weight 257 is not in 1..256"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(multipath_routes_in_table(164).empty());
}

TEST_F(RoutingTest, RemoveAllTakesEveryKindOfOurs) {
  ASSERT_EQ(sh("ip -6 addr add fd00:100:1::2/64 dev wan1 nodad"), 0);
  ASSERT_EQ(sh("ip rule add from 10.100.1.2 lookup 100 pref 1001"), 0);  // foreign, same selectors
  std::string before = all_rules_text();
  Routing routing(kProto);
  RoutingPlan p = plan();
  for (int family : {AF_INET, AF_INET6}) {
    p.rules.push_back(iif_rule(family, "lo", 254, 0, 1002));
    p.rules.push_back(iif_rule(family, "lo", 164, -1, 1003));
  }
  p.rules.push_back(src_rule("10.100.1.2", 100, 1001));
  p.rules.push_back(src_rule("fd00:100:1::2", 100, 1001));
  p.routes.push_back(multipath(AF_INET, 164, {hop("wan1", "10.100.1.1", 2), hop("wan2", "10.100.2.1", 1)}));
  auto lines = routing.reconcile(p);
  EXPECT_EQ(lines.size(), 10u + 3u) << joined(lines);
  EXPECT_TRUE(routing.reconcile(p).empty());

  lines = routing.remove_all();
  EXPECT_EQ(lines.size(), 10u + 3u) << joined(lines);
  EXPECT_TRUE(contains(lines, "deleted rule iif lo lookup main suppress_prefixlength 0 pref 1002 (inet6)"))
      << joined(lines);
  EXPECT_TRUE(contains(lines, "deleted route default nexthop via 10.100.1.1 dev wan1 weight 2 nexthop via 10.100.2.1 "
                              "dev wan2 weight 1 table 164"))
      << joined(lines);
  EXPECT_EQ(all_rules_text(), before);
  EXPECT_TRUE(routing.list_rules().empty());
  EXPECT_TRUE(routing.list_routes().empty());
  EXPECT_TRUE(multipath_routes_in_table(164).empty());
  EXPECT_TRUE(routing.remove_all().empty());
}

// ------------------------------------------------------------ connected

TEST_F(RoutingTest, ReadConnectedSeesSubnetsAndOwnAddresses) {
  ASSERT_EQ(sh("ip -6 addr add fd00:100:1::2/64 dev wan1 nodad"), 0);
  ConnectedSet set = read_connected();
  auto has = [](const std::vector<Prefix>& v, const Prefix& p) { return std::find(v.begin(), v.end(), p) != v.end(); };
  EXPECT_TRUE(has(set.connected, prefix("10.100.1.0", 24)));
  EXPECT_TRUE(has(set.connected, prefix("10.100.2.0", 24)));
  EXPECT_TRUE(has(set.connected, prefix("fd00:100:1::", 64)));
  EXPECT_FALSE(has(set.connected, prefix("fe80::", 64)));
  EXPECT_TRUE(has(set.local, prefix("10.100.1.2", 32)));
  EXPECT_TRUE(has(set.local, prefix("fd00:100:1::2", 128)));
  for (const auto& p : set.connected) {
    EXPECT_NE(p.len, 0) << "a default route counted as connected";
    EXPECT_NE(p.addr.bytes[0], 0xff) << "multicast counted as connected";
  }
  for (const auto& p : set.local)
    EXPECT_FALSE(p.addr.family == AF_INET6 && p.addr.bytes[0] == 0xfe && (p.addr.bytes[1] & 0xc0) == 0x80)
        << "link-local address counted as local";
  auto count = [](const std::vector<Prefix>& v, const Prefix& p) { return std::count(v.begin(), v.end(), p); };
  EXPECT_EQ(count(set.local, prefix("10.100.1.2", 32)), 1);
}

TEST_F(RoutingTest, WatcherReportsNewAddress) {
  ConnectedWatcher watcher;
  watcher.drain();  // whatever SetUp left queued
  EXPECT_FALSE(watcher.drain());
  ASSERT_EQ(sh("ip addr add 10.100.3.2/24 dev wan1"), 0);
  pollfd pfd{watcher.fd(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 2000), 1) << "no notification within 2 s";
  EXPECT_TRUE(watcher.drain());
  EXPECT_FALSE(watcher.drain());
}

// --------------------------------------------------------------- sysctl

TEST_F(RoutingTest, SysctlSetRecordsOldValueOnce) {
  // A new network namespace starts with forwarding off.
  ASSERT_EQ(sysctl_get("net/ipv4/ip_forward"), "0");
  auto change = sysctl_set("net/ipv4/ip_forward", "1");
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->key, "net/ipv4/ip_forward");
  EXPECT_EQ(change->old_value, "0");
  EXPECT_EQ(change->new_value, "1");
  EXPECT_EQ(sysctl_get("net/ipv4/ip_forward"), "1");
  EXPECT_FALSE(sysctl_set("net/ipv4/ip_forward", "1").has_value());
  EXPECT_FALSE(sysctl_set("net/ipv4/ip_forward", "1\n").has_value());  // whitespace is not a difference

  // Per-interface keys keep the interface name as is.
  auto rp = sysctl_set("net/ipv4/conf/wan1/rp_filter", "2");
  ASSERT_TRUE(rp.has_value());
  EXPECT_EQ(sysctl_get("net/ipv4/conf/wan1/rp_filter"), "2");
}

TEST_F(RoutingTest, SysctlErrorsNameTheKey) {
  try {
    sysctl_get("net/ipv4/conf/nosuchif/rp_filter");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("net/ipv4/conf/nosuchif/rp_filter"), std::string::npos) << e.what();
  }
  EXPECT_THROW(sysctl_get("../../etc/passwd"), std::runtime_error);
}

}  // namespace
}  // namespace wanlb

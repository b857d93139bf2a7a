// plan_routes: the rules and routes wanlb wants for a given WAN state.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <algorithm>

#include "plan.h"

namespace wanlb {
namespace {

IpAddr ip(const char* text) {
  IpAddr a;
  EXPECT_TRUE(parse_ip(text, &a)) << text;
  return a;
}

struct Fixture {
  Config cfg;
  Fixture() {
    cfg.rule_priority = 1000;
    cfg.mark_mask = 0x00ff0000;
    cfg.local_table = 164;
    for (uint32_t i = 1; i <= 3; i++) {
      WanConfig w;
      w.name = "isp" + std::to_string(i);
      w.interface = "wan" + std::to_string(i);
      w.id = i;
      w.mark = i << 16;
      w.table = 99 + i;
      w.weight = i == 1 ? 1000 : 500;
      cfg.wans.push_back(w);
    }
    cfg.wans[0].has_gateway = true;
    cfg.wans[0].gateway = ip("10.100.1.1");
    cfg.wans[0].has_gateway6 = true;
    cfg.wans[0].gateway6 = ip("fd00:100:1::1");
    cfg.wans[1].has_gateway = true;
    cfg.wans[1].gateway = ip("10.100.2.1");
    // wans[2]: point-to-point (no gateway at all)
  }
  std::vector<WanRouteState> states(bool live1 = true, bool live2 = true, bool live3 = false) {
    return {{&cfg.wans[0], 3, ip("10.100.1.1"), ip("fd00:100:1::1"), {ip("10.100.1.2"), ip("fd00:100:1::2")}, live1},
            {&cfg.wans[1], 4, ip("10.100.2.1"), std::nullopt, {ip("10.100.2.2")}, live2},
            {&cfg.wans[2], 5, std::nullopt, std::nullopt, {ip("100.64.0.7")}, live3}};
  }
};

size_t count_rules(const RoutingPlan& p, const std::function<bool(const FwmarkRule&)>& pred) {
  return static_cast<size_t>(std::count_if(p.rules.begin(), p.rules.end(), pred));
}

TEST(PlanRoutes, FwmarkRulePerWanAndFamily) {
  Fixture f;
  RoutingPlan p = plan_routes(f.cfg, f.states());
  EXPECT_EQ(count_rules(p, [](const FwmarkRule& r) { return r.mask != 0 && r.priority == 1000; }), 6u);
  EXPECT_EQ(count_rules(p, [](const FwmarkRule& r) {
              return r.mark == 0x20000 && r.mask == 0x00ff0000 && r.table == 101 && r.family == AF_INET6;
            }),
            1u);
}

TEST(PlanRoutes, SourceRulePerWanAddress) {
  Fixture f;
  RoutingPlan p = plan_routes(f.cfg, f.states());
  auto from = [&](const char* addr, uint32_t table) {
    return count_rules(p, [&](const FwmarkRule& r) {
      return r.has_src && r.src.addr == ip(addr) && r.table == table && r.priority == 1003 && r.mask == 0;
    });
  };
  EXPECT_EQ(from("10.100.1.2", 100), 1u);
  EXPECT_EQ(from("fd00:100:1::2", 100), 1u);
  EXPECT_EQ(from("10.100.2.2", 101), 1u);
  EXPECT_EQ(from("100.64.0.7", 102), 1u);
}

TEST(PlanRoutes, RouterTrafficRules) {
  Fixture f;
  RoutingPlan p = plan_routes(f.cfg, f.states());
  for (int family : {AF_INET, AF_INET6}) {
    EXPECT_EQ(count_rules(p, [&](const FwmarkRule& r) {
                return r.family == family && r.iif == "lo" && r.suppress_prefixlen == 0 && r.table == 254 &&
                       r.priority == 1002;
              }),
              1u);
    EXPECT_EQ(count_rules(p, [&](const FwmarkRule& r) {
                return r.family == family && r.iif == "lo" && r.suppress_prefixlen < 0 && r.table == 164 &&
                       r.priority == 1004;
              }),
              1u);
  }
}

// Everything but the router's own traffic jumps from right after the fwmark
// rules to the nop that ends wanlb's block; nothing of the block but the
// fwmark rules comes before the jump, everything else before its landing.
TEST(PlanRoutes, OthersSkipTheRouterTrafficRules) {
  Fixture f;
  RoutingPlan p = plan_routes(f.cfg, f.states());
  for (int family : {AF_INET, AF_INET6}) {
    auto skip = std::find_if(p.rules.begin(), p.rules.end(), [&](const FwmarkRule& r) {
      return r.family == family && r.action == RuleAction::Goto;
    });
    ASSERT_NE(skip, p.rules.end());
    EXPECT_TRUE(skip->invert);
    EXPECT_EQ(skip->iif, "lo");
    EXPECT_EQ(skip->mask, 0u);
    EXPECT_FALSE(skip->has_src);
    EXPECT_EQ(skip->priority, 1001u);
    EXPECT_EQ(skip->goto_priority, 1005u);
    EXPECT_EQ(count_rules(p, [&](const FwmarkRule& r) {
                return r.family == family && r.action == RuleAction::Nop && r.priority == 1005 && r.iif.empty() &&
                       !r.has_src && r.mask == 0;
              }),
              1u);
    for (const auto& r : p.rules) {
      if (r.family != family || &r == &*skip || r.action == RuleAction::Nop) continue;
      if (r.mask != 0) EXPECT_LT(r.priority, skip->priority) << "a fwmark rule after the skip";
      else EXPECT_TRUE(r.priority > skip->priority && r.priority < skip->goto_priority) << "pref " << r.priority;
    }
  }
}

TEST(PlanRoutes, WanTablesHoldTheirFamiliesDefaults) {
  Fixture f;
  RoutingPlan p = plan_routes(f.cfg, f.states());
  auto find = [&](int family, uint32_t table) {
    return std::find_if(p.routes.begin(), p.routes.end(),
                        [&](const WanRoute& r) { return r.family == family && r.table == table; });
  };
  ASSERT_NE(find(AF_INET, 100), p.routes.end());
  EXPECT_EQ(find(AF_INET, 100)->gateway, ip("10.100.1.1"));
  ASSERT_NE(find(AF_INET6, 100), p.routes.end());
  EXPECT_EQ(find(AF_INET6, 100)->gateway, ip("fd00:100:1::1"));
  EXPECT_EQ(find(AF_INET6, 101), p.routes.end()) << "isp2 has no IPv6 gateway";
  ASSERT_NE(find(AF_INET, 102), p.routes.end());
  EXPECT_FALSE(find(AF_INET, 102)->has_gateway) << "point-to-point: via the device";
  EXPECT_EQ(find(AF_INET, 102)->ifindex, 5);
}

TEST(PlanRoutes, LocalTableIsWeightedMultipathOverLiveWans) {
  Fixture f;
  RoutingPlan p = plan_routes(f.cfg, f.states(true, true, false));
  auto local = std::find_if(p.routes.begin(), p.routes.end(),
                            [](const WanRoute& r) { return r.family == AF_INET && r.table == 164; });
  ASSERT_NE(local, p.routes.end());
  ASSERT_EQ(local->nexthops.size(), 2u);
  EXPECT_EQ(local->nexthops[0].ifindex, 3);
  EXPECT_EQ(local->nexthops[0].weight, 256u);  // weight 1000 of 1000
  EXPECT_EQ(local->nexthops[1].weight, 128u);  // weight 500 of 1000

  // isp1 down: only isp2 is left for the router's own traffic.
  p = plan_routes(f.cfg, f.states(false, true, false));
  local = std::find_if(p.routes.begin(), p.routes.end(),
                       [](const WanRoute& r) { return r.family == AF_INET && r.table == 164; });
  ASSERT_NE(local, p.routes.end());
  ASSERT_EQ(local->nexthops.size(), 1u);
  EXPECT_EQ(local->nexthops[0].ifindex, 4);
}

TEST(PlanRoutes, NoLiveWanMeansNoLocalRouteSoMainDecides) {
  Fixture f;
  RoutingPlan p = plan_routes(f.cfg, f.states(false, false, false));
  EXPECT_EQ(std::count_if(p.routes.begin(), p.routes.end(), [](const WanRoute& r) { return r.table == 164; }), 0);
}

TEST(PlanRoutes, GoneInterfaceGetsNothing) {
  Fixture f;
  auto st = f.states();
  st[1].ifindex = 0;
  RoutingPlan p = plan_routes(f.cfg, st);
  EXPECT_EQ(count_rules(p, [](const FwmarkRule& r) { return r.table == 101; }), 0u);
  EXPECT_EQ(std::count_if(p.routes.begin(), p.routes.end(), [](const WanRoute& r) { return r.table == 101; }), 0);
}

TEST(PlanRoutes, MergeKeepsTheLeavingWansUntilTheNewPlanIsInForce) {
  Fixture before;  // isp1, isp2, isp3
  Fixture after;   // isp2 now on a new gateway, isp3 gone, isp4 new (takes id 3's table)
  after.cfg.wans[1].gateway = ip("10.100.2.254");
  after.cfg.wans.pop_back();
  WanConfig w4 = before.cfg.wans[2];
  w4.name = "isp4";
  w4.interface = "wan4";
  w4.id = 4;
  w4.mark = 4 << 16;
  w4.table = 103;
  w4.has_gateway = true;
  w4.gateway = ip("10.100.4.1");
  after.cfg.wans.push_back(w4);
  std::vector<WanRouteState> now = {
      {&after.cfg.wans[0], 3, ip("10.100.1.1"), ip("fd00:100:1::1"), {ip("10.100.1.2"), ip("fd00:100:1::2")}, true},
      {&after.cfg.wans[1], 4, ip("10.100.2.254"), std::nullopt, {ip("10.100.2.2")}, true},
      {&after.cfg.wans[2], 6, ip("10.100.4.1"), std::nullopt, {ip("10.100.4.2")}, true}};
  RoutingPlan to = plan_routes(after.cfg, now);
  RoutingPlan from = plan_routes(before.cfg, before.states(true, true, true));
  RoutingPlan merged = merge_routing(to, from);

  for (const auto& r : to.rules) EXPECT_NE(std::find(merged.rules.begin(), merged.rules.end(), r), merged.rules.end());
  for (const auto& r : from.rules)
    EXPECT_NE(std::find(merged.rules.begin(), merged.rules.end(), r), merged.rules.end()) << "an old rule went early";
  // No rule twice.
  for (size_t i = 0; i < merged.rules.size(); i++)
    EXPECT_EQ(std::count(merged.rules.begin(), merged.rules.end(), merged.rules[i]), 1) << i;
  // One route per (family, table): the new one where both plans route it.
  auto route_of = [&](int family, uint32_t table) {
    std::vector<WanRoute> out;
    for (const auto& r : merged.routes)
      if (r.family == family && r.table == table) out.push_back(r);
    return out;
  };
  ASSERT_EQ(route_of(AF_INET, 101).size(), 1u);
  EXPECT_EQ(route_of(AF_INET, 101)[0].gateway, ip("10.100.2.254")) << "isp2's new gateway wins";
  ASSERT_EQ(route_of(AF_INET, 102).size(), 1u) << "gone isp3's table keeps its route for now";
  ASSERT_EQ(route_of(AF_INET, 103).size(), 1u) << "new isp4's route is there";
  ASSERT_EQ(route_of(AF_INET, 164).size(), 1u);
  EXPECT_EQ(route_of(AF_INET, 164)[0], *std::find_if(to.routes.begin(), to.routes.end(), [](const WanRoute& r) {
    return r.family == AF_INET && r.table == 164;
  })) << "the router's own multipath route is the new config's";
}

}  // namespace
}  // namespace wanlb

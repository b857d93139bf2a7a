// Tiers and failover: which WANs take new connections, and the slot table.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "failover.h"
#include "wanlb/dp_shared.h"

namespace wanlb {
namespace {

constexpr uint32_t kM = WANLB_SLOT_COUNT;

std::map<uint32_t, uint32_t> owners(const std::vector<uint32_t>& t) {
  std::map<uint32_t, uint32_t> n;
  for (uint32_t id : t) n[id]++;
  return n;
}

std::vector<WanView> three_wans() {
  // isp1 and isp2 primary (tier 1, 2:1), lte backup (tier 2)
  return {{1, "isp1", 2, 1, WanState::Up}, {2, "isp2", 1, 1, WanState::Up}, {3, "lte", 1, 2, WanState::Up}};
}

TEST(Failover, LowestTierWithAnUpWanCarriesTraffic) {
  SlotPlanner planner(kM);
  auto n = owners(planner.table(three_wans()));
  EXPECT_EQ(n.count(3), 0u) << "the backup tier took slots while the primary tier is up";
  EXPECT_NEAR(double(n[1]) / kM, 2.0 / 3, 1e-4);
  EXPECT_NEAR(double(n[2]) / kM, 1.0 / 3, 1e-4);
}

TEST(Failover, DeadWanSlotsGoToSurvivorsOfItsTier) {
  SlotPlanner planner(kM);
  auto wans = three_wans();
  ASSERT_GT(owners(planner.table(wans))[2], 0u);
  wans[1].state = WanState::Down;
  std::vector<uint32_t> after = planner.table(wans);
  // isp1 is the only survivor of tier 1; the backup tier stays out.
  EXPECT_EQ(owners(after)[1], kM);
}

TEST(Failover, BackupTierOnlyWhenThePrimaryTierIsAllDown) {
  SlotPlanner planner(kM);
  auto wans = three_wans();
  wans[0].state = WanState::Down;
  wans[1].state = WanState::Probing;  // coming back, not yet live
  ActiveSet set = active_set(wans);
  EXPECT_EQ(set.tier, 2u);
  auto n = owners(planner.table(wans));
  EXPECT_EQ(n[3], kM);
}

TEST(Failover, FailbackRestoresTheConfiguredTable) {
  SlotPlanner planner(kM);
  auto wans = three_wans();
  std::vector<uint32_t> configured = planner.table(wans);
  wans[0].state = WanState::Down;
  wans[1].state = WanState::Down;
  EXPECT_NE(planner.table(wans), configured);
  wans[0].state = WanState::Up;
  wans[1].state = WanState::Up;
  EXPECT_EQ(planner.table(wans), configured);
}

TEST(Failover, AChangedWeightRebuildsTheTableAnUnchangedTierKeepsIt) {
  SlotPlanner planner(kM);
  auto wans = three_wans();
  std::vector<uint32_t> before = planner.table(wans);
  wans[2].weight = 5;  // the backup tier: tier 1's table stays
  EXPECT_EQ(planner.table(wans), before);
  wans[0].weight = wans[1].weight;  // 2:1 -> 1:1 in tier 1
  auto n = owners(planner.table(wans));
  EXPECT_NEAR(double(n[1]) / kM, 0.5, 1e-4) << "the table was not rebuilt for the new weights";
  wans[0].weight = 2;  // and back: the same table as at first
  EXPECT_EQ(planner.table(wans), before);
}

TEST(Failover, DegradedWansServeOnlyWhenNothingIsUp) {
  auto wans = three_wans();
  wans[0].state = WanState::Degraded;
  EXPECT_EQ(active_set(wans).live.size(), 1u) << "isp2 is up: the degraded isp1 takes no new connections";
  EXPECT_EQ(active_set(wans).live[0].id, 2u);
  wans[1].state = WanState::Down;
  wans[2].state = WanState::Down;
  ActiveSet set = active_set(wans);
  ASSERT_EQ(set.live.size(), 1u);
  EXPECT_EQ(set.live[0].id, 1u) << "nothing up: the degraded WAN is better than none";
}

TEST(Failover, DrainedWanTakesNoNewConnections) {
  SlotPlanner planner(kM);
  auto wans = three_wans();
  wans[0].drained = true;
  auto n = owners(planner.table(wans));
  EXPECT_EQ(n.count(1), 0u) << "a drained WAN kept slots";
  EXPECT_EQ(n[2], kM) << "its tier's other WAN takes them all";
  wans[1].drained = true;
  EXPECT_EQ(active_set(wans).tier, 2u) << "tier 1 fully drained: the backup tier takes over";
}

TEST(Failover, AllDownGivesAnEmptyTable) {
  SlotPlanner planner(kM);
  auto wans = three_wans();
  for (auto& w : wans) w.state = WanState::Down;
  EXPECT_EQ(active_set(wans).tier, 0u);
  auto t = planner.table(wans);
  EXPECT_EQ(std::count(t.begin(), t.end(), 0u), static_cast<long>(kM));
}

TEST(Failover, FlowsStayOnUpAndDegradedWansOnly) {
  EXPECT_TRUE(keeps_flows(WanState::Up));
  EXPECT_TRUE(keeps_flows(WanState::Degraded));
  EXPECT_FALSE(keeps_flows(WanState::Down));
  EXPECT_FALSE(keeps_flows(WanState::Probing));
}

}  // namespace
}  // namespace wanlb

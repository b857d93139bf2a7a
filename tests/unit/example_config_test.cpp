// The configs shipped in the repository must stay valid: users copy them.
#include <gtest/gtest.h>

#include "config.h"
#include "plan.h"

namespace {

TEST(ExampleConfig, DeployExampleParses) {
  wanlb::Config cfg = wanlb::load_config(WANLB_SOURCE_DIR "/deploy/examples/wanlb.yaml");
  ASSERT_EQ(cfg.wans.size(), 3u);
  EXPECT_EQ(cfg.wans[2].name, "lte");
  EXPECT_FALSE(cfg.wans[2].has_gateway);  // point-to-point: route via the device
  EXPECT_EQ(cfg.wans[2].table, 102u);
  EXPECT_EQ(cfg.bypass.size(), 2u);
  EXPECT_TRUE(cfg.wans[1].gateway_auto);
  EXPECT_EQ(cfg.wans[2].tier, 2u);
  EXPECT_EQ(cfg.wans[2].probe.max_loss_ppm, 200000u);
}

TEST(ExampleConfig, PlanShowsSharesThatFollowWeights) {
  wanlb::Config cfg = wanlb::load_config(WANLB_SOURCE_DIR "/deploy/examples/wanlb.yaml");
  std::string plan = wanlb::describe_plan(cfg);
  // Tier 1 (dsl1, dsl2: weights 2:2) shares the table 50/50; lte (tier 2)
  // is a backup and owns no slot until tier 1 is down.
  EXPECT_NE(plan.find("50.00%"), std::string::npos) << plan;
  EXPECT_NE(plan.find("32769"), std::string::npos) << plan;  // 65537 split 2:2
  EXPECT_NE(plan.find("32768"), std::string::npos) << plan;
  EXPECT_NE(plan.find("default dev ppp0 table 102"), std::string::npos) << plan;
}

}  // namespace

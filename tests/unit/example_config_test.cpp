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
}

TEST(ExampleConfig, PlanShowsSharesThatFollowWeights) {
  wanlb::Config cfg = wanlb::load_config(WANLB_SOURCE_DIR "/deploy/examples/wanlb.yaml");
  std::string plan = wanlb::describe_plan(cfg);
  // weights 2:2:1 -> 40% / 40% / 20%, and the slot counts split 65537 that way
  EXPECT_NE(plan.find("40.00%"), std::string::npos) << plan;
  EXPECT_NE(plan.find("20.00%"), std::string::npos) << plan;
  EXPECT_NE(plan.find("26215"), std::string::npos) << plan;  // round(65537 * 2 / 5)
  EXPECT_NE(plan.find("13107"), std::string::npos) << plan;  // the rest for weight 1
  EXPECT_NE(plan.find("default dev ppp0 table 102"), std::string::npos) << plan;
}

}  // namespace

// Reload rules: WANs keep their ids by name; restart-only keys are refused.
#include <gtest/gtest.h>

#include "datapath.h"
#include "reload.h"

namespace wanlb {
namespace {

Config parse(const std::string& wans, const std::string& extra = "") {
  return parse_config("lan: [lan0]\n" + extra + "wans:\n" + wans, "test.yaml");
}

const char* kTwo =
    "  - {name: isp1, interface: wan1, gateway: 10.100.1.1}\n"
    "  - {name: isp2, interface: wan2, gateway: 10.100.2.1}\n";

TEST(Reload, RemovingTheFirstWanKeepsTheOthersIds) {
  Config running = parse(kTwo);
  Config next = parse("  - {name: isp2, interface: wan2, gateway: 10.100.2.1}\n");
  ASSERT_EQ(next.wans[0].id, 1u) << "the parser numbers by position";
  keep_wan_ids(running, &next);
  EXPECT_EQ(next.wans[0].id, 2u);
  EXPECT_EQ(next.wans[0].mark, running.wans[1].mark);
  EXPECT_EQ(next.wans[0].table, running.wans[1].table);
}

TEST(Reload, NewWanTakesAFreeId) {
  Config running = parse(kTwo);
  Config next = parse("  - {name: isp3, interface: wan3, gateway: 10.100.3.1}\n"
                      "  - {name: isp2, interface: wan2, gateway: 10.100.2.1}\n");
  keep_wan_ids(running, &next);
  EXPECT_EQ(next.wans[1].id, 2u);  // isp2 kept
  EXPECT_EQ(next.wans[0].id, 1u);  // isp1's id is free again
  EXPECT_EQ(next.wans[0].mark, 1u << 16);
  EXPECT_EQ(next.wans[0].table, 100u);
}

TEST(Reload, ExplicitMarkAndTableStay) {
  Config running = parse(kTwo);
  Config next = parse("  - {name: isp2, interface: wan2, gateway: 10.100.2.1, mark: 0x50000, table: 150}\n");
  keep_wan_ids(running, &next);
  EXPECT_EQ(next.wans[0].id, 2u);
  EXPECT_EQ(next.wans[0].mark, 0x50000u);
  EXPECT_EQ(next.wans[0].table, 150u);
}

TEST(Reload, ClashAfterRenumberingIsRefused) {
  Config running = parse(kTwo);
  // Parsed alone this is fine (isp2 first gets table 100); but isp2 keeps
  // id 2 and so table 101, which the new WAN asks for explicitly.
  Config next = parse("  - {name: isp2, interface: wan2, gateway: 10.100.2.1}\n"
                      "  - {name: isp9, interface: wan9, gateway: 10.100.9.1, table: 101}\n");
  try {
    keep_wan_ids(running, &next);
    FAIL() << "no clash reported";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("table clash"), std::string::npos) << e.what();
  }
}

TEST(Reload, PolicyWanIdsFollowTheRenumbering) {
  Config running = parse(kTwo);
  Config next = parse("  - {name: isp2, interface: wan2, gateway: 10.100.2.1}\n",
                      "policies:\n  - {destination: [198.18.0.0/15], to: isp2}\n");
  keep_wan_ids(running, &next);
  ASSERT_EQ(next.policies.size(), 1u);
  EXPECT_EQ(next.policies[0].wan_ids[0], 2u);
}

// wanlb_pairs as the agent sizes it for `running`.
uint32_t pairs_of(const Config& running) { return pair_table_size(running.sticky_pair, running.flow_table_size); }

TEST(Reload, RestartOnlyKeysAreRefused) {
  Config running = parse(kTwo);
  EXPECT_NO_THROW(check_reloadable(running, parse(kTwo, "classifier: src-address\n"), pairs_of(running)));
  for (const char* extra : {"flow_table_size: 4096\n", "mark_mask: 0xff00\n", "bpffs_dir: /sys/fs/bpf/other\n",
                            "route_protocol: 77\n"}) {
    try {
      check_reloadable(running, parse(kTwo, extra), pairs_of(running));
      ADD_FAILURE() << "accepted " << extra;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("needs a restart"), std::string::npos) << e.what();
    }
  }
}

TEST(Reload, PairTableIsTinyWithoutStickyAndSizedLikeTheFlowsWithIt) {
  EXPECT_EQ(pair_table_size(false, 1048576), kPairsOffEntries);
  EXPECT_EQ(kPairsOffEntries, 1u);
  EXPECT_EQ(pair_table_size(true, 1048576), 1048576u);
}

TEST(Reload, StickyOnNeedsARestartWhenThePairTableIsTiny) {
  Config running = parse(kTwo);  // sticky: none
  ASSERT_FALSE(running.sticky_pair);
  try {
    check_reloadable(running, parse(kTwo, "sticky: pair\n"), pairs_of(running));
    ADD_FAILURE() << "sticky: pair accepted by a reload although the pair table has 1 entry";
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("test.yaml: sticky: "), std::string::npos) << msg;
    EXPECT_NE(msg.find("needs a restart"), std::string::npos) << msg;
  }
  // Started with sticky pairs: they may go off and on again (the table stays).
  Config sticky = parse(kTwo, "sticky: pair\n");
  EXPECT_NO_THROW(check_reloadable(sticky, running, pairs_of(sticky)));
  EXPECT_NO_THROW(check_reloadable(running, sticky, pairs_of(sticky)));
  // Off stays off; the timeout alone changes nothing in the table.
  EXPECT_NO_THROW(check_reloadable(running, parse(kTwo, "sticky_timeout: 30s\n"), pairs_of(running)));
}

TEST(Reload, RoutesFirstOnlyForWansRoutedInANewWay) {
  Config running = parse(kTwo);
  auto next_of = [&](const std::string& wans, const std::string& extra = "") {
    Config next = parse(wans, extra);
    keep_wan_ids(running, &next);
    return next;
  };
  EXPECT_FALSE(routes_first(running, next_of(kTwo)));
  EXPECT_FALSE(routes_first(running, next_of("  - {name: isp1, interface: wan1, gateway: 10.100.1.1, weight: 3}\n"
                                             "  - {name: isp2, interface: wan2, gateway: 10.100.2.1, tier: 2}\n")))
      << "weights and tiers only: the maps go first";
  EXPECT_FALSE(routes_first(running, next_of("  - {name: isp2, interface: wan2, gateway: 10.100.2.1}\n")))
      << "a WAN removed: its routes go after the slots";
  EXPECT_TRUE(routes_first(running, next_of(std::string(kTwo) + "  - {name: isp3, interface: wan3, gateway: 10.100.3.1}\n")))
      << "a new WAN";
  EXPECT_TRUE(routes_first(running, next_of("  - {name: isp1, interface: wan1, gateway: 10.100.1.254}\n"
                                            "  - {name: isp2, interface: wan2, gateway: 10.100.2.1}\n")))
      << "a new gateway";
  EXPECT_TRUE(routes_first(running, next_of("  - {name: isp1, interface: wan1, gateway: 10.100.1.1, nat: none}\n"
                                            "  - {name: isp2, interface: wan2, gateway: 10.100.2.1}\n")))
      << "NAT changed";
  EXPECT_TRUE(routes_first(running, next_of(kTwo, "rule_priority: 2000\n")));
}

}  // namespace
}  // namespace wanlb

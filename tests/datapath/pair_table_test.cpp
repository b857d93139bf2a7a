// Size of the sticky pair table (wanlb_pairs): 1 entry with `sticky: none`,
// one per flow with `sticky: pair`, and what adopting a running data path
// does when the size changes (a restart that turns sticky pairs on or off).
// Loads the data path; needs root.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "datapath.h"
#include "reload.h"
#include "wanlb/dp_shared.h"

namespace wanlb_test {
namespace {

using wanlb::Datapath;
using wanlb::MapId;

constexpr uint32_t kFlows = 16384;

bpf_map_info info_of(int fd) {
  bpf_map_info info{};
  uint32_t len = sizeof info;
  EXPECT_EQ(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
  return info;
}

uint64_t memlock(int fd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("memlock:", 0) == 0) return std::stoull(line.substr(8));
  return 0;
}

wanlb_pair_key pair_key(uint32_t n) {
  wanlb_pair_key k{};
  k.saddr[0] = htonl(0xc6120000u + n);  // 198.18.x.x
  k.daddr[0] = htonl(0xcb007100u);      // 203.0.113.0
  k.family = AF_INET;
  return k;
}

size_t count_pairs(int fd) {
  size_t n = 0;
  wanlb_pair_key cur{}, next{};
  const void* prev = nullptr;
  for (; bpf_map_get_next_key(fd, prev, &next) == 0; prev = &cur, cur = next) n++;
  return n;
}

// The data path as the agent loads it for a config with these keys.
std::unique_ptr<Datapath> load_for(const std::string& keys, const wanlb::MapFds* adopt = nullptr,
                                   std::vector<std::string>* log = nullptr) {
  wanlb::Config cfg = wanlb::parse_config(
      "lan: [lan0]\n" + keys + "wans:\n  - {name: isp1, interface: wan1, gateway: 10.100.1.1}\n", "test.yaml");
  std::vector<std::string> ignored;
  return std::make_unique<Datapath>(cfg.flow_table_size, wanlb::pair_table_size(cfg.sticky_pair, cfg.flow_table_size),
                                    adopt, log ? log : &ignored);
}

bool logged(const std::vector<std::string>& log, const std::string& text) {
  return std::any_of(log.begin(), log.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

class PairTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to load the data path";
  }
};

TEST_F(PairTableTest, StickyNoneLoadsAOneEntryPairTable) {
  auto dp = load_for("flow_table_size: 16384\n");
  EXPECT_EQ(dp->max_entries(MapId::Pairs), 1u);
  EXPECT_EQ(info_of(dp->map_fd(MapId::Pairs)).max_entries, 1u) << "the kernel's map, not just the skeleton";
  EXPECT_EQ(info_of(dp->map_fd(MapId::Flows)).max_entries, kFlows);
  // The pair table costs next to nothing next to the flow table.
  uint64_t flows = memlock(dp->map_fd(MapId::Flows)), pairs = memlock(dp->map_fd(MapId::Pairs));
  EXPECT_LT(pairs * 100, flows) << "pairs " << pairs << " bytes, flows " << flows << " bytes";
}

TEST_F(PairTableTest, StickyPairLoadsAPairTableLikeTheFlowTable) {
  auto dp = load_for("flow_table_size: 16384\nsticky: pair\n");
  EXPECT_EQ(info_of(dp->map_fd(MapId::Pairs)).max_entries, kFlows);
  // It holds as many pairs as the flow table holds flows (an LRU of the
  // wrong size would keep evicting).
  const uint32_t n = 4000;
  wanlb_pair v{};
  for (uint32_t i = 0; i < n; i++) {
    wanlb_pair_key k = pair_key(i);
    v.wan_id = 1 + i % 2;
    ASSERT_EQ(bpf_map_update_elem(dp->map_fd(MapId::Pairs), &k, &v, BPF_ANY), 0);
  }
  EXPECT_EQ(count_pairs(dp->map_fd(MapId::Pairs)), n);
}

TEST_F(PairTableTest, RestartWithStickyOnGetsAFullSizePairTable) {
  auto before = load_for("flow_table_size: 16384\n");  // the running agent had sticky: none
  wanlb::MapFds running = before->dup_maps();
  std::vector<std::string> log;
  auto after = load_for("flow_table_size: 16384\nsticky: pair\n", &running, &log);
  EXPECT_EQ(info_of(after->map_fd(MapId::Pairs)).max_entries, kFlows) << "adopted the 1-entry table";
  EXPECT_NE(info_of(after->map_fd(MapId::Pairs)).id, info_of(running[MapId::Pairs]).id);
  EXPECT_TRUE(logged(log, "wanlb_pairs resized 1 -> 16384: recreated empty")) << testing::PrintToString(log);
  // Every other map is the running one.
  EXPECT_EQ(info_of(after->map_fd(MapId::Flows)).id, info_of(running[MapId::Flows]).id);
  EXPECT_EQ(info_of(after->map_fd(MapId::Slots)).id, info_of(running[MapId::Slots]).id);
}

TEST_F(PairTableTest, RestartWithStickyOffDropsThePairTable) {
  auto before = load_for("flow_table_size: 16384\nsticky: pair\n");
  wanlb_pair_key k = pair_key(1);
  wanlb_pair v{};
  v.wan_id = 1;
  ASSERT_EQ(bpf_map_update_elem(before->map_fd(MapId::Pairs), &k, &v, BPF_ANY), 0);
  wanlb::MapFds running = before->dup_maps();
  std::vector<std::string> log;
  auto after = load_for("flow_table_size: 16384\n", &running, &log);
  EXPECT_EQ(info_of(after->map_fd(MapId::Pairs)).max_entries, 1u);
  EXPECT_EQ(count_pairs(after->map_fd(MapId::Pairs)), 0u) << "pairs copied into the unused table";
  EXPECT_TRUE(logged(log, "wanlb_pairs resized 16384 -> 1: recreated empty")) << testing::PrintToString(log);
}

TEST_F(PairTableTest, RestartWithABiggerFlowTableKeepsThePairs) {
  auto before = load_for("flow_table_size: 16384\nsticky: pair\n");
  for (uint32_t i = 0; i < 100; i++) {
    wanlb_pair_key k = pair_key(i);
    wanlb_pair v{};
    v.wan_id = 1;
    v.last_seen_ns = 1000 + i;
    ASSERT_EQ(bpf_map_update_elem(before->map_fd(MapId::Pairs), &k, &v, BPF_ANY), 0);
  }
  wanlb::MapFds running = before->dup_maps();
  std::vector<std::string> log;
  auto after = load_for("flow_table_size: 32768\nsticky: pair\n", &running, &log);
  EXPECT_EQ(info_of(after->map_fd(MapId::Pairs)).max_entries, 32768u);
  EXPECT_EQ(count_pairs(after->map_fd(MapId::Pairs)), 100u);
  wanlb_pair_key k = pair_key(42);
  wanlb_pair v{};
  ASSERT_EQ(bpf_map_lookup_elem(after->map_fd(MapId::Pairs), &k, &v), 0);
  EXPECT_EQ(v.last_seen_ns, 1042u);
  EXPECT_TRUE(logged(log, "wanlb_pairs resized 16384 -> 32768: entries copied")) << testing::PrintToString(log);
  EXPECT_TRUE(logged(log, "wanlb_flows resized 16384 -> 32768: entries copied")) << testing::PrintToString(log);
}

TEST_F(PairTableTest, SameSizeIsAdoptedAsIs) {
  auto before = load_for("flow_table_size: 16384\nsticky: pair\n");
  wanlb::MapFds running = before->dup_maps();
  std::vector<std::string> log;
  auto after = load_for("flow_table_size: 16384\nsticky: pair\n", &running, &log);
  EXPECT_EQ(info_of(after->map_fd(MapId::Pairs)).id, info_of(running[MapId::Pairs]).id);
  EXPECT_TRUE(log.empty()) << testing::PrintToString(log);
}

}  // namespace
}  // namespace wanlb_test

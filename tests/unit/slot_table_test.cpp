// Property tests for the weighted Maglev slot table (agent/slot_table.cpp).
//
// No expected tables are hard-coded: the tests check the properties the data
// path relies on (exact weights, determinism, few moved flows on change), so
// a different but equally good hash would still pass.
#include "slot_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <stdexcept>

#include "wanlb/dp_shared.h"

namespace wanlb {
namespace {

constexpr uint32_t kM = WANLB_SLOT_COUNT;  // 65537, the production size

std::vector<SlotMember> equal_members(int n, uint32_t weight = 1) {
  std::vector<SlotMember> v;
  for (int i = 1; i <= n; ++i) v.push_back({static_cast<uint32_t>(i), "wan" + std::to_string(i), weight});
  return v;
}

// Fixed seed: "random" weights, but the same ones on every run.
std::vector<SlotMember> random_members(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<uint32_t> weight(1, 1000);
  std::vector<SlotMember> v;
  for (int i = 1; i <= n; ++i) v.push_back({static_cast<uint32_t>(i), "wan" + std::to_string(i), weight(rng)});
  return v;
}

std::map<uint32_t, uint32_t> count_owners(const std::vector<uint32_t>& table) {
  std::map<uint32_t, uint32_t> c;
  for (uint32_t id : table) ++c[id];
  return c;
}

size_t count_moved(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  size_t moved = 0;
  for (size_t s = 0; s < a.size(); ++s) moved += a[s] != b[s];
  return moved;
}

// Of the slots a survivor owned before `removed` left, the fraction that
// still has the same owner: the flows on surviving WANs that do not move.
double survivor_kept(const std::vector<uint32_t>& before, const std::vector<uint32_t>& after, uint32_t removed) {
  size_t owned = 0, kept = 0;
  for (size_t s = 0; s < before.size(); ++s) {
    if (before[s] == removed) continue;
    ++owned;
    kept += before[s] == after[s];
  }
  return static_cast<double>(kept) / static_cast<double>(owned);
}

void expect_exact_quota(const std::vector<SlotMember>& members, uint32_t m) {
  const auto table = build_slot_table(members, m);
  const auto quota = slot_quota(members, m);
  ASSERT_EQ(table.size(), m);
  auto owners = count_owners(table);
  EXPECT_EQ(owners.count(0), 0u) << "no slot may stay empty";
  for (size_t i = 0; i < members.size(); ++i) EXPECT_EQ(owners[members[i].id], quota[i]) << members[i].name;
}

// ------------------------------------------------------------------ quota

TEST(SlotQuota, SumsToSlotCountAndWithinOneOfExactShare) {
  const std::vector<std::vector<SlotMember>> cases = {
      equal_members(1), equal_members(3), equal_members(7, 5), random_members(64, 1), random_members(13, 2),
      {{1, "a", 1}, {2, "b", 1000}},
  };
  for (const auto& members : cases) {
    for (uint32_t m : {kM, 7u, 101u}) {
      const auto quota = slot_quota(members, m);
      ASSERT_EQ(quota.size(), members.size());
      uint64_t total_w = 0, total_q = 0;
      for (const auto& mem : members) total_w += mem.weight;
      for (size_t i = 0; i < members.size(); ++i) {
        total_q += quota[i];
        const double exact = static_cast<double>(m) * members[i].weight / static_cast<double>(total_w);
        EXPECT_LT(std::fabs(quota[i] - exact), 1.0) << members[i].name << " m=" << m;
      }
      EXPECT_EQ(total_q, m);
    }
  }
}

TEST(SlotQuota, InInputOrderWithTiesBrokenByName) {
  // Three equal members and M=65537 leave 2 remainders to hand out: the
  // tiebreak (by name) must give them to the same members in any order.
  auto members = equal_members(3);
  const auto q = slot_quota(members, kM);
  std::reverse(members.begin(), members.end());
  const auto r = slot_quota(members, kM);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(q[i], r[2 - i]);
}

TEST(SlotQuota, EmptyMembers) { EXPECT_TRUE(slot_quota({}, kM).empty()); }

// ------------------------------------------------------------------ exact weights

TEST(SlotTable, ExactQuotaPerMember) {
  expect_exact_quota(equal_members(1), kM);
  expect_exact_quota(equal_members(2), kM);
  expect_exact_quota(equal_members(5), kM);
  expect_exact_quota({{1, "light", 1}, {2, "heavy", 1000}}, kM);
  expect_exact_quota({{7, "a", 3}, {3, "b", 2}, {9, "c", 1}}, kM);
  expect_exact_quota(random_members(64, 42), kM);
  expect_exact_quota(random_members(64, 4242), kM);
  expect_exact_quota(random_members(10, 7), 101);  // small prime table
}

TEST(SlotTable, WeightOneNextTo63HeavyStillOwnsASlot) {
  // The case WANLB_SLOT_COUNT is sized for (see dp_shared.h).
  auto members = equal_members(64, 1000);
  members[0].weight = 1;
  const auto owners = count_owners(build_slot_table(members, kM));
  EXPECT_EQ(owners.at(members[0].id), 1u);
}

TEST(SlotTable, TwoToOneSampleMatchesWeights) {
  const std::vector<SlotMember> members = {{1, "fast", 2}, {2, "slow", 1}};
  const auto table = build_slot_table(members, kM);
  std::mt19937 rng(2024);
  std::uniform_int_distribution<uint32_t> slot(0, kM - 1);
  const int n = 200000;
  int fast = 0;
  for (int i = 0; i < n; ++i) fast += table[slot(rng)] == 1;
  // Binomial sd = sqrt(n*p*q)/n ~ 0.001; 0.01 is ~10 sd, never flaky.
  EXPECT_NEAR(static_cast<double>(fast) / n, 2.0 / 3.0, 0.01);
}

// ------------------------------------------------------------------ determinism

TEST(SlotTable, DeterministicAndOrderIndependent) {
  auto members = random_members(64, 99);
  const auto a = build_slot_table(members, kM);
  EXPECT_EQ(a, build_slot_table(members, kM));
  std::mt19937 rng(5);
  for (int round = 0; round < 3; ++round) {
    std::shuffle(members.begin(), members.end(), rng);
    EXPECT_EQ(a, build_slot_table(members, kM)) << "shuffle " << round;
  }
}

TEST(SlotTable, EqualWeightTiesAreOrderIndependent) {
  // Ties in stride scheduling must not depend on input order either; equal
  // weights are the case with the most ties.
  auto members = equal_members(8);
  const auto a = build_slot_table(members, kM);
  std::reverse(members.begin(), members.end());
  EXPECT_EQ(a, build_slot_table(members, kM));
}

// ------------------------------------------------------------------ disruption
//
// Bounds below are measured values with margin (FNV-1a + splitmix64 names
// "wanN", M = 65537). Measured survivor_kept on removal, worst over which
// member is removed:
//   N=2: 1.0000  N=3: 0.9996  N=5: 0.9989  N=8: 0.9975  N=16: 0.9965  N=64: 0.9945
// Classic round-robin Maglev with the same hashes gives the same figures
// (0.9996 / 0.9989 / 0.9964 / 0.9945 for N=3/5/16/64): with equal weights
// stride scheduling is round robin, so exact quotas cost no stability.
// The asserted bounds leave room for another hash without accepting a
// regression to "reshuffle everything" (which would keep about 1/N).

TEST(SlotTableDisruption, RemovingOneEqualMemberKeepsSurvivors) {
  for (int n : {3, 5, 16, 64}) {
    const auto members = equal_members(n);
    const auto before = build_slot_table(members, kM);
    for (int r = 0; r < n; r += std::max(1, n / 8)) {
      auto rest = members;
      rest.erase(rest.begin() + r);
      const double kept = survivor_kept(before, build_slot_table(rest, kM), members[r].id);
      EXPECT_GE(kept, 0.98) << "n=" << n << " removed " << members[r].name;
    }
  }
}

TEST(SlotTableDisruption, RemovingOneWeightedMemberKeepsSurvivors) {
  // Measured worst over these 8 removals: 0.9944 (64 random weights).
  const auto members = random_members(64, 77);
  const auto before = build_slot_table(members, kM);
  for (int r = 0; r < 64; r += 8) {
    auto rest = members;
    rest.erase(rest.begin() + r);
    EXPECT_GE(survivor_kept(before, build_slot_table(rest, kM), members[r].id), 0.97) << members[r].name;
  }
}

TEST(SlotTableDisruption, AddingMemberMovesAboutItsQuota) {
  // The new member must take its quota (lower bound, forced); measured
  // moved/quota: N=2 1.001, N=5 1.007, N=16 1.052, N=64 1.31 (with many small
  // quotas a few survivors trade slots as their turn order shifts).
  const std::map<int, double> bound = {{2, 1.05}, {5, 1.1}, {16, 1.2}, {64, 1.6}};
  for (const auto& [n, factor] : bound) {
    const auto members = equal_members(n);
    auto grown = members;
    grown.push_back({static_cast<uint32_t>(n + 1), "wan" + std::to_string(n + 1), 1});
    const size_t moved = count_moved(build_slot_table(members, kM), build_slot_table(grown, kM));
    const uint32_t quota = slot_quota(grown, kM).back();
    EXPECT_GE(moved, quota) << "n=" << n;
    EXPECT_LE(moved, quota * factor) << "n=" << n;
  }
}

TEST(SlotTableDisruption, ChangingOneWeightMovesBoundedSlots) {
  // One member's weight 10 -> 15: at least |delta quota| slots must change
  // hands; measured moved/|delta|: N=2 1.000, N=5 1.006, N=16 1.068, N=64 1.48.
  const std::map<int, double> bound = {{2, 1.05}, {5, 1.1}, {16, 1.2}, {64, 1.8}};
  for (const auto& [n, factor] : bound) {
    const auto members = equal_members(n, 10);
    auto changed = members;
    changed[0].weight = 15;
    const size_t moved = count_moved(build_slot_table(members, kM), build_slot_table(changed, kM));
    const long delta = std::labs(static_cast<long>(slot_quota(changed, kM)[0]) - slot_quota(members, kM)[0]);
    EXPECT_GE(moved, static_cast<size_t>(delta)) << "n=" << n;
    EXPECT_LE(moved, static_cast<double>(delta) * factor) << "n=" << n;
  }
}

// ------------------------------------------------------------------ inputs

TEST(SlotTable, EmptyMembersGiveAllZeros) {
  const auto table = build_slot_table({}, kM);
  ASSERT_EQ(table.size(), kM);
  EXPECT_TRUE(std::all_of(table.begin(), table.end(), [](uint32_t v) { return v == 0; }));
}

TEST(SlotTable, SizeMustBePrime) {
  const auto members = equal_members(2);
  for (uint32_t bad : {0u, 1u, 4u, 65536u, 65535u, 9u})
    EXPECT_THROW(build_slot_table(members, bad), std::invalid_argument) << bad;
  EXPECT_THROW(build_slot_table({}, 65536u), std::invalid_argument);  // checked even when empty
  for (uint32_t good : {2u, 3u, 101u, 65537u}) EXPECT_EQ(build_slot_table(members, good).size(), good);
}

TEST(SlotTable, InvalidMembersThrow) {
  using V = std::vector<SlotMember>;
  const V dup_id = {{1, "a", 1}, {1, "b", 1}};
  const V dup_name = {{1, "a", 1}, {2, "a", 1}};
  const V zero_weight = {{1, "a", 0}, {2, "b", 1}};
  const V zero_id = {{0, "a", 1}};  // 0 means "empty slot" in the data path
  for (const V* v : {&dup_id, &dup_name, &zero_weight, &zero_id}) {
    EXPECT_THROW(build_slot_table(*v, kM), std::invalid_argument);
    EXPECT_THROW(slot_quota(*v, kM), std::invalid_argument);
  }
}

// ------------------------------------------------------------------ speed

// The agent rebuilds on every WAN up/down. Measured best-of-3: ~4 ms at -O2,
// ~28 ms at -O0, ~79 ms at -O0 with ASan+UBSan (std::priority_queue is not
// inlined there). The 100 ms requirement is for optimised builds; debug and
// sanitizer builds only guard against a complexity regression.
// ------------------------------------------------------------ failover

// Owner of every slot after failover, checked against the base table.
TEST(FailoverTable, SurvivorsKeepEverySlotAndDeadSlotsSplitByWeight) {
  std::vector<SlotMember> all = {{1, "isp1", 3}, {2, "isp2", 2}, {3, "isp3", 1}};
  std::vector<uint32_t> base = build_slot_table(all, kM);
  std::vector<SlotMember> live = {all[1], all[2]};  // isp1 is down
  std::vector<uint32_t> t = failover_table(base, live);

  uint32_t freed = 0;
  for (uint32_t s = 0; s < kM; s++) {
    ASSERT_NE(t[s], 1u) << "slot " << s << " still points at the dead WAN";
    ASSERT_NE(t[s], 0u) << "slot " << s << " empty";
    if (base[s] != 1) ASSERT_EQ(t[s], base[s]) << "a survivor's slot " << s << " moved";
    else freed++;
  }
  // The freed slots go 2:1 to isp2:isp3, so the whole table is 2:1 again.
  auto owners = count_owners(t);
  EXPECT_NEAR(double(owners[2]) / kM, 2.0 / 3, 1.0 / kM * 2);
  EXPECT_NEAR(double(owners[3]) / kM, 1.0 / 3, 1.0 / kM * 2);
  EXPECT_GT(freed, 30000u);
}

TEST(FailoverTable, FreedSlotsInterleaveAlongTheTable) {
  // Each survivor's share of the freed slots must hold in every part of the
  // table, not come as one block (a block would hit one hash range only).
  std::vector<SlotMember> all = equal_members(4);
  std::vector<uint32_t> base = build_slot_table(all, kM);
  std::vector<uint32_t> t = failover_table(base, {all[0], all[1], all[2]});
  const uint32_t quarter = kM / 4;
  for (uint32_t part = 0; part < 4; part++) {
    std::map<uint32_t, uint32_t> got;
    for (uint32_t s = part * quarter; s < (part + 1) * quarter; s++)
      if (base[s] == all[3].id) got[t[s]]++;
    uint32_t total = got[all[0].id] + got[all[1].id] + got[all[2].id];
    for (int i = 0; i < 3; i++) EXPECT_NEAR(double(got[all[i].id]) / total, 1.0 / 3, 0.01) << "part " << part;
  }
}

TEST(FailoverTable, AllLiveIsTheBaseAndNoneLiveIsEmpty) {
  std::vector<SlotMember> all = random_members(8, 7);
  std::vector<uint32_t> base = build_slot_table(all, kM);
  EXPECT_EQ(failover_table(base, all), base);
  std::vector<uint32_t> none = failover_table(base, {});
  EXPECT_EQ(std::count(none.begin(), none.end(), 0u), static_cast<long>(kM));
}

TEST(FailoverTable, RecoveryRestoresTheBase) {
  // Down then up again: the configured table comes back exactly, so every
  // address pair returns to the WAN it had before the failure.
  std::vector<SlotMember> all = equal_members(3, 5);
  std::vector<uint32_t> base = build_slot_table(all, kM);
  std::vector<uint32_t> during = failover_table(base, {all[0], all[2]});
  EXPECT_NE(during, base);
  EXPECT_EQ(failover_table(base, all), base);
}

}  // namespace
}  // namespace wanlb

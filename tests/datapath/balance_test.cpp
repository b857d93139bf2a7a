// Sticky address pairs and the round-robin classifier in the LAN data path
// (bpf/sticky.h, bpf/classify.h), run with BPF_PROG_TEST_RUN. Needs root.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

#include "datapath/dp_fixture.h"

namespace wanlb_test {
namespace {

Frame tcp4(const std::string& s, const std::string& d, uint16_t sp, uint16_t dp = 443, uint8_t flags = 0x02) {
  return Packet::ipv4(s, d).tcp(sp, dp).tcp_flags(flags).payload(16).build();
}

wanlb_pair_key pair_key(const std::string& s, const std::string& d) {
  wanlb_pair_key k;
  std::memset(&k, 0, sizeof k);
  inet_pton(AF_INET, s.c_str(), &k.saddr[0]);
  inet_pton(AF_INET, d.c_str(), &k.daddr[0]);
  k.family = AF_INET;
  return k;
}

class DatapathStickyTest : public DatapathFixture {
 protected:
  void SetUp() override {
    DatapathFixture::SetUp();
    if (IsSkipped()) return;
    configure(2, WANLB_CLS_BOTH_ADDRESSES_AND_PORTS);
    set_sticky(true, 600);
  }

  bool get_pair(const wanlb_pair_key& k, wanlb_pair* out) {
    return bpf_map_lookup_elem(fd(wanlb::MapId::Pairs), &k, out) == 0;
  }
  void put_pair(const wanlb_pair_key& k, const wanlb_pair& v) {
    ASSERT_EQ(bpf_map_update_elem(fd(wanlb::MapId::Pairs), &k, &v, BPF_EXIST), 0);
  }
  size_t pair_count() {
    size_t n = 0;
    wanlb_pair_key cur{}, next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd(wanlb::MapId::Pairs), prev, &next) == 0) {
      n++;
      cur = next;
      prev = &cur;
    }
    return n;
  }
  // Age the flow of source port sp by `ns` (so that its next packet refreshes).
  void age_flow(uint16_t sp, uint64_t ns) {
    for (auto& f : flows()) {
      if (f.key.sport != htons(sp)) continue;
      f.value.last_seen_ns -= ns;
      ASSERT_EQ(bpf_map_update_elem(fd(wanlb::MapId::Flows), &f.key, &f.value, BPF_EXIST), 0);
    }
  }
};

TEST_F(DatapathStickyTest, SamePairOtherPortsFollowsThePairEvenAfterTheSlotsChanged) {
  uint32_t first = wan(tcp4("10.0.0.1", "192.0.2.1", 40000));
  ASSERT_NE(first, 0u);
  wanlb_pair p;
  ASSERT_TRUE(get_pair(pair_key("10.0.0.1", "192.0.2.1"), &p));
  EXPECT_EQ(p.wan_id, first);

  uint32_t other = 3 - first;
  fill_slots(other);  // the hash now says the other WAN for everything
  uint64_t sticky_before = counter(WANLB_CNT_STICKY);
  for (uint16_t sp = 40001; sp < 40021; sp++) EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", sp, 80)), first);
  EXPECT_EQ(counter(WANLB_CNT_STICKY), sticky_before + 20);
  // Another pair (even with a shared address) takes the hash.
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.2", 40000)), other);
  EXPECT_EQ(wan(tcp4("10.0.0.2", "192.0.2.1", 40000)), other);
  EXPECT_EQ(pair_count(), 3u);
}

TEST_F(DatapathStickyTest, AnIdlePairIsFreeAfterTheTimeout) {
  set_sticky(true, 5);
  uint32_t first = wan(tcp4("10.0.0.1", "192.0.2.1", 40000));
  uint32_t other = 3 - first;
  fill_slots(other);
  auto k = pair_key("10.0.0.1", "192.0.2.1");
  wanlb_pair p;
  ASSERT_TRUE(get_pair(k, &p));
  // Seen 4 s ago: within the timeout.
  p.last_seen_ns -= 4000000000ULL;
  put_pair(k, p);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40001)), first);
  // Seen 6 s ago: expired, so the hash decides and the pair is re-recorded.
  ASSERT_TRUE(get_pair(k, &p));
  p.last_seen_ns -= 6000000000ULL;
  put_pair(k, p);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40002)), other);
  ASSERT_TRUE(get_pair(k, &p));
  EXPECT_EQ(p.wan_id, other);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40003)), other);
}

TEST_F(DatapathStickyTest, APairWhoseWanIsDownIsChosenAgainAndRecorded) {
  uint32_t first = wan(tcp4("10.0.0.1", "192.0.2.1", 40000));
  uint32_t other = 3 - first;
  set_up(first, false);
  rebuild_slots();
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40001)), other);
  wanlb_pair p;
  ASSERT_TRUE(get_pair(pair_key("10.0.0.1", "192.0.2.1"), &p));
  EXPECT_EQ(p.wan_id, other);
  // Back up: the pair stays where it went.
  set_up(first, true);
  rebuild_slots();
  fill_slots(first);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40002)), other);
}

TEST_F(DatapathStickyTest, ActiveFlowsKeepTheirPairAlive) {
  set_sticky(true, 5);
  uint32_t first = wan(tcp4("10.0.0.1", "192.0.2.1", 40000));
  auto k = pair_key("10.0.0.1", "192.0.2.1");
  wanlb_pair p;
  ASSERT_TRUE(get_pair(k, &p));
  // Both the flow and its pair were last refreshed 4.5 s ago...
  p.last_seen_ns -= 4500000000ULL;
  put_pair(k, p);
  age_flow(40000, 4500000000ULL);
  // ...then a packet of the established flow refreshes both.
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40000, 443, 0x10)), first);
  wanlb_pair after;
  ASSERT_TRUE(get_pair(k, &after));
  EXPECT_GT(after.last_seen_ns, p.last_seen_ns + 4000000000ULL);
  // A flow refreshed within the last second does not touch the pair.
  after.last_seen_ns -= 1000;
  put_pair(k, after);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40000, 443, 0x10)), first);
  wanlb_pair again;
  ASSERT_TRUE(get_pair(k, &again));
  EXPECT_EQ(again.last_seen_ns, after.last_seen_ns);
}

TEST_F(DatapathStickyTest, OffMeansNoPairsAndNoRefresh) {
  set_sticky(false);
  uint32_t first = wan(tcp4("10.0.0.1", "192.0.2.1", 40000));
  EXPECT_EQ(pair_count(), 0u);
  fill_slots(3 - first);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40001)), 3 - first);
  EXPECT_EQ(counter(WANLB_CNT_STICKY), 0u);
}

TEST_F(DatapathStickyTest, PolicyDecisionsDoNotMakePairs) {
  wanlb::PolicyConfig p;
  p.action = wanlb::PolicyAction::Wans;
  p.wan_ids = {2};
  p.protocol = IPPROTO_UDP;
  set_policies({p});
  EXPECT_EQ(wan(Packet::ipv4("10.0.0.1", "192.0.2.1").udp(5000, 53).build()), 2u);
  EXPECT_EQ(pair_count(), 0u);
  fill_slots(1);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40000)), 1u);  // no pair pulled it to WAN 2
  EXPECT_EQ(pair_count(), 1u);
}

// ----------------------------------------------------------------- round robin

class DatapathRoundRobinTest : public DatapathFixture {
 protected:
  uint64_t rr_counter() {
    uint32_t zero = 0;
    uint64_t v = 0;
    EXPECT_EQ(bpf_map_lookup_elem(fd(wanlb::MapId::Rr), &zero, &v), 0);
    return v;
  }
};

TEST_F(DatapathRoundRobinTest, ConsecutiveNewFlowsWalkTheSlots) {
  configure(3, WANLB_CLS_ROUND_ROBIN);
  std::vector<uint32_t> table(WANLB_SLOT_COUNT);
  for (uint32_t i = 0; i < WANLB_SLOT_COUNT; i++) table[i] = 1 + (i * 7 + i / 5) % 3;  // any pattern
  set_slots(table);
  uint64_t c = rr_counter();
  for (uint16_t k = 0; k < 50; k++) {
    // Identical addresses, other ports: a hash would not walk the table.
    uint32_t want = table[(c + k) % WANLB_SLOT_COUNT];
    EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", static_cast<uint16_t>(30000 + k))), want) << "flow " << k;
  }
  EXPECT_EQ(rr_counter(), c + 50);
  // Established packets do not advance the counter.
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 30000, 443, 0x10)), table[c % WANLB_SLOT_COUNT]);
  EXPECT_EQ(rr_counter(), c + 50);
}

TEST_F(DatapathRoundRobinTest, WeightsTwoToOneSplitTwoToOne) {
  configure(2, WANLB_CLS_ROUND_ROBIN);
  wans_[1].weight = 2;
  wanlb::write_wans(fd(wanlb::MapId::Wans), wans_);
  rebuild_slots();
  uint32_t n[3] = {};
  for (uint32_t i = 0; i < 3000; i++) {
    // Same source, same destination, same port pattern repeated: only the
    // counter tells these flows apart.
    n[wan(tcp4("10.0.0.1", "192.0.2.1", static_cast<uint16_t>(10000 + i)))]++;
  }
  std::printf("[ info     ] round robin 2:1 over 3000 flows: WAN 1 %u, WAN 2 %u\n", n[1], n[2]);
  EXPECT_EQ(n[0], 0u);
  EXPECT_NEAR(n[1], 2000, 60);
  EXPECT_NEAR(n[2], 1000, 60);
}

TEST_F(DatapathRoundRobinTest, FragmentsAndOtherProtocolsTakeTheNextSlotToo) {
  configure(2, WANLB_CLS_ROUND_ROBIN);
  std::vector<uint32_t> table(WANLB_SLOT_COUNT);
  for (uint32_t i = 0; i < WANLB_SLOT_COUNT; i++) table[i] = 1 + i % 2;
  set_slots(table);
  uint64_t c = rr_counter();
  EXPECT_EQ(wan(Packet::ipv4("10.0.0.1", "192.0.2.1").udp(1, 2).payload(64).fragment(0, true).build()),
            table[c % WANLB_SLOT_COUNT]);
  EXPECT_EQ(wan(Packet::ipv4("10.0.0.1", "192.0.2.1").other(47).build()), table[(c + 1) % WANLB_SLOT_COUNT]);
  EXPECT_EQ(wan(Packet::ipv6("fd00::1", "2001:db8::1").icmp_echo(9).build()), table[(c + 2) % WANLB_SLOT_COUNT]);
}

}  // namespace
}  // namespace wanlb_test

// Policies in the LAN data path (bpf/policy.h), programmed through
// agent/policy_maps (apply_policies) and run with BPF_PROG_TEST_RUN: every
// condition, first-match order (including a prefix of a later policy nested
// in one of an earlier policy), every action, the hit counters, and a
// 50,000-prefix list. Needs root; skips otherwise.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "datapath/dp_fixture.h"

namespace wanlb_test {
namespace {

using wanlb::PolicyAction;
using wanlb::PolicyConfig;

wanlb::Prefix prefix(const std::string& text) {
  wanlb::Prefix p;
  std::string why;
  if (!wanlb::parse_prefix(text, &p, &why)) throw std::invalid_argument(text + ": " + why);
  return p;
}

std::vector<wanlb::Prefix> prefixes(const std::vector<std::string>& texts) {
  std::vector<wanlb::Prefix> out;
  for (const auto& t : texts) out.push_back(prefix(t));
  return out;
}

PolicyConfig to_wans(std::vector<uint32_t> ids) {
  PolicyConfig p;
  p.action = PolicyAction::Wans;
  p.wan_ids = std::move(ids);
  return p;
}

PolicyConfig with_action(PolicyAction a) {
  PolicyConfig p;
  p.action = a;
  return p;
}

Frame tcp4(const std::string& s, const std::string& d, uint16_t sp = 40000, uint16_t dp = 443) {
  return Packet::ipv4(s, d).tcp(sp, dp).payload(16).build();
}
Frame udp4(const std::string& s, const std::string& d, uint16_t sp = 40000, uint16_t dp = 53) {
  return Packet::ipv4(s, d).udp(sp, dp).payload(16).build();
}
Frame tcp6(const std::string& s, const std::string& d, uint16_t sp = 40000, uint16_t dp = 443) {
  return Packet::ipv6(s, d).tcp(sp, dp).payload(16).build();
}

class DatapathPolicyTest : public DatapathFixture {
 protected:
  void SetUp() override {
    DatapathFixture::SetUp();
    if (IsSkipped()) return;
    configure(3, WANLB_CLS_BOTH_ADDRESSES_AND_PORTS);
    fill_slots(1);  // the balanced choice is always WAN 1: a policy shows as 2 or 3
  }

  // Flags of the only flow whose source port is sp (0 if none).
  uint32_t flow_flags(uint16_t sp) {
    for (const auto& f : flows())
      if (f.key.sport == htons(sp)) return f.value.flags;
    ADD_FAILURE() << "no flow with source port " << sp;
    return 0;
  }
};

TEST_F(DatapathPolicyTest, SourceAndDestinationPrefixesOfBothFamilies) {
  PolicyConfig src = to_wans({2});
  src.source = prefixes({"10.9.0.0/16", "fd00:9::/32"});
  PolicyConfig dst = to_wans({3});
  dst.destination = prefixes({"198.51.100.0/24", "2001:db8:5::/48"});
  set_policies({src, dst});

  EXPECT_EQ(wan(tcp4("10.9.1.1", "192.0.2.1", 40001)), 2u);
  EXPECT_EQ(wan(tcp4("10.8.1.1", "192.0.2.1", 40002)), 1u);
  EXPECT_EQ(wan(tcp4("10.8.1.1", "198.51.100.7", 40003)), 3u);
  EXPECT_EQ(wan(tcp4("10.8.1.1", "198.51.101.7", 40004)), 1u);
  // The source is checked against the source trie only, and vice versa.
  EXPECT_EQ(wan(tcp4("198.51.100.7", "10.9.1.1", 40005)), 1u);

  EXPECT_EQ(wan(tcp6("fd00:9::1", "2001:db8::1", 40006)), 2u);
  EXPECT_EQ(wan(tcp6("fd00:8::1", "2001:db8::1", 40007)), 1u);
  EXPECT_EQ(wan(tcp6("fd00:8::1", "2001:db8:5:1::1", 40008)), 3u);
  EXPECT_EQ(wan(tcp6("fd00:8::1", "2001:db8:6::1", 40009)), 1u);
  // An IPv4 prefix never matches an IPv6 packet and the reverse.
  EXPECT_EQ(wan(tcp6("::ffff:10.9.1.1", "2001:db8::1", 40010)), 1u);

  EXPECT_EQ(flow_flags(40001) & WANLB_FLOW_F_POLICY, static_cast<uint32_t>(WANLB_FLOW_F_POLICY));
  EXPECT_EQ(flow_flags(40002) & WANLB_FLOW_F_POLICY, 0u);
}

TEST_F(DatapathPolicyTest, SourceAndDestinationTogetherMustBothMatch) {
  PolicyConfig p = to_wans({2});
  p.source = prefixes({"10.9.0.0/16"});
  p.destination = prefixes({"198.51.100.0/24"});
  set_policies({p});
  EXPECT_EQ(wan(tcp4("10.9.1.1", "198.51.100.1", 40001)), 2u);
  EXPECT_EQ(wan(tcp4("10.9.1.1", "198.51.101.1", 40002)), 1u);
  EXPECT_EQ(wan(tcp4("10.8.1.1", "198.51.100.1", 40003)), 1u);
}

TEST_F(DatapathPolicyTest, Protocol) {
  PolicyConfig udp = to_wans({2});
  udp.protocol = IPPROTO_UDP;
  PolicyConfig icmp = to_wans({3});
  icmp.protocol = IPPROTO_ICMP;
  set_policies({udp, icmp});
  EXPECT_EQ(wan(udp4("10.0.0.1", "192.0.2.1")), 2u);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1")), 1u);
  EXPECT_EQ(wan(Packet::ipv4("10.0.0.1", "192.0.2.1").icmp_echo(7).build()), 3u);
  // A UDP fragment still has its protocol.
  EXPECT_EQ(wan(Packet::ipv4("10.0.0.2", "192.0.2.1").udp(1, 2).payload(64).fragment(0, true).build()), 2u);
}

TEST_F(DatapathPolicyTest, DestinationPortsAndRanges) {
  PolicyConfig web = to_wans({2});
  web.protocol = IPPROTO_TCP;
  web.ports = {{443, 443}, {8000, 8080}};
  PolicyConfig any = to_wans({3});  // ports without protocol: TCP or UDP
  any.ports = {{5060, 5061}};
  set_policies({web, any});

  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40001, 443)), 2u);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40002, 8000)), 2u);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40003, 8080)), 2u);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40004, 7999)), 1u);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40005, 8081)), 1u);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40006, 444)), 1u);
  EXPECT_EQ(wan(udp4("10.0.0.1", "192.0.2.1", 40007, 443)), 1u);  // protocol tcp only
  EXPECT_EQ(wan(udp4("10.0.0.1", "192.0.2.1", 40008, 5061)), 3u);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40009, 5060)), 3u);
  EXPECT_EQ(wan(tcp6("fd00::1", "2001:db8::1", 40010, 8042)), 2u);
  // The source port does not count.
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 443, 80)), 1u);

  // Fragments carry no ports (even the first one, see parsing.h): no match.
  EXPECT_EQ(wan(Packet::ipv4("10.0.0.3", "192.0.2.1").tcp(40011, 443).payload(64).fragment(0, true).build()), 1u);
  EXPECT_EQ(wan(Packet::ipv4("10.0.0.4", "192.0.2.1").udp(40012, 5060).payload(64).fragment(0, true).build()), 1u);
  EXPECT_EQ(wan(Packet::ipv6("fd00::5", "2001:db8::1").udp(40013, 5060).payload(64).fragment(0, true).build()), 1u);
  // Protocols without ports never match a port condition.
  EXPECT_EQ(wan(Packet::ipv4("10.0.0.6", "192.0.2.1").icmp_echo(443).build()), 1u);
}

TEST_F(DatapathPolicyTest, FirstMatchWinsEvenForANestedPrefixOfALaterPolicy) {
  PolicyConfig wide = to_wans({2});
  wide.source = prefixes({"10.0.0.0/8"});
  PolicyConfig narrow = to_wans({3});
  narrow.source = prefixes({"10.1.0.0/16"});
  set_policies({wide, narrow});
  // 10.1.2.3's longest match is 10.1.0.0/16 (policy 2's), yet policy 1
  // contains it too and comes first.
  EXPECT_EQ(wan(tcp4("10.1.2.3", "192.0.2.1", 40001)), 2u);
  EXPECT_EQ(wan(tcp4("10.2.2.3", "192.0.2.1", 40002)), 2u);
  EXPECT_EQ(wan(tcp4("11.1.2.3", "192.0.2.1", 40003)), 1u);

  // The other order: the narrow one first.
  set_policies({narrow, wide});
  EXPECT_EQ(wan(tcp4("10.1.2.3", "192.0.2.1", 40004)), 3u);
  EXPECT_EQ(wan(tcp4("10.2.2.3", "192.0.2.1", 40005)), 2u);
  std::vector<uint64_t> hits = policy_hits();
  EXPECT_EQ(hits[0], 2u + 1u);  // two hits under the first order, one under the second
  EXPECT_EQ(hits[1], 1u);
}

TEST_F(DatapathPolicyTest, ANonMatchingConditionPassesToTheNextPolicy) {
  PolicyConfig udp_from_lan = to_wans({3});
  udp_from_lan.source = prefixes({"10.0.0.0/8"});
  udp_from_lan.protocol = IPPROTO_UDP;
  PolicyConfig lan = to_wans({2});
  lan.source = prefixes({"10.0.0.0/8"});
  set_policies({udp_from_lan, lan});
  EXPECT_EQ(wan(udp4("10.0.0.1", "192.0.2.1")), 3u);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1")), 2u);
}

TEST_F(DatapathPolicyTest, WanListTakesTheFirstLiveWan) {
  set_policies({to_wans({2, 3})});
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40001)), 2u);
  set_up(2, false);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40002)), 3u);
  // The flow pinned to WAN 2 moves too: its WAN is down, so it is a new
  // connection again and the policy picks WAN 3.
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40001)), 3u);
  EXPECT_EQ(flow_flags(40002) & WANLB_FLOW_F_POLICY, static_cast<uint32_t>(WANLB_FLOW_F_POLICY));

  // Every WAN of the list down: the balanced choice, not pinned as a policy flow.
  set_up(3, false);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40003)), 1u);
  EXPECT_EQ(flow_flags(40003) & WANLB_FLOW_F_POLICY, 0u);
  EXPECT_EQ(policy_hits()[0], 4u);  // the policy matched all four new connections
}

TEST_F(DatapathPolicyTest, WanListOfOneWan) {
  PolicyConfig p = to_wans({3});
  p.destination = prefixes({"192.0.2.0/24"});
  set_policies({p});
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1")), 3u);
  set_up(3, false);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.2")), 1u);
}

TEST_F(DatapathPolicyTest, BalanceStopsTheListAndHashes) {
  PolicyConfig balance = with_action(PolicyAction::Balance);
  balance.protocol = IPPROTO_TCP;
  set_policies({balance, to_wans({3})});
  // The slot table says WAN 1; the later catch-all policy is not reached.
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1")), 1u);
  EXPECT_EQ(wan(udp4("10.0.0.1", "192.0.2.1")), 3u);
  fill_slots(2);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40077)), 2u);
  EXPECT_EQ(flow_flags(40077) & WANLB_FLOW_F_POLICY, 0u);
  std::vector<uint64_t> hits = policy_hits();
  EXPECT_EQ(hits[0], 2u);
  EXPECT_EQ(hits[1], 1u);
}

TEST_F(DatapathPolicyTest, BypassLeavesThePacketUnmarkedAndUnpinned) {
  PolicyConfig bypass = with_action(PolicyAction::Bypass);
  bypass.destination = prefixes({"192.0.2.0/24"});
  set_policies({bypass});
  uint64_t before = counter(WANLB_CNT_BYPASSED);
  RunResult r = run(tcp4("10.0.0.1", "192.0.2.1"), 0x0000000f);
  EXPECT_EQ(r.err, 0);
  EXPECT_EQ(r.mark, 0x0000000fu);  // untouched, other bits kept
  EXPECT_TRUE(flows().empty());
  EXPECT_EQ(counter(WANLB_CNT_BYPASSED), before + 1);
  EXPECT_EQ(policy_hits()[0], 1u);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.3.1")), 1u);
}

TEST_F(DatapathPolicyTest, HitsCountNewConnectionsOnly) {
  PolicyConfig p = to_wans({2});
  p.protocol = IPPROTO_UDP;
  set_policies({with_action(PolicyAction::Balance), p});  // the first one never matches...
  set_policies({p, to_wans({3})});                        // ...replaced: policy 0 is now p
  for (int i = 0; i < 5; i++) EXPECT_EQ(wan(udp4("10.0.0.1", "192.0.2.1", static_cast<uint16_t>(1000 + i))), 2u);
  for (int i = 0; i < 5; i++) EXPECT_EQ(wan(udp4("10.0.0.1", "192.0.2.1", 1000)), 2u);  // established
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1")), 3u);
  std::vector<uint64_t> hits = policy_hits();
  EXPECT_EQ(hits[0], 5u);
  EXPECT_EQ(hits[1], 1u);
  EXPECT_EQ(hits[2], 0u);
}

TEST_F(DatapathPolicyTest, NoPoliciesMeansNoPolicyLookups) {
  // Entries without n_policies are never read.
  PolicyConfig p = to_wans({2});
  set_policies({p});
  cfg_.n_policies = 0;
  write_cfg();
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1")), 1u);
  EXPECT_EQ(policy_hits()[0], 0u);
}

TEST_F(DatapathPolicyTest, SyncingAgainLeavesExactlyTheNewEntries) {
  PolicyConfig a = to_wans({2});
  a.source = prefixes({"10.0.0.0/8", "10.1.0.0/16", "fd00::/16"});
  a.destination = prefixes({"192.0.2.0/24"});
  PolicyConfig b = to_wans({3});
  b.source = prefixes({"10.1.2.0/24"});
  auto r1 = set_policies({a, b});
  EXPECT_EQ(r1.trie_updates, 5u);
  EXPECT_EQ(wanlb::read_policy_trie(fd(wanlb::MapId::PolSrc4), AF_INET).size(), 3u);

  // Same config: nothing to write.
  auto r2 = set_policies({a, b});
  EXPECT_EQ(r2.trie_updates + r2.trie_deletes + r2.entries, 0u);

  // b alone: its entry's bits change (policy 0 now), a's entries go.
  auto r3 = set_policies({b});
  EXPECT_EQ(r3.trie_deletes, 4u);
  EXPECT_EQ(r3.trie_updates, 1u);
  auto src4 = wanlb::read_policy_trie(fd(wanlb::MapId::PolSrc4), AF_INET);
  ASSERT_EQ(src4.size(), 1u);
  EXPECT_EQ(src4[0].prefix, prefix("10.1.2.0/24"));
  EXPECT_EQ(src4[0].bits, 1u);
  EXPECT_TRUE(wanlb::read_policy_trie(fd(wanlb::MapId::PolSrc6), AF_INET6).empty());
  EXPECT_TRUE(wanlb::read_policy_trie(fd(wanlb::MapId::PolDst4), AF_INET).empty());
  EXPECT_EQ(wan(tcp4("10.1.2.9", "192.0.2.1")), 3u);
  EXPECT_EQ(wan(tcp4("10.1.3.9", "192.0.2.1")), 1u);
}

// 50,000 random prefixes over both families and directions: loaded well
// under a second, and the data path's answer for random addresses agrees
// with a brute-force first-match over the configured prefixes.
TEST_F(DatapathPolicyTest, FiftyThousandPrefixes) {
  std::mt19937 rng(4242);
  std::vector<PolicyConfig> pols;
  for (int i = 0; i < 8; i++) pols.push_back(to_wans({static_cast<uint32_t>(2 + i % 2)}));
  auto random_prefix = [&](int family) {
    wanlb::Prefix p;
    p.addr.family = family;
    if (family == AF_INET) {
      uint32_t a = htonl(0x0a000000u | (rng() & 0x00ffffffu));  // inside 10/8
      std::memcpy(p.addr.bytes.data(), &a, 4);
      p.len = static_cast<uint8_t>(16 + rng() % 17);
    } else {
      p.addr.bytes[0] = 0xfd;
      for (int b = 1; b < 8; b++) p.addr.bytes[b] = static_cast<uint8_t>(rng() & (b < 3 ? 0x03 : 0xff));
      p.len = static_cast<uint8_t>(20 + rng() % 45);
    }
    int len = p.len;
    for (int b = 0; b < 16; b++) {
      int keep = len - b * 8;
      if (keep < 8) p.addr.bytes[b] = keep <= 0 ? 0 : static_cast<uint8_t>(p.addr.bytes[b] & (0xff << (8 - keep)));
    }
    return p;
  };
  for (int n = 0; n < 50000; n++) {
    PolicyConfig& p = pols[rng() % pols.size()];
    bool v6 = (n / 2) % 4 == 3;  // a quarter of each direction
    (n % 2 ? p.source : p.destination).push_back(random_prefix(v6 ? AF_INET6 : AF_INET));
  }
  // Policies with only source or only destination prefixes of one kind: an
  // empty list would be "any", so make sure every policy has both.
  for (auto& p : pols) {
    if (p.source.empty()) p.source.push_back(prefix("10.255.255.0/24"));
    if (p.destination.empty()) p.destination.push_back(prefix("10.255.255.0/24"));
  }

  auto t0 = std::chrono::steady_clock::now();
  auto r = set_policies(pols);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ info     ] 50,000 prefixes -> %zu trie entries loaded in %.1f ms\n", r.trie_updates, ms);
  EXPECT_LT(ms, 1000.0);
  t0 = std::chrono::steady_clock::now();
  auto r2 = set_policies(pols);
  ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ info     ] unchanged re-sync of the same list in %.1f ms\n", ms);
  EXPECT_EQ(r2.trie_updates + r2.trie_deletes, 0u);

  auto expected = [&](int family, const uint8_t* s, const uint8_t* d) -> uint32_t {
    for (const auto& p : pols) {
      bool sm = false, dm = false;
      for (const auto& q : p.source) sm = sm || wanlb::prefix_contains(q, family, s);
      for (const auto& q : p.destination) dm = dm || wanlb::prefix_contains(q, family, d);
      if (sm && dm) return p.wan_ids[0];
    }
    return 1;
  };
  int matched = 0;
  for (int i = 0; i < 400; i++) {
    bool v6 = i % 2;
    // Pick addresses inside configured prefixes half of the time.
    auto pick = [&](bool src) {
      const auto& p = pols[rng() % pols.size()];
      const auto& list = src ? p.source : p.destination;
      for (int tries = 0; tries < 50; tries++) {
        const auto& q = list[rng() % list.size()];
        if (q.addr.family == (v6 ? AF_INET6 : AF_INET)) {
          wanlb::IpAddr a = q.addr;
          int host_bits = (v6 ? 128 : 32) - q.len;
          for (int b = 0; b < host_bits && b < 24; b++)
            if (rng() & 1) a.bytes[(v6 ? 15 : 3) - b / 8] ^= static_cast<uint8_t>(1 << (b % 8));
          return a;
        }
      }
      wanlb::IpAddr a = random_prefix(v6 ? AF_INET6 : AF_INET).addr;
      return a;
    };
    wanlb::IpAddr s = pick(true), d = pick(false);
    if (rng() % 4 == 0) {  // outside every configured prefix: 11/8 or fe00::/8
      s = random_prefix(v6 ? AF_INET6 : AF_INET).addr;
      s.bytes[0] = v6 ? 0xfe : 11;
    }
    uint32_t want = expected(v6 ? AF_INET6 : AF_INET, s.bytes.data(), d.bytes.data());
    matched += want != 1;
    Frame f = v6 ? tcp6(s.str(), d.str(), static_cast<uint16_t>(20000 + i)) : tcp4(s.str(), d.str(), static_cast<uint16_t>(20000 + i));
    ASSERT_EQ(wan(f), want) << s.str() << " -> " << d.str();
  }
  std::printf("[ info     ] %d of 400 sampled connections matched a policy\n", matched);
  EXPECT_GT(matched, 50);
  EXPECT_LT(matched, 390);
}

}  // namespace
}  // namespace wanlb_test

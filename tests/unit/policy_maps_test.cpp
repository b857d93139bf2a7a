// agent/policy_maps: translation of PolicyConfig into wanlb_policy entries
// and the union-of-covering-prefixes computation for the policy tries
// (pure functions, no privileges).
#include "policy_maps.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "datapath.h"
#include "map_io.h"

namespace wanlb {
namespace {

Prefix pfx(const std::string& text) {
  Prefix p;
  std::string why;
  EXPECT_TRUE(parse_prefix(text, &p, &why)) << text << ": " << why;
  return p;
}

PolicyConfig src_policy(const std::vector<std::string>& src, const std::vector<std::string>& dst = {}) {
  PolicyConfig p;
  for (const auto& s : src) p.source.push_back(pfx(s));
  for (const auto& d : dst) p.destination.push_back(pfx(d));
  return p;
}

uint64_t bits_of(const std::vector<PolicyTrieEntry>& v, const std::string& prefix) {
  Prefix want = pfx(prefix);
  for (const auto& e : v)
    if (e.prefix == want) return e.bits;
  ADD_FAILURE() << prefix << " not in the trie";
  return 0;
}

// Bits the data path gets for addr: the value of the longest stored prefix
// containing it.
uint64_t lpm(const std::vector<PolicyTrieEntry>& v, int family, const uint8_t* addr) {
  int best = -1;
  uint64_t bits = 0;
  for (const auto& e : v)
    if (prefix_contains(e.prefix, family, addr) && e.prefix.len > best) {
      best = e.prefix.len;
      bits = e.bits;
    }
  return bits;
}

TEST(PolicyMaps, MapNamesFitTheKernelsFifteenCharacters) {
  for (const char* name : kMapNames) EXPECT_LE(std::strlen(name), 15u) << name;
  std::set<std::string> unique(kMapNames.begin(), kMapNames.end());
  EXPECT_EQ(unique.size(), kMapCount);
}

TEST(PolicyMaps, EntriesTranslateEveryField) {
  PolicyConfig a = src_policy({"10.0.0.0/8"}, {"192.0.2.0/24"});
  a.protocol = 6;
  a.ports = {{443, 443}, {8000, 8080}};
  a.action = PolicyAction::Wans;
  a.wan_ids = {3, 1};
  PolicyConfig b;  // matches everything
  b.action = PolicyAction::Bypass;
  PolicyConfig c;
  c.action = PolicyAction::Balance;
  c.wan_ids = {2};  // ignored for balance

  auto e = policy_entries({a, b, c});
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].flags, WANLB_POLICY_F_SRC | WANLB_POLICY_F_DST | WANLB_POLICY_F_PROTO | WANLB_POLICY_F_PORTS);
  EXPECT_EQ(e[0].action, static_cast<uint32_t>(WANLB_ACT_WANS));
  EXPECT_EQ(e[0].proto, 6);
  EXPECT_EQ(e[0].n_ports, 2);
  EXPECT_EQ(e[0].ports[1].lo, 8000);
  EXPECT_EQ(e[0].ports[1].hi, 8080);
  EXPECT_EQ(e[0].n_wans, 2);
  EXPECT_EQ(e[0].wans[0], 3);
  EXPECT_EQ(e[0].wans[1], 1);
  EXPECT_EQ(e[1].flags, 0u);
  EXPECT_EQ(e[1].action, static_cast<uint32_t>(WANLB_ACT_BYPASS));
  EXPECT_EQ(e[2].action, static_cast<uint32_t>(WANLB_ACT_BALANCE));
  EXPECT_EQ(e[2].n_wans, 0);

  // The lowest-rtt order overrides wan_ids for the policies it names.
  auto o = policy_entries({a, b, c}, {{1, 3}});
  EXPECT_EQ(o[0].wans[0], 1);
  EXPECT_EQ(o[0].wans[1], 3);
}

TEST(PolicyMaps, EntriesRejectWhatTheDataPathCannotHold) {
  std::vector<PolicyConfig> many(WANLB_MAX_POLICIES + 1);
  EXPECT_THROW(policy_entries(many), std::invalid_argument);
  PolicyConfig p;
  p.action = PolicyAction::Wans;
  p.wan_ids = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_THROW(policy_entries({p}), std::invalid_argument);
  p.wan_ids = {WANLB_MAX_WANS + 1};
  EXPECT_THROW(policy_entries({p}), std::invalid_argument);
  p.wan_ids = {1};
  p.ports.assign(WANLB_POLICY_MAX_PORTS + 1, PortRange{1, 2});
  EXPECT_THROW(policy_entries({p}), std::invalid_argument);
}

TEST(PolicyMaps, CoveringPrefixesGiveTheirBitsToTheCoveredOnes) {
  // Policy 0: 10/8; policy 1: 10.1/16; policy 2: 10.1.2/24 and 172.16/12.
  auto t = policy_tries({src_policy({"10.0.0.0/8"}), src_policy({"10.1.0.0/16"}),
                         src_policy({"10.1.2.0/24", "172.16.0.0/12"})});
  ASSERT_EQ(t.src4.size(), 4u);
  EXPECT_EQ(bits_of(t.src4, "10.0.0.0/8"), 0b001u);
  EXPECT_EQ(bits_of(t.src4, "10.1.0.0/16"), 0b011u);
  EXPECT_EQ(bits_of(t.src4, "10.1.2.0/24"), 0b111u);
  EXPECT_EQ(bits_of(t.src4, "172.16.0.0/12"), 0b100u);
  EXPECT_TRUE(t.src6.empty() && t.dst4.empty() && t.dst6.empty());
  // Sorted: an enclosing prefix before what it contains.
  EXPECT_EQ(t.src4[0].prefix, pfx("10.0.0.0/8"));
}

TEST(PolicyMaps, SiblingsDoNotShareBits) {
  auto t = policy_tries({src_policy({"10.0.0.0/16"}), src_policy({"10.1.0.0/16"}), src_policy({"10.0.0.0/15"})});
  EXPECT_EQ(bits_of(t.src4, "10.0.0.0/16"), 0b101u);
  EXPECT_EQ(bits_of(t.src4, "10.1.0.0/16"), 0b110u);
  EXPECT_EQ(bits_of(t.src4, "10.0.0.0/15"), 0b100u);
}

TEST(PolicyMaps, BothFamiliesAndDirectionsAreSeparate) {
  auto t = policy_tries({src_policy({"fd00::/8", "10.0.0.0/8"}, {"2001:db8::/32"}),
                         src_policy({"fd00:1::/32"}, {"2001:db8:1::/48", "0.0.0.0/0"})});
  EXPECT_EQ(bits_of(t.src6, "fd00::/8"), 0b01u);
  EXPECT_EQ(bits_of(t.src6, "fd00:1::/32"), 0b11u);
  EXPECT_EQ(bits_of(t.src4, "10.0.0.0/8"), 0b01u);
  EXPECT_EQ(bits_of(t.dst6, "2001:db8::/32"), 0b01u);
  EXPECT_EQ(bits_of(t.dst6, "2001:db8:1::/48"), 0b11u);
  EXPECT_EQ(bits_of(t.dst4, "0.0.0.0/0"), 0b10u);
  EXPECT_EQ(t.dst4.size(), 1u);
}

TEST(PolicyMaps, DuplicatesAcrossPoliciesMergeIntoOneEntry) {
  auto t = policy_tries({src_policy({"10.0.0.0/8", "10.0.0.0/8"}), src_policy({"10.0.0.0/8"}),
                         src_policy({"10.1.0.0/16"}), src_policy({"10.0.0.0/8", "10.1.0.0/16"})});
  ASSERT_EQ(t.src4.size(), 2u);
  EXPECT_EQ(bits_of(t.src4, "10.0.0.0/8"), 0b1011u);
  EXPECT_EQ(bits_of(t.src4, "10.1.0.0/16"), 0b1111u);
}

TEST(PolicyMaps, HostBitsAreIgnored) {
  std::vector<PolicyTrieEntry> in(1), v4, v6;
  in[0].prefix = pfx("10.1.2.3/32");
  in[0].prefix.len = 16;  // as if host bits had been left set
  in[0].bits = 1;
  union_of_covering(in, &v4, &v6);
  ASSERT_EQ(v4.size(), 1u);
  EXPECT_EQ(v4[0].prefix, pfx("10.1.0.0/16"));
}

// 50,000 random prefixes of both families: fast, and for a sample of
// addresses the longest stored match carries exactly the policies that
// contain the address (brute force over all configured prefixes).
TEST(PolicyMaps, FiftyThousandRandomPrefixesAgreeWithBruteForce) {
  std::mt19937 rng(7);
  std::vector<PolicyConfig> pols(64);
  auto random_prefix = [&](int family) {
    Prefix p;
    p.addr.family = family;
    if (family == AF_INET) {
      uint32_t a = htonl(0x0a000000u | (rng() & 0x000fffffu));  // 10.0/12: dense, much nesting
      std::memcpy(p.addr.bytes.data(), &a, 4);
      p.len = static_cast<uint8_t>(8 + rng() % 25);
    } else {
      p.addr.bytes[0] = 0xfd;
      p.addr.bytes[1] = static_cast<uint8_t>(rng() & 3);
      for (int b = 2; b < 6; b++) p.addr.bytes[b] = static_cast<uint8_t>(rng());
      p.len = static_cast<uint8_t>(8 + rng() % 41);
    }
    for (int b = 0; b < 16; b++) {
      int keep = p.len - b * 8;
      if (keep < 8) p.addr.bytes[b] = keep <= 0 ? 0 : static_cast<uint8_t>(p.addr.bytes[b] & (0xff << (8 - keep)));
    }
    return p;
  };
  for (int n = 0; n < 50000; n++) pols[rng() % 64].source.push_back(random_prefix(n % 3 ? AF_INET : AF_INET6));

  auto t0 = std::chrono::steady_clock::now();
  PolicyTries t = policy_tries(pols);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ info     ] union over 50,000 prefixes (%zu entries) in %.1f ms\n", t.size(), ms);
  EXPECT_LT(ms, 1000.0);

  for (int i = 0; i < 300; i++) {
    int family = i % 3 ? AF_INET : AF_INET6;
    Prefix probe = random_prefix(family);
    // Any address: random host bits too.
    for (int b = probe.len; b < (family == AF_INET ? 32 : 128); b++)
      if (rng() & 1) probe.addr.bytes[b / 8] |= static_cast<uint8_t>(0x80 >> (b % 8));
    uint64_t want = 0;
    for (size_t p = 0; p < pols.size(); p++)
      for (const auto& q : pols[p].source)
        if (prefix_contains(q, family, probe.addr.bytes.data())) want |= 1ULL << p;
    EXPECT_EQ(lpm(family == AF_INET ? t.src4 : t.src6, family, probe.addr.bytes.data()), want)
        << probe.addr.str();
  }
}

}  // namespace
}  // namespace wanlb

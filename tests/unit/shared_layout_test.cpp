// Pins the user/kernel contract of include/wanlb/dp_shared.h and jhash.h.
//
// The BPF object is compiled by clang for the bpf target, the agent by g++
// for the host: if a field moves in one and not the other, maps silently
// hold garbage. These numbers are computed by hand from the header; a change
// here is a map ABI change (old pinned maps no longer fit).
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <random>

#include "wanlb/dp_shared.h"
#include "wanlb/jhash.h"

namespace {

// ------------------------------------------------------------ struct layout

static_assert(sizeof(wanlb_flow_key) == 40);
static_assert(offsetof(wanlb_flow_key, saddr) == 0);
static_assert(offsetof(wanlb_flow_key, daddr) == 16);
static_assert(offsetof(wanlb_flow_key, sport) == 32);
static_assert(offsetof(wanlb_flow_key, dport) == 34);
static_assert(offsetof(wanlb_flow_key, proto) == 36);
static_assert(offsetof(wanlb_flow_key, family) == 37);
static_assert(offsetof(wanlb_flow_key, pad) == 38);

static_assert(sizeof(wanlb_flow) == 16);
static_assert(offsetof(wanlb_flow, last_seen_ns) == 0);
static_assert(offsetof(wanlb_flow, wan_id) == 8);
static_assert(offsetof(wanlb_flow, flags) == 12);

static_assert(sizeof(wanlb_wan) == 144);
static_assert(offsetof(wanlb_wan, name) == 0);
static_assert(offsetof(wanlb_wan, gateway) == 16);
static_assert(offsetof(wanlb_wan, ifindex) == 32);
static_assert(offsetof(wanlb_wan, mark) == 36);
static_assert(offsetof(wanlb_wan, table) == 40);
static_assert(offsetof(wanlb_wan, weight) == 44);
static_assert(offsetof(wanlb_wan, flags) == 48);
static_assert(offsetof(wanlb_wan, gw_family) == 52);
static_assert(offsetof(wanlb_wan, tier) == 53);
static_assert(offsetof(wanlb_wan, pad) == 54);
static_assert(offsetof(wanlb_wan, state) == 56);
static_assert(offsetof(wanlb_wan, rtt_us) == 60);
static_assert(offsetof(wanlb_wan, loss_ppm) == 64);
static_assert(offsetof(wanlb_wan, pad2) == 68);
static_assert(offsetof(wanlb_wan, since_ms) == 72);
static_assert(offsetof(wanlb_wan, reason) == 80);

static_assert(sizeof(wanlb_config) == 24);
static_assert(offsetof(wanlb_config, classifier) == 0);
static_assert(offsetof(wanlb_config, mark_mask) == 4);
static_assert(offsetof(wanlb_config, hash_seed) == 8);
static_assert(offsetof(wanlb_config, flags) == 12);
static_assert(offsetof(wanlb_config, n_policies) == 16);
static_assert(offsetof(wanlb_config, sticky_timeout_s) == 20);

static_assert(sizeof(wanlb_policy) == 68);
static_assert(offsetof(wanlb_policy, name) == 52);
static_assert(offsetof(wanlb_policy, flags) == 0);
static_assert(offsetof(wanlb_policy, action) == 4);
static_assert(offsetof(wanlb_policy, proto) == 8);
static_assert(offsetof(wanlb_policy, n_wans) == 9);
static_assert(offsetof(wanlb_policy, n_ports) == 10);
static_assert(offsetof(wanlb_policy, wans) == 12);
static_assert(offsetof(wanlb_policy, ports) == 20);
static_assert(sizeof(wanlb_port_range) == 4);

static_assert(sizeof(wanlb_pair_key) == 36);
static_assert(offsetof(wanlb_pair_key, daddr) == 16);
static_assert(offsetof(wanlb_pair_key, family) == 32);
static_assert(sizeof(wanlb_pair) == 16);
static_assert(offsetof(wanlb_pair, wan_id) == 8);

static_assert(sizeof(wanlb_wan_stats) == 24);
static_assert(offsetof(wanlb_wan_stats, packets) == 0);
static_assert(offsetof(wanlb_wan_stats, bytes) == 8);
static_assert(offsetof(wanlb_wan_stats, new_flows) == 16);

static_assert(sizeof(wanlb_lpm_v4) == 8);
static_assert(offsetof(wanlb_lpm_v4, prefixlen) == 0);
static_assert(offsetof(wanlb_lpm_v4, addr) == 4);

static_assert(sizeof(wanlb_lpm_v6) == 20);
static_assert(offsetof(wanlb_lpm_v6, prefixlen) == 0);
static_assert(offsetof(wanlb_lpm_v6, addr) == 4);

// The hash reads exactly 9 32-bit words.
static_assert(sizeof(wanlb_hash_input) == 36);
static_assert(offsetof(wanlb_hash_input, a) == 0);
static_assert(offsetof(wanlb_hash_input, b) == 16);
static_assert(offsetof(wanlb_hash_input, sport) == 32);
static_assert(offsetof(wanlb_hash_input, dport) == 34);

// Enum values are stored in maps (config.classifier, counter indexes).
static_assert(WANLB_CLS_SRC_ADDRESS == 0 && WANLB_CLS_DST_ADDRESS == 1 && WANLB_CLS_BOTH_ADDRESSES == 2 &&
              WANLB_CLS_SRC_PORT == 3 && WANLB_CLS_DST_PORT == 4 && WANLB_CLS_BOTH_PORTS == 5 &&
              WANLB_CLS_SRC_ADDRESS_AND_PORT == 6 && WANLB_CLS_DST_ADDRESS_AND_PORT == 7 &&
              WANLB_CLS_BOTH_ADDRESSES_AND_PORTS == 8 && WANLB_CLS_ROUND_ROBIN == 9 && WANLB_CLS_COUNT == 10);
static_assert(WANLB_CNT_BYPASSED == 0 && WANLB_CNT_UNPARSABLE == 1 && WANLB_CNT_NO_WAN == 2 &&
              WANLB_CNT_NON_IP == 3 && WANLB_CNT_FRAGMENTS == 4 && WANLB_CNT_INBOUND == 5 &&
              WANLB_CNT_STICKY == 6 && WANLB_CNT_XDP_REDIRECT == 7 && WANLB_CNT_COUNT == 8);
static_assert(WANLB_ACT_WANS == 0 && WANLB_ACT_BALANCE == 1 && WANLB_ACT_BYPASS == 2);

// The static_asserts above do the work; these make the test visible in runs.
TEST(SharedLayout, StructSizes) {
  EXPECT_EQ(sizeof(wanlb_flow_key), 40u);
  EXPECT_EQ(sizeof(wanlb_flow), 16u);
  EXPECT_EQ(sizeof(wanlb_wan), 144u);
  EXPECT_EQ(sizeof(wanlb_config), 24u);
  EXPECT_EQ(sizeof(wanlb_policy), 68u);
  EXPECT_EQ(sizeof(wanlb_pair_key), 36u);
  EXPECT_EQ(sizeof(wanlb_wan_stats), 24u);
  EXPECT_EQ(sizeof(wanlb_lpm_v4), 8u);
  EXPECT_EQ(sizeof(wanlb_lpm_v6), 20u);
  EXPECT_EQ(sizeof(wanlb_hash_input), 36u);
}

TEST(SharedLayout, WanNameFitsWithTerminator) {
  EXPECT_EQ(sizeof(wanlb_wan::name), static_cast<size_t>(WANLB_WAN_NAME_LEN));
  EXPECT_GE(WANLB_WAN_NAME_LEN, 16);  // IFNAMSIZ: any interface name fits
}

// ------------------------------------------------------------------ the hash

wanlb_hash_input random_input(std::mt19937& rng) {
  wanlb_hash_input in{};
  auto* w = reinterpret_cast<uint32_t*>(&in);
  for (int i = 0; i < 9; i++) w[i] = rng();
  return in;
}

TEST(SharedLayout, JhashIsDeterministicAndSeeded) {
  std::mt19937 rng(42);
  for (int i = 0; i < 100; i++) {
    wanlb_hash_input in = random_input(rng), copy = in;
    uint32_t seed = rng();
    EXPECT_EQ(wanlb_jhash_input(&in, seed), wanlb_jhash_input(&copy, seed));
    EXPECT_NE(wanlb_jhash_input(&in, seed), wanlb_jhash_input(&in, seed ^ 1u));
  }
}

// Every bit of every word must reach the result; a word left out (say the
// ports) would make a classifier ignore a field.
TEST(SharedLayout, JhashEveryInputBitMatters) {
  std::mt19937 rng(7);
  for (int round = 0; round < 4; round++) {
    wanlb_hash_input base = round == 0 ? wanlb_hash_input{} : random_input(rng);
    uint32_t seed = round == 0 ? 0 : rng();
    uint32_t h = wanlb_jhash_input(&base, seed);
    for (int word = 0; word < 9; word++) {
      for (int bit = 0; bit < 32; bit++) {
        wanlb_hash_input in = base;
        reinterpret_cast<uint32_t*>(&in)[word] ^= 1u << bit;
        EXPECT_NE(wanlb_jhash_input(&in, seed), h) << "round " << round << " word " << word << " bit " << bit;
      }
    }
  }
}

// Callers fill the struct field by field and hash it, as bpf/classify.h
// does and as a user-space mirror of it would. The 16-bit port stores must
// reach the hash although wanlb_jhash_input reads the struct as 32-bit
// words: through a plain pointer cast that read breaks C++ strict aliasing,
// and g++ -O2 then hashes the zeroes from before the stores. (noinline keeps
// the pattern of a real helper function rather than of this test body.)
__attribute__((noinline)) uint32_t hash_ports(uint16_t sport, uint16_t dport, uint32_t seed) {
  wanlb_hash_input in{};
  in.sport = htons(sport);
  in.dport = htons(dport);
  return wanlb_jhash_input(&in, seed);
}

TEST(SharedLayout, JhashSeesPortsSetThroughFields) {
  const uint32_t seed = 1, h0 = hash_ports(0, 0, seed);
  for (uint16_t port : {1, 443, 65535}) {
    EXPECT_NE(hash_ports(port, 0, seed), h0) << "source port " << port << " ignored";
    EXPECT_NE(hash_ports(0, port, seed), h0) << "destination port " << port << " ignored";
  }
}

// Maglev needs a prime table size so every member's permutation visits
// every slot.
TEST(SharedLayout, SlotCountIsPrime) {
  constexpr uint32_t n = WANLB_SLOT_COUNT;
  ASSERT_GT(n, 2u);
  uint32_t divisor = 0;
  for (uint32_t d = 2; d * d <= n && !divisor; d++)
    if (n % d == 0) divisor = d;
  EXPECT_EQ(divisor, 0u) << n << " is divisible by " << divisor;
}

}  // namespace

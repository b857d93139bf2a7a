// The LAN data path (bpf/wanlb_tc.bpf.c) run on crafted frames with
// BPF_PROG_TEST_RUN: classification, flow pinning, parsing of every header
// form the parser claims to handle, and the "pass it untouched" policy for
// everything it does not. Needs root; skips otherwise.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <set>
#include <string>
#include <tuple>

#include "datapath/dp_fixture.h"
#include "wanlb/jhash.h"

namespace wanlb_test {
namespace {

using wanlb::FlowEntry;

constexpr uint32_t kOtherBits = 0xff00000f;  // mark bits wanlb does not own

// A connection in compact form: addresses are indexes turned into private
// or documentation addresses, so loops can vary one field at a time.
struct Tuple {
  int family = 4;
  uint32_t s = 1, d = 1;
  uint16_t sp = 40000, dp = 443;
  bool udp = false;
};

std::string src_addr(int family, uint32_t i) {
  char buf[64];
  if (family == 4) std::snprintf(buf, sizeof buf, "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
  else std::snprintf(buf, sizeof buf, "fd00::%x:%x", i >> 16, i & 0xffff);
  return buf;
}

std::string dst_addr(int family, uint32_t i) {
  char buf[64];
  if (family == 4) std::snprintf(buf, sizeof buf, "100.64.%u.%u", (i >> 8) & 255, i & 255);
  else std::snprintf(buf, sizeof buf, "2001:db8:ffff::%x:%x", i >> 16, i & 0xffff);
  return buf;
}

Packet packet(const Tuple& t) {
  Packet p = t.family == 4 ? Packet::ipv4(src_addr(4, t.s), dst_addr(4, t.d))
                           : Packet::ipv6(src_addr(6, t.s), dst_addr(6, t.d));
  if (t.udp) p.udp(t.sp, t.dp);
  else p.tcp(t.sp, t.dp);
  return p;
}

Frame frame(const Tuple& t) { return packet(t).payload(32).build(); }

// Address bytes as they appear on the wire (and so in the flow key).
std::array<uint8_t, 16> addr_bytes(int family, const std::string& text) {
  std::array<uint8_t, 16> out{};
  EXPECT_EQ(inet_pton(family == 4 ? AF_INET : AF_INET6, text.c_str(), out.data()), 1);
  return out;
}

class DatapathTest : public DatapathFixture {};

// ----------------------------------------------------------------- classifiers

struct ClassifierCase {
  uint32_t cls;
  const char* name;
  bool fields[4];  // selected: source address, destination address, source port, destination port
};

// RouterOS PCC semantics, written down independently of bpf/classify.h.
const ClassifierCase kClassifiers[] = {
    {WANLB_CLS_SRC_ADDRESS, "SrcAddress", {true, false, false, false}},
    {WANLB_CLS_DST_ADDRESS, "DstAddress", {false, true, false, false}},
    {WANLB_CLS_BOTH_ADDRESSES, "BothAddresses", {true, true, false, false}},
    {WANLB_CLS_SRC_PORT, "SrcPort", {false, false, true, false}},
    {WANLB_CLS_DST_PORT, "DstPort", {false, false, false, true}},
    {WANLB_CLS_BOTH_PORTS, "BothPorts", {false, false, true, true}},
    {WANLB_CLS_SRC_ADDRESS_AND_PORT, "SrcAddressAndPort", {true, false, true, false}},
    {WANLB_CLS_DST_ADDRESS_AND_PORT, "DstAddressAndPort", {false, true, false, true}},
    {WANLB_CLS_BOTH_ADDRESSES_AND_PORTS, "BothAddressesAndPorts", {true, true, true, true}},
};

// Field f of t set to a value derived from k (never the base tuple's value).
void vary(Tuple* t, int f, uint32_t k) {
  switch (f) {
    case 0: t->s = 1000 + k; break;
    case 1: t->d = 1000 + k; break;
    case 2: t->sp = static_cast<uint16_t>(20000 + k); break;
    case 3: t->dp = static_cast<uint16_t>(2000 + k); break;
  }
}

class DatapathClassifierTest : public DatapathFixture,
                               public ::testing::WithParamInterface<std::tuple<ClassifierCase, int>> {
 protected:
  // The WAN user space predicts: jhash of the selected fields -> slot -> WAN.
  uint32_t predicted_wan(const Tuple& t, const ClassifierCase& c) {
    wanlb_hash_input in{};
    if (c.fields[0]) std::memcpy(in.a, addr_bytes(t.family, src_addr(t.family, t.s)).data(), t.family == 4 ? 4 : 16);
    if (c.fields[1]) std::memcpy(in.b, addr_bytes(t.family, dst_addr(t.family, t.d)).data(), t.family == 4 ? 4 : 16);
    if (c.fields[2]) in.sport = htons(t.sp);
    if (c.fields[3]) in.dport = htons(t.dp);
    // Hash a word-array copy: g++ -O2 may drop the 16-bit port stores when
    // wanlb_jhash_input reads the struct through a __u32 pointer (strict
    // aliasing; SharedLayout.JhashSeesPortsSetThroughFields pins that bug).
    __u32 words[9];
    std::memcpy(words, &in, sizeof words);
    return slots_[wanlb_jhash_input(reinterpret_cast<const wanlb_hash_input*>(words), kSeed) % WANLB_SLOT_COUNT];
  }
};

TEST_P(DatapathClassifierTest, SelectedFieldsDecideTheWan) {
  const auto& [c, family] = GetParam();
  configure(2, c.cls);
  const char* field_names[] = {"source address", "destination address", "source port", "destination port"};
  Tuple base;
  base.family = family;
  uint32_t base_wan = wan(frame(base));
  ASSERT_NE(base_wan, 0u);

  // One field at a time, everything else as in `base`: a selected field
  // spreads flows over both WANs (2^-47 chance of a false failure), an
  // unselected one never moves them off base's WAN.
  for (int f = 0; f < 4; f++) {
    std::set<uint32_t> used;
    for (uint32_t k = 0; k < 48; k++) {
      Tuple t = base;
      vary(&t, f, k);
      used.insert(wan(frame(t)));
    }
    if (c.fields[f]) {
      EXPECT_GT(used.size(), 1u) << field_names[f] << " is selected but does not change the WAN";
    } else {
      EXPECT_EQ(used, std::set<uint32_t>{base_wan}) << field_names[f] << " is not selected but changes the WAN";
    }
  }

  // Pairs equal in the selected fields, different in all others (the
  // protocol is never selected): same WAN, and the WAN user space predicts
  // with the C++ jhash, i.e. the BPF and C++ hashes agree.
  for (uint32_t k = 0; k < 32; k++) {
    Tuple a{family, 200 + k, 300 + k, static_cast<uint16_t>(30000 + k), static_cast<uint16_t>(3000 + k), false};
    Tuple b = a;
    b.udp = true;
    if (!c.fields[0]) b.s += 5000;
    if (!c.fields[1]) b.d += 5000;
    if (!c.fields[2]) b.sp += 5000;
    if (!c.fields[3]) b.dp += 5000;
    uint32_t wa = wan(frame(a));
    EXPECT_EQ(wa, wan(frame(b))) << "pair " << k;
    EXPECT_EQ(wa, predicted_wan(a, c)) << "pair " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Datapath, DatapathClassifierTest,
                         ::testing::Combine(::testing::ValuesIn(kClassifiers), ::testing::Values(4, 6)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_IPv" +
                                  std::to_string(std::get<1>(info.param));
                         });

// ----------------------------------------------------------- flows and counters

TEST_F(DatapathTest, NewFlowIsPinnedWithItsTuple) {
  Frame f = Packet::ipv4("10.1.2.3", "93.184.216.34").tcp(40001, 443).payload(10).build();
  RunResult r = run(f);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, 0u);
  uint32_t id = wan_of(r.mark);
  ASSERT_TRUE(id == 1 || id == 2) << std::hex << r.mark;
  EXPECT_EQ(r.mark, wans_[id].mark);

  auto all = flows();
  ASSERT_EQ(all.size(), 1u);
  const wanlb_flow_key& k = all[0].key;
  auto s = addr_bytes(4, "10.1.2.3"), d = addr_bytes(4, "93.184.216.34");
  EXPECT_EQ(std::memcmp(&k.saddr[0], s.data(), 4), 0);  // network order, as on the wire
  EXPECT_EQ(std::memcmp(&k.daddr[0], d.data(), 4), 0);
  EXPECT_EQ(k.saddr[1] | k.saddr[2] | k.saddr[3] | k.daddr[1] | k.daddr[2] | k.daddr[3], 0u);
  EXPECT_EQ(k.sport, htons(40001));
  EXPECT_EQ(k.dport, htons(443));
  EXPECT_EQ(k.proto, IPPROTO_TCP);
  EXPECT_EQ(k.family, AF_INET);
  EXPECT_EQ(k.pad[0] | k.pad[1], 0);
  EXPECT_EQ(all[0].value.wan_id, id);
  EXPECT_NE(all[0].value.last_seen_ns, 0u);
  EXPECT_EQ(all[0].value.flags, 0u);

  auto st = wan_stats();
  EXPECT_EQ(st[id].new_flows, 1u);
  EXPECT_EQ(st[id].packets, 1u);
  EXPECT_EQ(st[id].bytes, f.size());

  // Established: same mark, no second entry, counted but not as new.
  for (int i = 0; i < 3; i++) EXPECT_EQ(run(f).mark, r.mark);
  EXPECT_EQ(flows().size(), 1u);
  st = wan_stats();
  EXPECT_EQ(st[id].new_flows, 1u);
  EXPECT_EQ(st[id].packets, 4u);
  EXPECT_EQ(st[id].bytes, 4 * f.size());
  EXPECT_EQ(st[3 - id].packets, 0u);
}

TEST_F(DatapathTest, NewIpv6FlowKey) {
  Frame f = Packet::ipv6("fd00::1:2", "2001:db8:5::99").udp(5353, 53).build();
  ASSERT_NE(wan(f), 0u);
  auto all = flows();
  ASSERT_EQ(all.size(), 1u);
  const wanlb_flow_key& k = all[0].key;
  auto s = addr_bytes(6, "fd00::1:2"), d = addr_bytes(6, "2001:db8:5::99");
  EXPECT_EQ(std::memcmp(k.saddr, s.data(), 16), 0);
  EXPECT_EQ(std::memcmp(k.daddr, d.data(), 16), 0);
  EXPECT_EQ(k.sport, htons(5353));
  EXPECT_EQ(k.dport, htons(53));
  EXPECT_EQ(k.proto, IPPROTO_UDP);
  EXPECT_EQ(k.family, AF_INET6);
}

TEST_F(DatapathTest, FlowsStickWhenSlotsChangeAndMoveWhenTheirWanGoesDown) {
  Tuple a;
  uint32_t wa = wan(frame(a));
  ASSERT_NE(wa, 0u);
  uint32_t other = 3 - wa;

  fill_slots(other);  // every new flow now hashes to the other WAN
  EXPECT_EQ(wan(frame(a)), wa) << "an established flow must not follow the slot table";
  Tuple b;
  b.sp = 40002;
  EXPECT_EQ(wan(frame(b)), other);

  set_up(wa, false);  // only the flag: the flow must notice on its next packet
  EXPECT_EQ(wan(frame(a)), other);
  for (const FlowEntry& e : flows())
    if (e.key.sport == htons(a.sp)) EXPECT_EQ(e.value.wan_id, other) << "flow entry not re-pinned";
  EXPECT_EQ(flows().size(), 2u);

  set_up(wa, true);  // coming back does not pull the moved flow back
  EXPECT_EQ(wan(frame(a)), other);
}

// The agent writes the slot table through its mapping of wanlb_slots (plain
// stores, no syscall): every slot must land where the program's lookup
// reads it (array elements are 8 bytes apart, not 4), and the program must
// then follow it.
TEST_F(DatapathTest, SlotsWrittenThroughTheMappingAreWhatTheProgramReads) {
  const wanlb::MappedArray* mapped = dp_->slots_mapped();
  ASSERT_NE(mapped, nullptr);
  ASSERT_NE(mapped->base, nullptr);
  std::vector<uint32_t> table(WANLB_SLOT_COUNT);
  for (uint32_t s = 0; s < WANLB_SLOT_COUNT; s++) table[s] = 1 + (s * 7919u) % 2;  // both WANs, scattered
  std::vector<uint32_t> cached;  // empty: read back through the mapping first
  size_t changed = wanlb::sync_slots(fd(wanlb::MapId::Slots), table, &cached, mapped);
  EXPECT_GT(changed, 0u);
  EXPECT_EQ(cached, table);
  EXPECT_EQ(wanlb::read_slots(fd(wanlb::MapId::Slots)), table) << "the syscall view differs from what was written";

  std::vector<uint32_t> again;  // a fresh cache reads the mapping: nothing to write
  EXPECT_EQ(wanlb::sync_slots(fd(wanlb::MapId::Slots), table, &again, mapped), 0u);
  EXPECT_EQ(again, table);

  std::vector<uint32_t> all2(WANLB_SLOT_COUNT, 2);
  EXPECT_EQ(wanlb::sync_slots(fd(wanlb::MapId::Slots), all2, &again, mapped),
            static_cast<size_t>(std::count(table.begin(), table.end(), 1u)));
  for (uint16_t sp = 40000; sp < 40064; sp++) {
    Tuple t;
    t.sp = sp;
    EXPECT_EQ(wan(frame(t)), 2u) << "sport " << sp;
  }
}

// A SYN on the entry of a connection that completed its handshake is a new
// connection reusing the 5-tuple (conntrack's view too): it is classified
// afresh. A SYN on an entry that never saw an ACK is a retransmit.
TEST_F(DatapathTest, SynOnAFinishedConnectionIsANewConnection) {
  auto pkt = [](uint8_t flags) {
    return Packet::ipv4("192.168.1.10", "198.51.100.7").tcp(40000, 443).tcp_flags(flags).build();
  };
  uint32_t wa = wan(pkt(0x02));  // SYN
  ASSERT_NE(wa, 0u);
  uint32_t other = 3 - wa;
  EXPECT_EQ(wan(pkt(0x10)), wa);  // the client's ACK: handshake done
  ASSERT_EQ(flows().size(), 1u);
  EXPECT_TRUE(flows()[0].value.flags & WANLB_FLOW_F_ESTABLISHED);

  fill_slots(other);
  EXPECT_EQ(wan(pkt(0x18)), wa) << "established data must stay on its WAN";
  EXPECT_EQ(wan(pkt(0x02)), other) << "a new SYN on a finished tuple must follow the slot table";
  ASSERT_EQ(flows().size(), 1u);
  EXPECT_EQ(flows()[0].value.wan_id, other);
  EXPECT_FALSE(flows()[0].value.flags & WANLB_FLOW_F_ESTABLISHED);
}

TEST_F(DatapathTest, SynRetransmitKeepsItsWan) {
  auto syn = Packet::ipv4("192.168.1.10", "198.51.100.7").tcp(40001, 443).build();
  uint32_t wa = wan(syn);
  ASSERT_NE(wa, 0u);
  fill_slots(3 - wa);
  EXPECT_EQ(wan(syn), wa) << "a retransmitted SYN must not change WAN";
}

TEST_F(DatapathTest, MarkBitsOutsideMaskArePreserved) {
  Frame f = frame(Tuple{});
  RunResult r = run(f, kOtherBits);
  ASSERT_EQ(r.err, 0);
  uint32_t id = wan_of(r.mark);
  ASSERT_NE(id, 0u);
  EXPECT_EQ(r.mark, kOtherBits | (id << 16));
  // wanlb's own bits are overwritten, not OR-ed.
  r = run(f, kOtherBits | 0x00ff0000);
  EXPECT_EQ(r.mark, kOtherBits | (id << 16));
  // Unbalanced traffic keeps the whole mark.
  EXPECT_EQ(run(Packet::arp().build(), 0xffffffff).mark, 0xffffffffu);
}

// ------------------------------------------------------------------- parsing

TEST_F(DatapathTest, VlanTagsAreSkippedAndDoNotChangeTheKey) {
  Packet p = packet(Tuple{});
  uint32_t id = wan(Packet(p).build());
  ASSERT_NE(id, 0u);
  EXPECT_EQ(wan(Packet(p).vlan(10).build()), id);
  EXPECT_EQ(wan(Packet(p).vlan(20, 0x88a8).vlan(10).build()), id);
  EXPECT_EQ(wan(Packet(p).vlan(20, 0x88a8).vlan(10, 0x88a8).build()), id);
  EXPECT_EQ(flows().size(), 1u) << "tagged and untagged frames of a flow must share one key";
  EXPECT_EQ(wan_stats()[id].new_flows, 1u);
  EXPECT_EQ(wan_stats()[id].packets, 4u);

  // A tagged frame of a new flow is classified too, not only matched.
  Tuple t;
  t.sp = 41000;
  EXPECT_NE(wan(packet(t).vlan(7).vlan(8).build()), 0u);
  EXPECT_EQ(flows().size(), 2u);

  // A third tag is beyond the parser's depth: passed, unmarked, non-IP.
  uint64_t non_ip = counter(WANLB_CNT_NON_IP);
  EXPECT_EQ(wan(Packet(p).vlan(1).vlan(2).vlan(3).build()), 0u);
  EXPECT_EQ(counter(WANLB_CNT_NON_IP), non_ip + 1);
}

TEST_F(DatapathTest, Ipv4OptionsAreSkipped) {
  for (uint8_t ihl = 6; ihl <= 15; ihl++) {
    uint16_t sport = static_cast<uint16_t>(50000 + ihl);
    Frame f = Packet::ipv4("10.0.0.1", "100.64.0.1").ip_options((ihl - 5) * 4).tcp(sport, 80).build();
    EXPECT_NE(wan(f), 0u) << "IHL " << int(ihl);
  }
  auto all = flows();
  ASSERT_EQ(all.size(), 10u);
  // Right ports prove the transport header was found after the options.
  for (const FlowEntry& e : all) {
    EXPECT_GE(ntohs(e.key.sport), 50006);
    EXPECT_LE(ntohs(e.key.sport), 50015);
    EXPECT_EQ(e.key.dport, htons(80));
  }
  EXPECT_EQ(counter(WANLB_CNT_UNPARSABLE), 0u);
}

struct ExtCase {
  const char* name;
  std::vector<std::pair<uint8_t, size_t>> chain;  // (type, length in bytes)
};

class DatapathIpv6ExtTest : public DatapathFixture, public ::testing::WithParamInterface<ExtCase> {};

TEST_P(DatapathIpv6ExtTest, TransportHeaderIsFoundAfterTheChain) {
  Packet p = Packet::ipv6("fd00::1", "2001:db8::1");
  for (const auto& [type, len] : GetParam().chain) p.ext(type, len);
  Frame f = p.tcp(40000, 8443).payload(8).build();
  EXPECT_NE(wan(f), 0u);
  auto all = flows();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key.proto, IPPROTO_TCP);
  EXPECT_EQ(all[0].key.sport, htons(40000));
  EXPECT_EQ(all[0].key.dport, htons(8443));
  EXPECT_EQ(counters()[WANLB_CNT_UNPARSABLE], 0u);
}

const ExtCase kExtCases[] = {
    {"HopByHop", {{IPPROTO_HOPOPTS, 8}}},
    {"HopByHopLong", {{IPPROTO_HOPOPTS, 24}}},
    {"Routing", {{IPPROTO_ROUTING, 24}}},
    {"DestOpts", {{IPPROTO_DSTOPTS, 16}}},
    {"AH", {{IPPROTO_AH, 12}}},  // AH counts 4-byte units: 12 is not a multiple of 8
    {"AHLong", {{IPPROTO_AH, 24}}},
    {"Chain", {{IPPROTO_HOPOPTS, 8}, {IPPROTO_DSTOPTS, 8}, {IPPROTO_ROUTING, 24}, {IPPROTO_AH, 16}, {IPPROTO_DSTOPTS, 8}}},
    {"EightHeaders",
     {{IPPROTO_HOPOPTS, 8}, {IPPROTO_DSTOPTS, 8}, {IPPROTO_ROUTING, 8}, {IPPROTO_AH, 12},
      {IPPROTO_DSTOPTS, 16}, {IPPROTO_DSTOPTS, 8}, {IPPROTO_AH, 12}, {IPPROTO_DSTOPTS, 8}}},
};

INSTANTIATE_TEST_SUITE_P(Datapath, DatapathIpv6ExtTest, ::testing::ValuesIn(kExtCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(DatapathTest, MoreThanEightIpv6ExtensionHeadersAreUnparsable) {
  Packet p = Packet::ipv6("fd00::1", "2001:db8::1");
  for (int i = 0; i < 9; i++) p.ext(IPPROTO_DSTOPTS, 8);
  RunResult r = run(p.tcp(40000, 443).build(), kOtherBits);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, 0u);
  EXPECT_EQ(r.mark, kOtherBits);
  EXPECT_EQ(counter(WANLB_CNT_UNPARSABLE), 1u);
  EXPECT_TRUE(flows().empty());
}

// ----------------------------------------------------------------- fragments

// Fragments carry no usable ports: all of a datagram is keyed by addresses
// and protocol (ports zero), so first and later fragments share a WAN under
// every classifier, including a port-only one.
class DatapathFragmentTest : public DatapathFixture, public ::testing::WithParamInterface<int> {};

TEST_P(DatapathFragmentTest, AllFragmentsOfADatagramShareAKeyWithoutPorts) {
  int family = GetParam();
  configure(2, WANLB_CLS_SRC_PORT);
  auto make = [&] {
    return family == 4 ? Packet::ipv4("10.9.9.9", "100.64.9.9") : Packet::ipv6("fd00::9", "2001:db8::9");
  };
  Frame first = make().fragment(0, true).udp(40000, 4500).payload(1000).build();
  Frame middle = make().fragment(126, true).other(IPPROTO_UDP, 1008).build();
  Frame last = make().fragment(252, false).other(IPPROTO_UDP, 100).build();

  uint32_t id = wan(first);
  ASSERT_NE(id, 0u);
  EXPECT_EQ(wan(middle), id);
  EXPECT_EQ(wan(last), id);
  EXPECT_EQ(counter(WANLB_CNT_FRAGMENTS), 3u);
  auto all = flows();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key.sport, 0);
  EXPECT_EQ(all[0].key.dport, 0);
  EXPECT_EQ(all[0].key.proto, IPPROTO_UDP);
  EXPECT_EQ(all[0].key.family, family == 4 ? AF_INET : AF_INET6);

  // An unfragmented packet of the same addresses is a different flow (ports
  // set) and not counted as a fragment.
  EXPECT_NE(wan(make().udp(40000, 4500).build()), 0u);
  EXPECT_EQ(counter(WANLB_CNT_FRAGMENTS), 3u);
  EXPECT_EQ(flows().size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Datapath, DatapathFragmentTest, ::testing::Values(4, 6),
                         [](const auto& info) { return "IPv" + std::to_string(info.param); });

// ------------------------------------------------ truncated and malformed input

class DatapathTruncationTest : public DatapathFixture, public ::testing::WithParamInterface<std::tuple<int, bool>> {};

// Cut a valid frame at every length. IPv4 tot_len and IPv6 payload_len cover
// the whole frame, so every cut is a truncation the parser must notice.
//
// BPF_PROG_TEST_RUN refuses (EINVAL) frames shorter than an Ethernet header
// and, when the EtherType is IPv4/IPv6, shorter than the fixed IP header.
// With a VLAN tag the kernel does not look past Ethernet, so the tagged
// variant drives the program's own bounds checks at every length from 14.
TEST_P(DatapathTruncationTest, EveryPrefixOfAFrameIsPassedUnmarked) {
  const auto [family, tagged] = GetParam();
  Packet p = packet(Tuple{family}).payload(16);
  if (tagged) p.vlan(100);
  Frame full = p.build();
  size_t kernel_min = tagged ? 14 : 14 + (family == 4 ? 20 : 40);
  for (size_t n = 0; n < full.size(); n++) {
    uint64_t bad = counter(WANLB_CNT_UNPARSABLE);
    RunResult r = run(truncate(full, n), kOtherBits);
    if (r.err != 0) {
      EXPECT_LT(n, kernel_min) << "length " << n << ": kernel refused to run, errno " << -r.err;
      continue;
    }
    EXPECT_GE(n, kernel_min) << "length " << n << ": kernel ran a frame it used to refuse (update kernel_min)";
    EXPECT_EQ(r.retval, 0u) << "length " << n;
    EXPECT_EQ(r.mark, kOtherBits) << "length " << n;
    EXPECT_EQ(counter(WANLB_CNT_UNPARSABLE), bad + 1) << "length " << n;
  }
  EXPECT_TRUE(flows().empty());
  EXPECT_NE(wan(full), 0u) << "the untruncated frame is valid";
}

INSTANTIATE_TEST_SUITE_P(Datapath, DatapathTruncationTest,
                         ::testing::Combine(::testing::Values(4, 6), ::testing::Bool()), [](const auto& info) {
                           return "IPv" + std::to_string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_Vlan" : "_Untagged");
                         });

TEST_F(DatapathTest, EthernetPaddingIsNotTruncation) {
  Frame f = Packet::ipv4("10.0.0.1", "100.64.0.1").udp(1000, 53).build();  // 42 bytes
  f.resize(60, 0);  // minimum Ethernet frame
  EXPECT_NE(wan(f), 0u);
  EXPECT_EQ(counter(WANLB_CNT_UNPARSABLE), 0u);
}

struct MalformedCase {
  const char* name;
  Frame frame;
};

class DatapathMalformedTest : public DatapathFixture, public ::testing::WithParamInterface<MalformedCase> {};

TEST_P(DatapathMalformedTest, IsPassedUnmarkedAndCounted) {
  RunResult r = run(GetParam().frame, kOtherBits);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, 0u);
  EXPECT_EQ(r.mark, kOtherBits);
  EXPECT_EQ(counters()[WANLB_CNT_UNPARSABLE], 1u);
  EXPECT_TRUE(flows().empty());
}

Packet v4() { return Packet::ipv4("10.0.0.1", "100.64.0.1"); }
Packet v6() { return Packet::ipv6("fd00::1", "2001:db8::1"); }

const MalformedCase kMalformed[] = {
    {"Ihl0", v4().ihl(0).tcp(1, 2).build()},
    {"Ihl4", v4().ihl(4).tcp(1, 2).build()},
    {"Ihl15OptionsMissing", v4().ihl(15).tcp(1, 2).build()},  // 60-byte header claimed, 40 bytes after IP start
    {"Version6UnderIpv4Type", v4().version(6).tcp(1, 2).build()},
    {"Version4UnderIpv6Type", v6().version(4).tcp(1, 2).build()},
    {"TotLenBeyondFrame", v4().tot_len(1500).tcp(1, 2).build()},
    {"TotLenBelowHeader", v4().tot_len(19).tcp(1, 2).build()},
    {"PayloadLenBeyondFrame", v6().payload_len(1000).tcp(1, 2).build()},
    {"TcpHeaderShort", v4().other(IPPROTO_TCP, 19).build()},  // consistent lengths, 19 < 20 bytes of TCP
    {"UdpHeaderShort", v6().other(IPPROTO_UDP, 7).build()},
    {"IcmpHeaderShort", v4().other(IPPROTO_ICMP, 7).build()},
    // payload_len is honest about the 16 bytes left, but the hop-by-hop
    // header claims 64: the walk runs past the end of the frame.
    {"ExtHeaderLengthBeyondFrame", truncate(v6().ext(IPPROTO_HOPOPTS, 64).payload_len(16).tcp(1, 2).build(), 14 + 40 + 16)},
};

INSTANTIATE_TEST_SUITE_P(Datapath, DatapathMalformedTest, ::testing::ValuesIn(kMalformed),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(DatapathTest, NonIpFramesAreNotBalanced) {
  RunResult r = run(Packet::arp().build(), kOtherBits);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, 0u);
  EXPECT_EQ(r.mark, kOtherBits);
  EXPECT_EQ(wan(Packet::ipv4("10.0.0.1", "100.64.0.1").ethertype(0x88cc).tcp(1, 2).build()), 0u);  // LLDP type
  EXPECT_EQ(counter(WANLB_CNT_NON_IP), 2u);
  EXPECT_EQ(counter(WANLB_CNT_UNPARSABLE), 0u);
  EXPECT_TRUE(flows().empty());
}

// ------------------------------------------------------ bypass, no WAN, ICMP

TEST_F(DatapathTest, BypassedDestinationsGetNoMarkAndNoFlow) {
  add_bypass({"100.64.7.0/24", "2001:db8:7::/48"});
  const Frame inside[] = {Packet::ipv4("10.0.0.1", "100.64.7.200").tcp(1000, 80).build(),
                          Packet::ipv6("fd00::1", "2001:db8:7:ffff::1").tcp(1000, 80).build()};
  for (const Frame& f : inside) {
    RunResult r = run(f, kOtherBits);
    ASSERT_EQ(r.err, 0);
    EXPECT_EQ(r.mark, kOtherBits);
  }
  EXPECT_EQ(counter(WANLB_CNT_BYPASSED), 2u);
  EXPECT_TRUE(flows().empty());

  // Just outside each prefix: balanced as usual.
  EXPECT_NE(wan(Packet::ipv4("10.0.0.1", "100.64.8.0").tcp(1000, 80).build()), 0u);
  EXPECT_NE(wan(Packet::ipv6("fd00::1", "2001:db8:8::1").tcp(1000, 80).build()), 0u);
  EXPECT_EQ(counter(WANLB_CNT_BYPASSED), 2u);
  EXPECT_EQ(flows().size(), 2u);
}

TEST_F(DatapathTest, EmptySlotTableMeansNoWan) {
  fill_slots(0);
  for (int family : {4, 6}) {
    RunResult r = run(frame(Tuple{family}), kOtherBits);
    ASSERT_EQ(r.err, 0);
    EXPECT_EQ(r.retval, 0u);
    EXPECT_EQ(r.mark, kOtherBits);
  }
  EXPECT_EQ(counter(WANLB_CNT_NO_WAN), 2u);
  EXPECT_TRUE(flows().empty());
  for (uint32_t id = 1; id <= 2; id++) EXPECT_EQ(wan_stats()[id].new_flows, 0u);
}

TEST_F(DatapathTest, EchoIdentifierIsTheSourcePort) {
  for (int family : {4, 6}) {
    Packet p = family == 4 ? Packet::ipv4("10.0.0.1", "100.64.0.1") : Packet::ipv6("fd00::1", "2001:db8::1");
    EXPECT_NE(wan(Packet(p).icmp_echo(0x1234, 1).build()), 0u);
    EXPECT_NE(wan(Packet(p).icmp_echo(0x1234, 2).build()), 0u);  // same session, next sequence
    EXPECT_NE(wan(Packet(p).icmp_echo(0x4321, 1).build()), 0u);  // another ping
    std::set<uint16_t> ids;
    for (const FlowEntry& e : flows()) {
      if (e.key.family != (family == 4 ? AF_INET : AF_INET6)) continue;
      EXPECT_EQ(e.key.proto, family == 4 ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6});
      EXPECT_EQ(e.key.dport, 0);
      ids.insert(ntohs(e.key.sport));
    }
    EXPECT_EQ(ids, (std::set<uint16_t>{0x1234, 0x4321})) << "IPv" << family;
  }
}

TEST_F(DatapathTest, NonEchoIcmpHasNoIdentifier) {
  // Destination unreachable: the bytes at the echo id offset are not an id.
  EXPECT_NE(wan(Packet::ipv4("10.0.0.1", "100.64.0.1").icmp(3, 0x1234).build()), 0u);
  auto all = flows();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key.sport, 0);
}

}  // namespace
}  // namespace wanlb_test

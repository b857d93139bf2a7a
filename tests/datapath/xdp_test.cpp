// The XDP fast path (bpf/wanlb_xdp.bpf.c, LAN `mode: xdp`) run on crafted
// frames with BPF_PROG_TEST_RUN, next to the tc program.
//
//  - Differential: two data paths programmed identically, one run through
//    wanlb_tc_lan, the other through wanlb_xdp_lan, on the same frame
//    sequences (the fixture's cases: every classifier, TCP/UDP/ICMP, both
//    families, VLAN tags, IPv4 options, IPv6 extension chains, fragments,
//    truncated and malformed frames, non-IP, bypass, empty slot table,
//    policies, sticky pairs, round robin, failover). Every frame must get
//    the same WAN (XDP: the id in its metadata for tc to apply), and the flow
//    tables and global counters must end up equal.
//  - Metadata: every frame XDP passes up carries struct wanlb_xdp_meta
//    (magic, WAN id, new-flow flag, reason).
//  - Forwarding, in a private network namespace with a routing table per
//    WAN and static neighbours: a WAN without NAT gets XDP_REDIRECT with the
//    rewritten Ethernet header and TTL / hop limit; NAT, fragments, expiring
//    TTL, VLAN, multicast MAC, missing neighbour or route -> XDP_PASS with
//    metadata. Counters move once.
//
// Without BPF_F_TEST_XDP_LIVE_FRAMES, test_run returns the program's action
// (XDP_REDIRECT) and the rewritten frame, and sends nothing anywhere.
// Needs root; skips otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "datapath/dp_fixture.h"
#include "netns/netns_fixture.h"

namespace wanlb_test {
namespace {

constexpr uint32_t kXdpPass = 2, kXdpRedirect = 4;  // XDP_PASS, XDP_REDIRECT
constexpr uint8_t kSyn = 0x02, kAck = 0x10, kSynAck = 0x12;

struct XdpResult {
  int err = 0;
  uint32_t retval = 0;
  bool has_meta = false;
  wanlb_xdp_meta meta{};
  uint32_t metalen = 0;  // metadata bytes in front of the frame after the program
  Frame out;             // the frame after the program (without the metadata)
};

class DatapathXdpTest : public DatapathFixture {
 protected:
  void SetUp() override {
    DatapathFixture::SetUp();
    if (IsSkipped()) return;
    xdp_fd_ = dp_->xdp_prog_fd();
    ASSERT_GE(xdp_fd_, 0) << dp_->xdp_error();
  }

  void TearDown() override {
    if (outer_fd_ >= 0) {
      if (::setns(outer_fd_, CLONE_NEWNET) != 0) std::abort();  // never run on in the wrong namespace
      ::close(outer_fd_);
      outer_fd_ = -1;
    }
    DatapathFixture::TearDown();
  }

  // `meta_in`: metadata already in front of the frame (the kernel takes it
  // from the start of data_in, ctx.data bytes long).
  XdpResult run_xdp(const Frame& frame, int ingress_ifindex = 0, const std::vector<uint8_t>& meta_in = {}) {
    XdpResult r;
    xdp_md ctx{};
    Frame in = meta_in;
    in.insert(in.end(), frame.begin(), frame.end());
    ctx.data = static_cast<uint32_t>(meta_in.size());
    ctx.data_end = static_cast<uint32_t>(in.size());
    ctx.ingress_ifindex = static_cast<uint32_t>(ingress_ifindex);
    std::vector<uint8_t> out(in.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    opts.data_in = in.data();
    opts.data_size_in = static_cast<uint32_t>(in.size());
    opts.data_out = out.data();
    opts.data_size_out = static_cast<uint32_t>(out.size());
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof ctx;
    opts.ctx_out = &ctx;
    opts.ctx_size_out = sizeof ctx;
    opts.repeat = 1;
    r.err = bpf_prog_test_run_opts(xdp_fd_, &opts) ? -errno : 0;
    r.retval = opts.retval;
    if (r.err) return r;
    // data_out starts at data_meta; ctx.data is the metadata length. The
    // decision is read where tc reads it: at data_meta.
    uint32_t metalen = ctx.data;
    if (metalen >= sizeof(wanlb_xdp_meta) && opts.data_size_out >= metalen) {
      std::memcpy(&r.meta, out.data(), sizeof r.meta);
      r.has_meta = r.meta.magic == WANLB_XDP_META_MAGIC;
    }
    r.metalen = metalen;
    if (opts.data_size_out >= metalen) r.out.assign(out.begin() + metalen, out.begin() + opts.data_size_out);
    return r;
  }

  // The WAN a frame gets in XDP mode when XDP passes it up (what tc then
  // marks): the metadata's WAN id. Fails the test on anything else.
  uint32_t xdp_wan(const Frame& frame) {
    XdpResult r = run_xdp(frame);
    EXPECT_EQ(r.err, 0);
    EXPECT_EQ(r.retval, kXdpPass);
    EXPECT_TRUE(r.has_meta);
    return r.meta.wan_id;
  }

  void set_nat(uint32_t id, bool nat4, bool nat6) {
    wans_[id].flags &= ~(WANLB_WAN_F_NO_NAT | WANLB_WAN_F_NO_NAT6);
    if (!nat4) wans_[id].flags |= WANLB_WAN_F_NO_NAT;
    if (!nat6) wans_[id].flags |= WANLB_WAN_F_NO_NAT6;
    wanlb::write_wans(fd(wanlb::MapId::Wans), wans_);
  }

  std::string enter_private_netns() {
    outer_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ino_t outer = current_netns_inode();
    if (outer_fd_ < 0 || ::unshare(CLONE_NEWNET) != 0) return std::string("no private network namespace: ") + std::strerror(errno);
    if (current_netns_inode() == outer) return "unshare did not give a new network namespace";
    if (sh("ip link set lo up") != 0) return "ip link set lo up failed";
    return "";
  }

  int xdp_fd_ = -1;
  int outer_fd_ = -1;
};

// ------------------------------------------------------------ differential

// A second, tc-only data path programmed like the fixture's: the reference.
class DatapathXdpDifferentialTest : public DatapathXdpTest {
 protected:
  void SetUp() override {
    DatapathXdpTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ref_ = std::make_unique<wanlb::Datapath>(kFlowEntries, kFlowEntries, nullptr, &log_);
  }

  int rfd(wanlb::MapId id) const { return ref_->map_fd(id); }

  // Program both data paths alike.
  void both_configure(uint32_t n, uint32_t classifier) {
    configure(n, classifier);
    sync_ref();
  }
  void sync_ref() {
    wanlb::write_wans(rfd(wanlb::MapId::Wans), wans_);
    wanlb::write_config(rfd(wanlb::MapId::Config), cfg_);
    std::vector<uint32_t> none;
    wanlb::sync_slots(rfd(wanlb::MapId::Slots), slots_, &none);
  }
  void both_bypass(const std::vector<std::string>& prefixes) {
    add_bypass(prefixes);
    std::vector<wanlb::BypassEntry> want;
    for (const auto& text : prefixes) {
      wanlb::BypassEntry e;
      std::string why;
      ASSERT_TRUE(wanlb::parse_prefix(text, &e.prefix, &why));
      e.origin = WANLB_BYPASS_CONFIG;
      want.push_back(e);
    }
    wanlb::sync_bypass(rfd(wanlb::MapId::Bypass4), rfd(wanlb::MapId::Bypass6), want);
  }
  void both_policies(const std::vector<wanlb::PolicyConfig>& p) {
    set_policies(p);
    wanlb::apply_policies(wanlb::policy_map_fds(*ref_), p);
    sync_ref();
  }

  // tc on the reference, XDP on the fixture's maps: the same WAN.
  void same(const Frame& f, const std::string& what) {
    wanlb::SkbRun tc = wanlb::run_skb(ref_->prog_fd(), f);
    // test_run refuses some frames for skbs (shorter than an Ethernet
    // header, or than the IP header its EtherType announces) that it runs
    // for XDP: only frames both can run are compared.
    if (tc.err) return;
    XdpResult x = run_xdp(f);
    ASSERT_EQ(x.err, 0) << what;
    frames_++;
    EXPECT_EQ(x.retval, kXdpPass) << what;  // every WAN NATs: nothing is forwarded in XDP
    ASSERT_TRUE(x.has_meta) << what << ": passed without metadata";
    EXPECT_EQ(x.meta.wan_id, wan_of(tc.mark)) << what;
    EXPECT_EQ(x.out, f) << what << ": a passed frame must be untouched";
  }

  void expect_same_state() {
    std::vector<uint64_t> a = counters(), b = wanlb::read_counters(rfd(wanlb::MapId::Counters));
    for (int i = 0; i < WANLB_CNT_COUNT; i++) EXPECT_EQ(a[i], b[i]) << "counter " << i;
    auto fa = flows(), fb = wanlb::read_flows(rfd(wanlb::MapId::Flows));
    ASSERT_EQ(fa.size(), fb.size());
    size_t matched = 0;
    for (const auto& x : fa)
      for (const auto& y : fb)
        if (std::memcmp(&x.key, &y.key, sizeof x.key) == 0) {
          EXPECT_EQ(x.value.wan_id, y.value.wan_id);
          EXPECT_EQ(x.value.flags, y.value.flags);
          matched++;
        }
    EXPECT_EQ(matched, fa.size());
    EXPECT_EQ(policy_hits(), wanlb::read_policy_hits(rfd(wanlb::MapId::PolHits)));
  }

  std::unique_ptr<wanlb::Datapath> ref_;
  size_t frames_ = 0;
};

Frame tcp(int fam, int s, int d, uint16_t sp, uint16_t dp, uint8_t flags = kSyn) {
  std::string sa = fam == 4 ? "10.0." + std::to_string(s / 250) + "." + std::to_string(s % 250 + 1)
                            : "fd00::" + std::to_string(s + 1);
  std::string da = fam == 4 ? "100.64." + std::to_string(d / 250) + "." + std::to_string(d % 250 + 1)
                            : "2001:db8:ffff::" + std::to_string(d + 1);
  Packet p = fam == 4 ? Packet::ipv4(sa, da) : Packet::ipv6(sa, da);
  return p.tcp(sp, dp).tcp_flags(flags).payload(20).build();
}

TEST_F(DatapathXdpDifferentialTest, EveryClassifierGivesTheSameWans) {
  for (uint32_t cls = 0; cls < WANLB_CLS_COUNT; cls++) {
    both_configure(3, cls);
    for (int i = 0; i < 60; i++) {
      int fam = i % 3 == 0 ? 6 : 4;
      same(tcp(fam, i % 7, i % 11, static_cast<uint16_t>(40000 + i), static_cast<uint16_t>(i % 2 ? 443 : 80)),
           "classifier " + std::to_string(cls) + " flow " + std::to_string(i));
      same(tcp(fam, i % 7, i % 11, static_cast<uint16_t>(40000 + i), static_cast<uint16_t>(i % 2 ? 443 : 80), kAck),
           "classifier " + std::to_string(cls) + " ack " + std::to_string(i));
    }
    same(Packet::ipv4("10.1.1.1", "100.64.1.1").udp(5000, 53).build(), "udp");
    same(Packet::ipv6("fd00::5", "2001:db8::5").udp(5000, 53).build(), "udp6");
    same(Packet::ipv4("10.1.1.1", "100.64.1.1").icmp_echo(77).build(), "icmp");
    same(Packet::ipv6("fd00::5", "2001:db8::5").icmp_echo(77).build(), "icmp6");
  }
  EXPECT_GT(frames_, 1000u);
  expect_same_state();
}

TEST_F(DatapathXdpDifferentialTest, HeaderFormsFragmentsAndBrokenFramesAgree) {
  both_configure(4, WANLB_CLS_BOTH_ADDRESSES_AND_PORTS);
  same(Packet::ipv4("10.0.0.1", "100.64.0.1").vlan(10).tcp(1000, 80).build(), "vlan");
  same(Packet::ipv4("10.0.0.1", "100.64.0.1").vlan(10, 0x88a8).vlan(20).tcp(1000, 80).build(), "qinq");
  same(Packet::ipv4("10.0.0.1", "100.64.0.1").ip_options(12).tcp(1001, 80).build(), "options");
  same(Packet::ipv6("fd00::1", "2001:db8::1").ext(0).ext(60, 16).ext(43).tcp(1002, 80).build(), "ext chain");
  Packet nine = Packet::ipv6("fd00::1", "2001:db8::1");
  for (int i = 0; i < 9; i++) nine.ext(60);
  same(nine.tcp(1003, 80).build(), "nine ext headers");
  for (int fam : {4, 6}) {
    auto make = [&] { return fam == 4 ? Packet::ipv4("10.9.9.9", "100.64.9.9") : Packet::ipv6("fd00::9", "2001:db8::9"); };
    same(make().fragment(0, true).udp(40000, 4500).payload(1000).build(), "first fragment");
    same(make().fragment(126, true).other(IPPROTO_UDP, 1008).build(), "middle fragment");
    same(make().fragment(252, false).other(IPPROTO_UDP, 100).build(), "last fragment");
  }
  Frame full = Packet::ipv6("fd00::1", "2001:db8::1").ext(0).tcp(1004, 80).payload(8).build();
  for (size_t n = 0; n <= full.size(); n++) same(truncate(full, n), "truncated to " + std::to_string(n));
  same(Packet::ipv4("10.0.0.1", "100.64.0.1").ihl(4).tcp(1, 2).build(), "ihl 4");
  same(Packet::ipv4("10.0.0.1", "100.64.0.1").tot_len(2000).tcp(1, 2).build(), "tot_len beyond frame");
  same(Packet::ipv4("10.0.0.1", "100.64.0.1").version(5).tcp(1, 2).build(), "version 5");
  same(Packet::arp().build(), "arp");
  same(Packet::ipv4("10.0.0.1", "100.64.0.1").ethertype(0x88cc).tcp(1, 2).build(), "lldp");
  expect_same_state();
}

TEST_F(DatapathXdpDifferentialTest, BypassPoliciesStickyRoundRobinAndFailoverAgree) {
  both_configure(3, WANLB_CLS_BOTH_ADDRESSES_AND_PORTS);
  both_bypass({"100.64.7.0/24", "2001:db8:7::/48"});
  same(Packet::ipv4("10.0.0.1", "100.64.7.200").tcp(1000, 80).build(), "bypass4");
  same(Packet::ipv6("fd00::1", "2001:db8:7:ffff::1").tcp(1000, 80).build(), "bypass6");

  wanlb::PolicyConfig to3, byp;
  to3.protocol = IPPROTO_UDP;
  to3.ports = {{53, 53}};
  to3.action = wanlb::PolicyAction::Wans;
  to3.wan_ids = {3};
  std::string why;
  wanlb::Prefix pfx;
  ASSERT_TRUE(wanlb::parse_prefix("100.64.200.0/24", &pfx, &why));
  byp.destination = {pfx};
  byp.action = wanlb::PolicyAction::Bypass;
  both_policies({to3, byp});
  for (int i = 0; i < 20; i++) {
    same(Packet::ipv4("10.0.0." + std::to_string(i + 1), "100.64.1.1").udp(static_cast<uint16_t>(5000 + i), 53).build(), "policy udp53");
    same(Packet::ipv4("10.0.0." + std::to_string(i + 1), "100.64.200.9").tcp(static_cast<uint16_t>(6000 + i), 80).build(), "policy bypass");
    same(tcp(4, i, 3, static_cast<uint16_t>(7000 + i), 443), "policy none");
  }

  // Failover: WAN 2 down (slots unchanged): its flows move in both.
  set_up(2, false);
  sync_ref();
  for (int i = 0; i < 20; i++) same(tcp(4, i, 3, static_cast<uint16_t>(7000 + i), 443, kAck), "after failover");
  set_up(2, true);
  sync_ref();

  // Sticky pairs, then round robin.
  set_sticky(true);
  sync_ref();
  for (int i = 0; i < 20; i++) same(tcp(4, i % 4, 9, static_cast<uint16_t>(8000 + i), 443), "sticky");
  set_sticky(false);
  set_classifier(WANLB_CLS_ROUND_ROBIN);
  sync_ref();
  for (int i = 0; i < 30; i++) same(tcp(6, i, 5, static_cast<uint16_t>(9000 + i), 443), "round robin");

  // Empty slot table: no WAN.
  fill_slots(0);
  sync_ref();
  same(tcp(4, 99, 99, 1, 2), "no wan");
  expect_same_state();
}

// ---------------------------------------------------------------- metadata

TEST_F(DatapathXdpTest, PassedFramesCarryTheDecisionForTc) {
  fill_slots(2);
  Frame syn = tcp(4, 1, 1, 40000, 443);
  XdpResult r = run_xdp(syn);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, kXdpPass);
  ASSERT_TRUE(r.has_meta);
  EXPECT_EQ(r.meta.wan_id, 2u);
  EXPECT_EQ(r.meta.flags, static_cast<uint32_t>(WANLB_XDP_META_F_NEW_FLOW));
  EXPECT_EQ(r.meta.reason, static_cast<uint32_t>(WANLB_XDP_PASS_NAT));  // NAT on every WAN by default
  r = run_xdp(tcp(4, 1, 1, 40000, 443, kAck));
  EXPECT_EQ(r.meta.wan_id, 2u);
  EXPECT_EQ(r.meta.flags, 0u);  // the flow exists: not new
  // Per-WAN counters are tc's for passed frames (it finishes them).
  EXPECT_EQ(wan_stats()[2].packets, 0u);
  EXPECT_EQ(counter(WANLB_CNT_XDP_REDIRECT), 0u);

  add_bypass({"100.64.0.0/24"});
  r = run_xdp(tcp(4, 2, 2, 40001, 80));
  ASSERT_TRUE(r.has_meta);
  EXPECT_EQ(r.meta.wan_id, 0u);
  EXPECT_EQ(counter(WANLB_CNT_BYPASSED), 1u);
  r = run_xdp(Packet::arp().build());
  ASSERT_TRUE(r.has_meta);
  EXPECT_EQ(r.meta.wan_id, 0u);
  EXPECT_EQ(counter(WANLB_CNT_NON_IP), 1u);
}

// Metadata already in front of a frame (a driver's, or a recycled page's)
// is never taken for a decision: ours goes in front of it, where tc reads.
// (When there is no room left for ours, wanlb_xdp_meta_room drops the old
// metadata first. test_run takes at most 32 bytes of metadata and always
// leaves room, so that path is checked by integration.test_forwarding_bench,
// whose live frames do run out of room: 7 % of them went through the stack
// before it existed.)
TEST_F(DatapathXdpTest, MetadataAlreadyThereIsNotTakenForADecision) {
  fill_slots(2);
  const wanlb_xdp_meta stale{WANLB_XDP_META_MAGIC, 1, 0, WANLB_XDP_PASS_NAT};  // "WAN 1": not this flow's
  for (size_t before : {16u, 32u}) {
    SCOPED_TRACE(testing::Message() << before << " bytes of metadata before");
    std::vector<uint8_t> meta_in(before, 0xab);
    std::memcpy(meta_in.data(), &stale, sizeof stale);
    std::memcpy(meta_in.data() + before - sizeof stale, &stale, sizeof stale);
    XdpResult r = run_xdp(tcp(4, 1, 1, 40000, 443), 0, meta_in);
    ASSERT_EQ(r.err, 0);
    EXPECT_EQ(r.retval, kXdpPass);
    ASSERT_TRUE(r.has_meta);
    EXPECT_EQ(r.meta.wan_id, 2u) << "the stale decision was read";
    EXPECT_EQ(r.metalen, before + 16);
  }
}

// The same flow gets the same WAN whichever program sees it first.
TEST_F(DatapathXdpTest, AFlowKeepsItsWanAcrossTheTwoPrograms) {
  configure(4, WANLB_CLS_BOTH_ADDRESSES_AND_PORTS);
  for (int i = 0; i < 40; i++) {
    Frame syn = tcp(i % 2 ? 6 : 4, i, i, static_cast<uint16_t>(30000 + i), 443);
    Frame ack = tcp(i % 2 ? 6 : 4, i, i, static_cast<uint16_t>(30000 + i), 443, kAck);
    if (i % 2) {
      uint32_t w = wan(syn);  // tc first
      EXPECT_EQ(xdp_wan(ack), w);
    } else {
      uint32_t w = xdp_wan(syn);  // XDP first
      EXPECT_EQ(wan(ack), w);
    }
  }
}

// ------------------------------------------------------------- forwarding

class DatapathXdpForwardTest : public DatapathXdpTest {
 protected:
  void SetUp() override {
    DatapathXdpTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::string why = enter_private_netns();
    if (!why.empty()) GTEST_SKIP() << why;
    // lan0 (ingress), wan1 and wan2 (veths; their peers stay down-stream),
    // one table per WAN like the agent's, static neighbours for the gateways.
    const char* cmds[] = {
        "ip link add lan0 type veth peer name lanp",
        "ip link add wan1 address 02:00:00:00:01:02 type veth peer name isp1",
        "ip link add wan2 address 02:00:00:00:02:02 type veth peer name isp2",
        "for d in lan0 lanp wan1 isp1 wan2 isp2; do ip link set $d up || exit 1; done",
        "ip addr add 192.168.77.1/24 dev lan0",
        "ip addr add 10.100.1.2/24 dev wan1",
        "ip addr add 10.100.2.2/24 dev wan2",
        "ip -6 addr add fd00:100:1::2/64 dev wan1 nodad",
        "ip neigh replace 10.100.1.1 lladdr 02:00:00:00:01:01 dev wan1 nud permanent",
        "ip neigh replace 10.100.2.1 lladdr 02:00:00:00:02:01 dev wan2 nud permanent",
        "ip -6 neigh replace fd00:100:1::1 lladdr 02:00:00:00:01:01 dev wan1 nud permanent",
        "ip route add default via 10.100.1.1 dev wan1 table 101",
        "ip route add default via 10.100.2.1 dev wan2 table 102",
        "ip -6 route add default via fd00:100:1::1 dev wan1 table 101",
        "sysctl -qw net.ipv4.ip_forward=1",
        "sysctl -qw net.ipv6.conf.all.forwarding=1",
    };
    for (const char* c : cmds) ASSERT_EQ(sh(c), 0) << c;
    lan_ = static_cast<int>(if_nametoindex("lan0"));
    wan1_ = static_cast<int>(if_nametoindex("wan1"));
    ASSERT_GT(lan_, 0);
    configure(2, WANLB_CLS_BOTH_ADDRESSES_AND_PORTS);
    fill_slots(1);
    set_nat(1, false, false);  // WAN 1: routed (nat: none, nat6: none); WAN 2 NATs
  }

  static uint16_t csum(const uint8_t* p, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2) s += (p[i] << 8) | p[i + 1];
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
  }

  int lan_ = 0, wan1_ = 0;
};

TEST_F(DatapathXdpForwardTest, RoutedWanIsForwardedInXdp) {
  Frame f = Packet::ipv4("192.168.77.10", "198.51.100.10").tcp(40000, 443).payload(10).build();
  XdpResult r = run_xdp(f, lan_);
  ASSERT_EQ(r.err, 0);
  ASSERT_EQ(r.retval, kXdpRedirect) << "reason " << r.meta.reason;
  ASSERT_EQ(r.out.size(), f.size());
  const uint8_t gw_mac[6] = {2, 0, 0, 0, 1, 1}, wan_mac[6] = {2, 0, 0, 0, 1, 2};
  EXPECT_EQ(std::memcmp(r.out.data(), gw_mac, 6), 0);
  EXPECT_EQ(std::memcmp(r.out.data() + 6, wan_mac, 6), 0);
  EXPECT_EQ(r.out[ETH_HLEN + 8], f[ETH_HLEN + 8] - 1);  // TTL
  EXPECT_EQ(csum(r.out.data() + ETH_HLEN, 20), 0u) << "IPv4 header checksum after the TTL update";
  Frame a = r.out, b = f;
  for (Frame* x : {&a, &b}) {  // blank what may change: MACs, TTL, header checksum
    std::fill(x->begin(), x->begin() + 12, 0);
    (*x)[ETH_HLEN + 8] = (*x)[ETH_HLEN + 10] = (*x)[ETH_HLEN + 11] = 0;
  }
  EXPECT_EQ(a, b) << "only MACs, TTL and checksum change";
  // A forwarded frame carries no decision: should it reach the stack after
  // all, tc classifies it instead of reading "no WAN" from a half-written
  // metadata area (which sent such frames out through the main table).
  EXPECT_FALSE(r.has_meta);
  EXPECT_EQ(counter(WANLB_CNT_XDP_REDIRECT), 1u);
  EXPECT_EQ(wan_stats()[1].packets, 1u);
  EXPECT_EQ(wan_stats()[1].bytes, f.size());
  EXPECT_EQ(wan_stats()[1].new_flows, 1u);
  // Its next packet follows the flow, forwarded too, not a new flow.
  r = run_xdp(Packet::ipv4("192.168.77.10", "198.51.100.10").tcp(40000, 443).tcp_flags(kAck).build(), lan_);
  EXPECT_EQ(r.retval, kXdpRedirect);
  EXPECT_EQ(wan_stats()[1].new_flows, 1u);
  EXPECT_EQ(counter(WANLB_CNT_XDP_REDIRECT), 2u);

  Frame f6 = Packet::ipv6("fd00:77::10", "2001:db8:100::10").udp(5000, 53).build();
  r = run_xdp(f6, lan_);
  ASSERT_EQ(r.retval, kXdpRedirect) << "reason " << r.meta.reason;
  EXPECT_EQ(std::memcmp(r.out.data(), gw_mac, 6), 0);
  EXPECT_EQ(r.out[ETH_HLEN + 7], f6[ETH_HLEN + 7] - 1);  // hop limit
}

TEST_F(DatapathXdpForwardTest, WhatXdpCannotFinishGoesToTheStackWithItsWan) {
  auto expect_pass = [&](const Frame& f, uint32_t wan_id, uint32_t reason, const char* what) {
    XdpResult r = run_xdp(f, lan_);
    ASSERT_EQ(r.err, 0) << what;
    EXPECT_EQ(r.retval, kXdpPass) << what;
    ASSERT_TRUE(r.has_meta) << what;
    EXPECT_EQ(r.meta.wan_id, wan_id) << what;
    EXPECT_EQ(r.meta.reason, reason) << what;
    EXPECT_EQ(r.out, f) << what << ": a passed frame is untouched";
  };
  // WAN 2 source-NATs: the stack must do it.
  fill_slots(2);
  expect_pass(Packet::ipv4("192.168.77.10", "198.51.100.10").tcp(40001, 443).build(), 2, WANLB_XDP_PASS_NAT, "nat");
  fill_slots(1);
  expect_pass(Packet::ipv4("192.168.77.10", "198.51.100.10").udp(5000, 4500).payload(100).fragment(0, true).build(), 1,
              WANLB_XDP_PASS_FRAGMENT, "fragment");
  Frame ttl1 = Packet::ipv4("192.168.77.10", "198.51.100.10").tcp(40002, 443).build();
  ttl1[ETH_HLEN + 8] = 1;
  expect_pass(ttl1, 1, WANLB_XDP_PASS_TTL, "ttl 1");
  expect_pass(Packet::ipv4("192.168.77.10", "198.51.100.10").vlan(5).tcp(40003, 443).build(), 1, WANLB_XDP_PASS_L2, "vlan");
  Frame mc = Packet::ipv4("192.168.77.10", "198.51.100.10").tcp(40004, 443).build();
  mc[0] = 0x01;
  expect_pass(mc, 1, WANLB_XDP_PASS_L2, "multicast mac");
  expect_pass(Packet::ipv6("fd00:77::10", "2001:db8:100::10").ext(0).udp(5001, 53).build(), 1, WANLB_XDP_PASS_TTL,
              "hop-by-hop");
  // The gateway's neighbour entry is gone: the stack resolves it.
  ASSERT_EQ(sh("ip neigh del 10.100.1.1 dev wan1"), 0);
  expect_pass(Packet::ipv4("192.168.77.10", "198.51.100.10").tcp(40005, 443).build(), 1, WANLB_XDP_PASS_FIB, "no neighbour");
  // No route in the WAN's table.
  ASSERT_EQ(sh("ip route flush table 101"), 0);
  expect_pass(Packet::ipv4("192.168.77.10", "198.51.100.10").tcp(40006, 443).build(), 1, WANLB_XDP_PASS_FIB, "no route");
  EXPECT_EQ(counter(WANLB_CNT_XDP_REDIRECT), 0u);
  EXPECT_EQ(wan_stats()[1].packets, 0u);  // tc counts what it finishes
  EXPECT_EQ(counter(WANLB_CNT_FRAGMENTS), 1u);
}

}  // namespace
}  // namespace wanlb_test

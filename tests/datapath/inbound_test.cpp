// Replies of inbound connections (bpf/inbound.h): the data path looks the
// packet up in conntrack (kfunc bpf_skb_ct_lookup) and pins a reply to the
// WAN named by the connection's mark.
//
// BPF_PROG_TEST_RUN runs the program on an skb of the calling thread's
// network namespace (its loopback device), so the lookups go to that
// namespace's conntrack table. The tests with entries therefore move this
// thread into a private namespace and create the entries there with the
// `conntrack` CLI (ctnetlink), marks included: the real lookup, not a mock.
// Needs root; the entry tests skip without the conntrack CLI.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>

#include <cstring>
#include <string>

#include "datapath/dp_fixture.h"
#include "netns/netns_fixture.h"

namespace wanlb_test {
namespace {

Frame tcp4(const std::string& s, const std::string& d, uint16_t sp, uint16_t dp, uint8_t flags) {
  return Packet::ipv4(s, d).tcp(sp, dp).tcp_flags(flags).payload(16).build();
}

constexpr uint8_t kSyn = 0x02, kSynAck = 0x12, kAck = 0x10;

#define ENTER_PRIVATE_NETNS()                                   \
  do {                                                          \
    std::string why = enter_private_netns();                    \
    if (!why.empty()) GTEST_SKIP() << why;                      \
  } while (0)

class DatapathInboundTest : public DatapathFixture {
 protected:
  void SetUp() override {
    DatapathFixture::SetUp();
    if (IsSkipped()) return;
    configure(3, WANLB_CLS_BOTH_ADDRESSES_AND_PORTS);
    fill_slots(1);  // balanced choice: WAN 1; inbound replies show as 2 or 3
    set_cfg_flag(WANLB_CFG_F_INBOUND, true);
  }

  void TearDown() override {
    if (outer_fd_ >= 0) {
      if (::setns(outer_fd_, CLONE_NEWNET) != 0) std::abort();  // never run on in the wrong namespace
      ::close(outer_fd_);
      outer_fd_ = -1;
    }
    DatapathFixture::TearDown();
  }

  // Move this thread into a private network namespace; returns why it
  // cannot ("" when it did).
  std::string enter_private_netns() {
    if (sh("command -v conntrack >/dev/null 2>&1") != 0) return "the conntrack CLI is missing (apt-get install conntrack)";
    outer_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ino_t outer = current_netns_inode();
    if (outer_fd_ < 0 || ::unshare(CLONE_NEWNET) != 0) return std::string("no private network namespace: ") + std::strerror(errno);
    if (current_netns_inode() == outer) return "unshare did not give a new network namespace";
    if (sh("ip link set lo up") != 0) return "ip link set lo up failed";
    return "";
  }

  // A connection that came in: remote:rport -> wan_addr:port, DNATed to
  // server:port, conntrack mark `mark`.
  void inbound(const std::string& proto, const std::string& remote, int rport, const std::string& wan_addr,
               const std::string& server, int port, uint32_t mark) {
    char m[16];
    std::snprintf(m, sizeof m, "0x%x", mark);
    std::string cmd = "conntrack -I -p " + proto + " -s " + remote + " -d " + wan_addr + " --sport " +
                      std::to_string(rport) + " --dport " + std::to_string(port) + " -r " + server + " -q " + remote +
                      " --reply-port-src " + std::to_string(port) + " --reply-port-dst " + std::to_string(rport) +
                      " --timeout 600";
    if (proto == "tcp") cmd += " --state ESTABLISHED -u SEEN_REPLY";
    // Last: conntrack-tools 1.4.7 stores the -u status bits in the mark
    // when --mark comes before -u.
    cmd += std::string(" --mark ") + m;
    ASSERT_EQ(sh(cmd + " >/dev/null 2>&1"), 0) << cmd;
  }

  uint32_t flow_flags(uint16_t sp) {
    for (const auto& f : flows())
      if (f.key.sport == htons(sp)) return f.value.flags;
    ADD_FAILURE() << "no flow with source port " << sp;
    return 0;
  }

  int outer_fd_ = -1;
};

// Without conntrack entries (the usual case for test packets) every packet
// is balanced as before; the program with the kfunc calls loaded at all
// (SetUp) is the verifier's acceptance.
TEST_F(DatapathInboundTest, WithoutAnEntryPacketsAreBalancedAsUsual) {
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40000, 443, kSyn)), 1u);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40001, 443, kAck)), 1u);
  EXPECT_EQ(wan(tcp4("10.0.0.1", "192.0.2.1", 40002, 443, kSynAck)), 1u);
  EXPECT_EQ(wan(Packet::ipv4("10.0.0.1", "192.0.2.1").udp(5000, 53).build()), 1u);
  EXPECT_EQ(wan(Packet::ipv6("fd00::1", "2001:db8::1").udp(5000, 53).build()), 1u);
  EXPECT_EQ(wan(Packet::ipv4("10.0.0.1", "192.0.2.1").icmp_echo(5).build()), 1u);
  EXPECT_EQ(wan(Packet::ipv4("10.0.0.1", "192.0.2.1").udp(5001, 53).payload(64).fragment(0, true).build()), 1u);
  EXPECT_EQ(counter(WANLB_CNT_INBOUND), 0u);
  for (const auto& f : flows()) EXPECT_EQ(f.value.flags & WANLB_FLOW_F_INBOUND, 0u);
}

TEST_F(DatapathInboundTest, ReplyLeavesThroughTheWanTheConnectionCameIn) {
  ENTER_PRIVATE_NETNS();
  // 203.0.113.9:5555 -> WAN 2 (10.100.2.2:8080) DNATed to 192.168.1.10:80.
  inbound("tcp", "203.0.113.9", 5555, "10.100.2.2", "192.168.1.10", 80, 2u << 16);
  RunResult r = run(tcp4("192.168.1.10", "203.0.113.9", 80, 5555, kSynAck), 0x0000000f);
  EXPECT_EQ(r.err, 0);
  EXPECT_EQ(wan_of(r.mark), 2u);
  EXPECT_EQ(r.mark & ~kMarkMask, 0x0000000fu);
  EXPECT_EQ(counter(WANLB_CNT_INBOUND), 1u);
  EXPECT_EQ(flow_flags(80) & WANLB_FLOW_F_INBOUND, static_cast<uint32_t>(WANLB_FLOW_F_INBOUND));
  // The rest of the connection follows the flow entry.
  EXPECT_EQ(wan(tcp4("192.168.1.10", "203.0.113.9", 80, 5555, kAck)), 2u);
  EXPECT_EQ(counter(WANLB_CNT_INBOUND), 1u);

  // UDP, IPv6, and a mark that needs the scan (explicit, not id << 16).
  wans_[3].mark = 0x00070000;
  wanlb::write_wans(fd(wanlb::MapId::Wans), wans_);
  inbound("udp", "203.0.113.9", 6000, "10.100.3.2", "192.168.1.11", 53, 0x00070000 | 0x1);  // bit outside the mask
  RunResult udp = run(Packet::ipv4("192.168.1.11", "203.0.113.9").udp(53, 6000).build());
  EXPECT_EQ(udp.mark & kMarkMask, 0x00070000u);  // WAN 3's mark
  inbound("tcp", "2001:db8:9::9", 7000, "fd00:100:2::2", "fd00:1::10", 22, 2u << 16);
  EXPECT_EQ(wan(Packet::ipv6("fd00:1::10", "2001:db8:9::9").tcp(22, 7000).tcp_flags(kSynAck).build()), 2u);
  EXPECT_EQ(counter(WANLB_CNT_INBOUND), 3u);
}

TEST_F(DatapathInboundTest, OnlyRepliesOfMarkedConnectionsAreInbound) {
  ENTER_PRIVATE_NETNS();
  inbound("tcp", "203.0.113.9", 5555, "10.100.2.2", "192.168.1.10", 80, 2u << 16);
  // The original direction (as if the LAN host had opened it): not a reply.
  EXPECT_EQ(wan(tcp4("203.0.113.9", "10.100.2.2", 5555, 80, kAck)), 1u);
  // A bare SYN is never looked up.
  EXPECT_EQ(wan(tcp4("192.168.1.10", "203.0.113.9", 80, 5555, kSyn)), 1u);
  // A mark that names no WAN, and no mark at all: balanced.
  inbound("tcp", "203.0.113.9", 5556, "10.100.2.2", "192.168.1.10", 81, 9u << 16);
  EXPECT_EQ(wan(tcp4("192.168.1.10", "203.0.113.9", 81, 5556, kSynAck)), 1u);
  inbound("tcp", "203.0.113.9", 5557, "10.100.2.2", "192.168.1.10", 82, 0);
  EXPECT_EQ(wan(tcp4("192.168.1.10", "203.0.113.9", 82, 5557, kSynAck)), 1u);
  // With the feature off the entry is not looked at.
  inbound("tcp", "203.0.113.9", 5558, "10.100.2.2", "192.168.1.10", 83, 2u << 16);
  set_cfg_flag(WANLB_CFG_F_INBOUND, false);
  EXPECT_EQ(wan(tcp4("192.168.1.10", "203.0.113.9", 83, 5558, kSynAck)), 1u);
  EXPECT_EQ(counter(WANLB_CNT_INBOUND), 0u);
}

TEST_F(DatapathInboundTest, ReplyKeepsItsWanEvenWhenItIsDown) {
  ENTER_PRIVATE_NETNS();
  inbound("tcp", "203.0.113.9", 5555, "10.100.2.2", "192.168.1.10", 80, 2u << 16);
  set_up(2, false);
  EXPECT_EQ(wan(tcp4("192.168.1.10", "203.0.113.9", 80, 5555, kSynAck)), 2u);
  EXPECT_EQ(wan(tcp4("192.168.1.10", "203.0.113.9", 80, 5555, kAck)), 2u);  // from the flow entry
  EXPECT_EQ(counter(WANLB_CNT_INBOUND), 1u);  // looked up once
}

TEST_F(DatapathInboundTest, InboundComesBeforePoliciesAndStickyPairs) {
  ENTER_PRIVATE_NETNS();
  wanlb::PolicyConfig all;
  all.action = wanlb::PolicyAction::Wans;
  all.wan_ids = {3};
  set_policies({all});
  set_sticky(true);
  inbound("tcp", "203.0.113.9", 5555, "10.100.2.2", "192.168.1.10", 80, 2u << 16);
  EXPECT_EQ(wan(tcp4("192.168.1.10", "203.0.113.9", 80, 5555, kSynAck)), 2u);
  EXPECT_EQ(policy_hits()[0], 0u);
  EXPECT_EQ(wan(tcp4("192.168.1.10", "203.0.113.9", 40000, 443, kSyn)), 3u);  // its own connection: the policy
}

}  // namespace
}  // namespace wanlb_test

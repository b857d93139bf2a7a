// Prober against a real kernel. Each test runs in a private network
// namespace (PrivateNetnsTest); the "gateway" lives in a second, unnamed
// namespace held by a forked child (killed in TearDown, so the namespace
// and the veth pairs into it vanish with it, even if a test fails; nothing
// appears in `ip netns list`). The gateway's kernel answers echo and ARP
// requests by itself.
//
//   test namespace                     peer namespace (child process)
//   wan1 10.99.0.2/24 fd99::2/64 ──── gw1 10.99.0.1/24 fd99::1/64
//                                      lo  10.98.0.1/32 (main: via dead 10.99.0.99;
//                                                        table 100: via gw1)
//   wan2 10.97.0.2/24 ──── gw2 (stays in the test namespace, no address;
//                               TwoWansAtOnce moves it to the peer)
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "netns/netns_fixture.h"
#include "prober.h"

namespace wanlb {
namespace {

using wanlb_test::sh;
using wanlb_test::sh_out;

constexpr uint64_t kCookie = 0x1122334455667788ull;
constexpr uint32_t kMark = 0x10000;
constexpr uint64_t kMs = 1000000;

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

IpAddr ip(const std::string& text) {
  IpAddr a;
  a.family = text.find(':') == std::string::npos ? AF_INET : AF_INET6;
  EXPECT_EQ(inet_pton(a.family, text.c_str(), a.bytes.data()), 1) << text;
  return a;
}

ProbeSpec spec(uint32_t wan_id, const std::string& ifname, std::vector<std::string> targets,
               ProbeMethod method = ProbeMethod::Icmp, uint32_t timeout_ms = 400) {
  ProbeSpec s;
  s.wan_id = wan_id;
  s.ifname = ifname;
  s.mark = kMark;
  s.method = method;
  s.timeout_ms = timeout_ms;
  for (const auto& t : targets) s.targets.push_back(ip(t));
  return s;
}

// Feed every readable socket to the prober for up to `wait_ms`.
void pump(Prober& p, int wait_ms) {
  std::vector<int> fds = p.fds();
  std::vector<pollfd> pfds;
  for (int fd : fds) pfds.push_back(pollfd{fd, POLLIN, 0});
  if (::poll(pfds.data(), pfds.size(), wait_ms) <= 0) return;
  for (const pollfd& pf : pfds)
    if (pf.revents & POLLIN) p.on_readable(pf.fd, now_ns());
}

struct Reported {
  RoundResult result;
  uint64_t after_ns = 0;  // from send to the collect() that returned it
};

// Send one round for `wan_id` and run the loop until it is reported.
std::optional<Reported> run_round(Prober& p, uint32_t wan_id, uint32_t timeout_ms) {
  uint64_t t0 = now_ns();
  p.send_round(wan_id, t0);
  while (now_ns() < t0 + (timeout_ms + 1000) * kMs) {
    pump(p, 10);
    uint64_t t = now_ns();
    for (FinishedRound& f : p.collect(t))
      if (f.wan_id == wan_id) return Reported{f.result, t - t0};
  }
  return std::nullopt;
}

// Runs `f` on a thread that joined the network namespace `nsfd`; a socket
// made there stays in that namespace when used from this thread.
int socket_in_netns(int nsfd, int domain, int type, int proto) {
  int fd = -1;
  std::thread t([&] {
    if (::setns(nsfd, CLONE_NEWNET) == 0) fd = ::socket(domain, type | SOCK_CLOEXEC, proto);
  });
  t.join();
  return fd;
}

uint16_t checksum(const uint8_t* p, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t(p[i]) << 8) | p[i + 1];
  if (len & 1) sum += uint32_t(p[len - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

class ProberTest : public wanlb_test::PrivateNetnsTest {
 protected:
  void SetUp() override {
    PrivateNetnsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    start_peer();
    if (HasFatalFailure()) return;
    // No DAD: addresses are usable at once, link-local ones included.
    ASSERT_EQ(sh("sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0"), 0);
    ASSERT_EQ(peer("sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0"), 0);
    ASSERT_EQ(sh("ip link add wan1 type veth peer name gw1 && ip link set gw1 netns " +
                 std::to_string(peer_pid_)), 0);
    ASSERT_EQ(peer("ip link set lo up && ip addr add 10.99.0.1/24 dev gw1 && "
                   "ip addr add fd99::1/64 dev gw1 nodad && ip addr add 10.98.0.1/32 dev lo && "
                   "ip link set gw1 up"), 0);
    ASSERT_EQ(sh("ip addr add 10.99.0.2/24 dev wan1 && ip addr add fd99::2/64 dev wan1 nodad && "
                 "ip link set wan1 up"), 0);
    // 10.98.0.0/24 works only through the fwmark rule's table; main sends
    // it to a next hop that does not exist. (Not "unreachable" in main: a
    // socket bound to a device treats a failed lookup as "on link".)
    ASSERT_EQ(sh("ip route add 10.98.0.0/24 via 10.99.0.1 dev wan1 table 100 && "
                 "ip rule add fwmark 0x10000/0xff0000 lookup 100 pref 1000 && "
                 "ip route add 10.98.0.0/24 via 10.99.0.99 dev wan1"), 0);
    ASSERT_EQ(sh("ip link add wan2 type veth peer name gw2 && ip addr add 10.97.0.2/24 dev wan2 && "
                 "ip link set gw2 up && ip link set wan2 up"), 0);
    wait_up({"wan1", "wan2", "gw2"}, {"gw1"});
  }

  static bool is_up(const std::string& ip_link) { return ip_link.find("state UP") != std::string::npos; }

  // A veth sends only once linkwatch has activated its qdisc (until then
  // noop_qdisc drops, e.g. the first ARP request, retried only after 1 s);
  // operstate turns UP in the same step.
  void wait_up(const std::vector<std::string>& here, const std::vector<std::string>& in_peer) {
    for (int i = 0; i < 200; ++i) {
      bool all = true;
      for (const auto& d : here) all = all && is_up(sh_out("ip -o link show dev " + d));
      for (const auto& d : in_peer) all = all && is_up(peer_out("ip -o link show dev " + d));
      if (all) return;
      ::usleep(10000);
    }
    ADD_FAILURE() << "links did not come up";
  }

  void TearDown() override {
    if (peer_fd_ >= 0) ::close(peer_fd_);
    if (peer_pid_ > 0) {
      ::kill(peer_pid_, SIGKILL);
      ::waitpid(peer_pid_, nullptr, 0);
    }
    PrivateNetnsTest::TearDown();
  }

  // A child that moves into a new network namespace and sleeps: the peer.
  void start_peer() {
    int ready[2];
    ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    peer_pid_ = ::fork();
    ASSERT_GE(peer_pid_, 0);
    if (peer_pid_ == 0) {
      // Only async-signal-safe calls here: the test binary may have threads.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      char ok = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
      if (::write(ready[1], &ok, 1) != 1) ::_exit(1);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char ok = 'n';
    ssize_t n = ::read(ready[0], &ok, 1);
    ::close(ready[0]);
    ASSERT_TRUE(n == 1 && ok == 'y') << "peer could not unshare";
    peer_fd_ = ::open(("/proc/" + std::to_string(peer_pid_) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(peer_fd_, 0);
  }

  int peer(const std::string& cmd) {
    return sh("nsenter --net=/proc/" + std::to_string(peer_pid_) + "/ns/net sh -c '" + cmd + "'");
  }

  std::string peer_out(const std::string& cmd) {
    return sh_out("nsenter --net=/proc/" + std::to_string(peer_pid_) + "/ns/net sh -c '" + cmd + "'");
  }

  pid_t peer_pid_ = -1;
  int peer_fd_ = -1;
};

void expect_passed(const std::optional<Reported>& r, uint32_t sent, uint32_t timeout_ms) {
  ASSERT_TRUE(r.has_value()) << "round never reported";
  EXPECT_EQ(r->result.sent, sent);
  EXPECT_EQ(r->result.answered, sent);
  ASSERT_EQ(r->result.rtt_us.size(), sent);
  for (uint32_t rtt : r->result.rtt_us) EXPECT_LT(rtt, 100000u) << "veth RTT should be far below 100 ms";
  // Complete rounds are reported without waiting for the timeout.
  EXPECT_LT(r->after_ns, timeout_ms * kMs);
}

void expect_lost(const std::optional<Reported>& r, uint32_t sent) {
  ASSERT_TRUE(r.has_value()) << "round never reported";
  EXPECT_EQ(r->result.sent, sent);
  EXPECT_EQ(r->result.answered, 0u);
  EXPECT_TRUE(r->result.rtt_us.empty());
}

TEST_F(ProberTest, IcmpRoundToGatewayPasses) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1"})});
  EXPECT_EQ(p.fds().size(), 1u);  // IPv4 targets only: one socket
  for (int i = 0; i < 3; ++i) expect_passed(run_round(p, 1, 400), 1, 400);
  EXPECT_EQ(p.ignored_replies(), 0u);
}

TEST_F(ProberTest, Icmpv6RoundToGatewayPasses) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"fd99::1"})});
  EXPECT_EQ(p.fds().size(), 1u);
  expect_passed(run_round(p, 1, 400), 1, 400);
  EXPECT_EQ(p.ignored_replies(), 0u);
}

TEST_F(ProberTest, Icmpv6LinkLocalGatewayPasses) {
  // Link-local gateways need the interface as scope id.
  std::string ll = peer_out("ip -6 -br addr show dev gw1 scope link | awk \"{print \\$3}\" | cut -d/ -f1");
  ll.erase(ll.find_last_not_of("\n ") + 1);
  ASSERT_EQ(ll.rfind("fe80:", 0), 0u) << "no link-local address on gw1: '" << ll << "'";
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {ll})});
  expect_passed(run_round(p, 1, 400), 1, 400);
}

TEST_F(ProberTest, DualStackTargetsUseTwoSockets) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1", "fd99::1"})});
  EXPECT_EQ(p.fds().size(), 2u);
  expect_passed(run_round(p, 1, 400), 2, 400);
}

TEST_F(ProberTest, DeadTargetIsLostOnlyAfterTimeout) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.77"}, ProbeMethod::Icmp, 300)});
  uint64_t t0 = now_ns();
  p.send_round(1, t0);
  EXPECT_TRUE(p.collect(t0 + 299 * kMs).empty()) << "reported before the timeout";
  std::vector<FinishedRound> done = p.collect(t0 + 300 * kMs);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].wan_id, 1u);
  EXPECT_EQ(done[0].result.sent, 1u);
  EXPECT_EQ(done[0].result.answered, 0u);
  EXPECT_TRUE(p.collect(t0 + 1000 * kMs).empty()) << "reported twice";
  // The same through the real loop.
  auto r = run_round(p, 1, 300);
  expect_lost(r, 1);
  EXPECT_GE(r->after_ns, 300 * kMs);
}

TEST_F(ProberTest, ReliabilityCountsEachTarget) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1", "10.99.0.77"}, ProbeMethod::Icmp, 300)});
  auto r = run_round(p, 1, 300);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result.sent, 2u);
  EXPECT_EQ(r->result.answered, 1u);
  EXPECT_EQ(r->result.rtt_us.size(), 1u);
  EXPECT_GE(r->after_ns, 300 * kMs);  // one target still open until the timeout
}

TEST_F(ProberTest, MarkSelectsTheWansTable) {
  // 10.98.0.1 is reachable only through table 100, i.e. with mark 0x10000.
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.98.0.1"})});
  expect_passed(run_round(p, 1, 400), 1, 400);

  ProbeSpec other = spec(1, "wan1", {"10.98.0.1"});
  other.mark = 0x20000;
  p.configure({other});
  expect_lost(run_round(p, 1, 400), 1);
}

TEST_F(ProberTest, BoundToTheWansInterface) {
  // wan2 has no path to 10.99.0.1; unbound, the main table would send the
  // probe out of wan1 and it would pass.
  Prober p(kCookie);
  p.configure({spec(2, "wan2", {"10.99.0.1"}, ProbeMethod::Icmp, 300)});
  expect_lost(run_round(p, 2, 300), 1);
  p.configure({spec(2, "wan1", {"10.99.0.1"}, ProbeMethod::Icmp, 300)});
  expect_passed(run_round(p, 2, 300), 1, 300);
}

TEST_F(ProberTest, TwoWansAtOnce) {
  // A second gateway: gw2 into the peer (a local address would route via lo).
  ASSERT_EQ(sh("ip link set gw2 netns " + std::to_string(peer_pid_)), 0);
  ASSERT_EQ(peer("ip addr add 10.97.0.1/24 dev gw2 && ip link set gw2 up"), 0);
  wait_up({"wan2"}, {"gw2"});
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1"}), spec(2, "wan2", {"10.97.0.1"})});
  uint64_t t0 = now_ns();
  p.send_round(1, t0);
  p.send_round(2, t0);
  std::vector<FinishedRound> done;
  while (done.size() < 2 && now_ns() < t0 + 1000 * kMs) {
    pump(p, 10);
    for (auto& f : p.collect(now_ns())) done.push_back(f);
  }
  ASSERT_EQ(done.size(), 2u);
  for (auto& f : done) EXPECT_EQ(f.result.answered, 1u) << "WAN " << f.wan_id;
  EXPECT_EQ(p.ignored_replies(), 0u);
}

// The peer stops answering echo requests itself; a raw socket there
// captures our request and answers it after `mutate` edits the reply.
class ProberSpoofTest : public ProberTest {
 protected:
  void SetUp() override {
    ProberTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(peer("sysctl -qw net.ipv4.icmp_echo_ignore_all=1"), 0);
    raw_ = socket_in_netns(peer_fd_, AF_INET, SOCK_RAW, IPPROTO_ICMP);
    ASSERT_GE(raw_, 0) << std::strerror(errno);
  }
  void TearDown() override {
    if (raw_ >= 0) ::close(raw_);
    ProberTest::TearDown();
  }

  // The next echo request the peer sees, as an ICMP message.
  std::vector<uint8_t> capture_request() {
    uint8_t buf[2048];
    for (;;) {
      pollfd pf{raw_, POLLIN, 0};
      if (::poll(&pf, 1, 1000) <= 0) return {};
      ssize_t n = ::recv(raw_, buf, sizeof buf, 0);
      if (n < 28) continue;
      size_t ihl = size_t(buf[0] & 0x0f) * 4;
      if (buf[ihl] == 8) return std::vector<uint8_t>(buf + ihl, buf + n);
    }
  }

  void send_reply(std::vector<uint8_t> msg, const std::function<void(std::vector<uint8_t>&)>& mutate) {
    msg[0] = 0;  // echo reply
    mutate(msg);
    msg[2] = msg[3] = 0;
    uint16_t c = checksum(msg.data(), msg.size());
    msg[2] = uint8_t(c >> 8);
    msg[3] = uint8_t(c);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    inet_pton(AF_INET, "10.99.0.2", &to.sin_addr);
    ASSERT_EQ(::sendto(raw_, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              ssize_t(msg.size()));
  }

  // One round against the spoofer; the reply is read at `reply_after_ms`
  // (fake clock) so late replies can be tested too.
  RoundResult spoofed_round(Prober& p, const std::function<void(std::vector<uint8_t>&)>& mutate,
                            uint64_t reply_after_ms = 1) {
    uint64_t t0 = now_ns();
    p.send_round(1, t0);
    std::vector<uint8_t> req = capture_request();
    EXPECT_GE(req.size(), 24u) << "the peer saw no echo request";
    if (req.size() >= 24) send_reply(req, mutate);
    std::vector<int> fds = p.fds();
    pollfd pf{fds.at(0), POLLIN, 0};
    if (::poll(&pf, 1, 1000) == 1) p.on_readable(pf.fd, t0 + reply_after_ms * kMs);
    std::vector<FinishedRound> done = p.collect(t0 + 400 * kMs);
    EXPECT_EQ(done.size(), 1u);
    return done.empty() ? RoundResult{} : done[0].result;
  }

  int raw_ = -1;
};

TEST_F(ProberSpoofTest, FaithfulReplyCounts) {
  // Guards the tests below: the spoofer itself works.
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1"})});
  RoundResult r = spoofed_round(p, [](std::vector<uint8_t>&) {}, 3);
  EXPECT_EQ(r.answered, 1u);
  ASSERT_EQ(r.rtt_us.size(), 1u);
  EXPECT_EQ(r.rtt_us[0], 3000u);  // RTT from the times passed in
  EXPECT_EQ(p.ignored_replies(), 0u);
}

TEST_F(ProberSpoofTest, WrongCookieIsIgnored) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1"})});
  RoundResult r = spoofed_round(p, [](std::vector<uint8_t>& m) { m[8] ^= 0xff; });
  EXPECT_EQ(r.sent, 1u);
  EXPECT_EQ(r.answered, 0u);
  EXPECT_GT(p.ignored_replies(), 0u);
}

TEST_F(ProberSpoofTest, WrongWanIdIsIgnored) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1"})});
  RoundResult r = spoofed_round(p, [](std::vector<uint8_t>& m) { m[19] ^= 0x01; });
  EXPECT_EQ(r.answered, 0u);
  EXPECT_GT(p.ignored_replies(), 0u);
}

TEST_F(ProberSpoofTest, SequenceNotInFlightIsIgnored) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1"})});
  // Consistent header and payload, but a sequence never sent.
  RoundResult r = spoofed_round(p, [](std::vector<uint8_t>& m) {
    m[7] ^= 0x40;
    m[23] ^= 0x40;
  });
  EXPECT_EQ(r.answered, 0u);
  EXPECT_GT(p.ignored_replies(), 0u);
}

TEST_F(ProberSpoofTest, WrongIdentifierIsIgnored) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1"})});
  RoundResult r = spoofed_round(p, [](std::vector<uint8_t>& m) { m[4] ^= 0x01; });
  EXPECT_EQ(r.answered, 0u);
  EXPECT_GT(p.ignored_replies(), 0u);
}

TEST_F(ProberSpoofTest, LateReplyIsIgnored) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1"})});
  // Faithful reply, but read after the 400 ms timeout.
  RoundResult r = spoofed_round(p, [](std::vector<uint8_t>&) {}, 400);
  EXPECT_EQ(r.answered, 0u);
  EXPECT_EQ(p.ignored_replies(), 1u);
}

TEST_F(ProberSpoofTest, AnotherRunsCookieIsIgnored) {
  // A reply meant for a previous agent run (different cookie) never matches.
  Prober old_run(kCookie ^ 1);
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1"})});
  old_run.configure({spec(1, "wan1", {"10.99.0.1"})});
  RoundResult r = spoofed_round(old_run, [](std::vector<uint8_t>&) {});
  EXPECT_EQ(r.answered, 1u);
  for (int fd : p.fds()) p.on_readable(fd, now_ns());
  EXPECT_EQ(p.ignored_replies(), 1u);  // p saw old_run's reply and rejected it
}

TEST_F(ProberTest, ArpRoundToGatewayPasses) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1"}, ProbeMethod::Arp)});
  EXPECT_EQ(p.fds().size(), 1u);
  for (int i = 0; i < 3; ++i) expect_passed(run_round(p, 1, 400), 1, 400);
}

TEST_F(ProberTest, ArpToDeadAddressFails) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.77"}, ProbeMethod::Arp, 300)});
  auto r = run_round(p, 1, 300);
  expect_lost(r, 1);
  EXPECT_GE(r->after_ns, 300 * kMs);
}

TEST_F(ProberTest, ArpWithoutOwnIpv4AddressFails) {
  ASSERT_EQ(sh("ip addr flush dev wan1"), 0);
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1"}, ProbeMethod::Arp)});
  expect_lost(run_round(p, 1, 400), 1);
}

TEST_F(ProberTest, ChangedSpecDropsRoundsInFlight) {
  Prober p(kCookie);
  ProbeSpec s = spec(1, "wan1", {"10.99.0.77"}, ProbeMethod::Icmp, 200);
  p.configure({s});
  std::vector<int> before = p.fds();
  uint64_t t0 = now_ns();
  p.send_round(1, t0);

  p.configure({s});  // unchanged: same socket, round kept
  EXPECT_EQ(p.fds(), before);
  EXPECT_EQ(p.collect(t0 + 200 * kMs).size(), 1u);

  p.send_round(1, t0);
  s.timeout_ms = 250;
  p.configure({s});  // changed: fresh socket, round dropped
  EXPECT_EQ(p.fds().size(), 1u);
  EXPECT_TRUE(p.collect(t0 + 10000 * kMs).empty());

  p.send_round(1, t0);
  p.configure({});  // removed: no sockets, round dropped
  EXPECT_TRUE(p.fds().empty());
  EXPECT_TRUE(p.collect(t0 + 10000 * kMs).empty());
  p.send_round(1, t0);  // unknown WAN: ignored
  EXPECT_TRUE(p.collect(t0 + 10000 * kMs).empty());
}

TEST_F(ProberTest, MethodNoneOpensNothing) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1"}, ProbeMethod::None)});
  EXPECT_TRUE(p.fds().empty());
  p.send_round(1, now_ns());
  EXPECT_TRUE(p.collect(now_ns() + 10000 * kMs).empty());
}

TEST_F(ProberTest, BadInterfaceNamesTheWan) {
  Prober p(kCookie);
  p.configure({spec(1, "wan1", {"10.99.0.1"})});
  std::vector<int> before = p.fds();
  for (ProbeMethod m : {ProbeMethod::Icmp, ProbeMethod::Arp}) {
    try {
      p.configure({spec(1, "wan1", {"10.99.0.1"}), spec(7, "nosuch0", {"10.99.0.1"}, m)});
      ADD_FAILURE() << "configure accepted a missing interface";
    } catch (const std::runtime_error& e) {
      std::string what = e.what();
      EXPECT_NE(what.find("WAN 7"), std::string::npos) << what;
      EXPECT_NE(what.find("nosuch0"), std::string::npos) << what;
      EXPECT_NE(what.find("No such device"), std::string::npos) << what;
    }
    // A failed configure changes nothing.
    EXPECT_EQ(p.fds(), before);
  }
  expect_passed(run_round(p, 1, 400), 1, 400);
}

}  // namespace
}  // namespace wanlb

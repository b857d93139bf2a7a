// Health probes per WAN: ICMP/ICMPv6 echo over raw sockets, ARP over a
// packet socket. See prober.h.
//
// Echo payload (32 bytes, big-endian): cookie(8) wan_id(4) seq(4) zeros(16).
//
// Probes are numbered by one counter for the whole Prober, so a sequence
// number is never reused while the process runs: a late reply to a probe
// of a closed socket, a dropped round or a removed WAN can never match a
// newer probe. ICMP carries the low 16 bits; the payload carries all 32.
//
// Rounds of a WAN are reported in the order they were sent (a later round
// that completed early waits for an earlier one that is still open), so
// the health machine sees "N in a row" in real order.
#include "prober.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>  // before linux/icmp.h: glibc's net/if.h must come first
#include <linux/icmp.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/if_ether.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <utility>

namespace wanlb {

namespace {

constexpr size_t kEchoHeader = 8;     // type, code, checksum, identifier, sequence
constexpr size_t kPayload = 32;       // cookie(8) wan_id(4) seq(4) padding
constexpr size_t kMatchedPayload = 16;  // the part of the payload we check
constexpr uint8_t kIcmp4EchoRequest = ICMP_ECHO;
constexpr uint8_t kIcmp4EchoReply = ICMP_ECHOREPLY;

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { reset(); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

void put_be(uint8_t* p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

uint64_t get_be(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

// RFC 1071 Internet checksum (IPv4 ICMP has no pseudo-header).
uint16_t inet_checksum(const uint8_t* p, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t(p[i]) << 8) | p[i + 1];
  if (len & 1) sum += uint32_t(p[len - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// A per-WAN identifier that differs between agent runs (cookie) so replies
// to a previous run's probes are rejected before even looking at the payload.
uint16_t echo_ident(uint64_t cookie, uint32_t wan_id) {
  uint64_t x = cookie ^ (uint64_t(wan_id) * 0x9E3779B97F4A7C15ull);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return static_cast<uint16_t>(x);
}

std::vector<uint8_t> echo_request(uint8_t type, uint16_t ident, uint32_t seq, uint64_t cookie,
                                  uint32_t wan_id) {
  std::vector<uint8_t> pkt(kEchoHeader + kPayload, 0);
  pkt[0] = type;
  put_be(&pkt[4], ident, 2);
  put_be(&pkt[6], seq & 0xffff, 2);
  put_be(&pkt[8], cookie, 8);
  put_be(&pkt[16], wan_id, 4);
  put_be(&pkt[20], seq, 4);
  return pkt;
}

struct Probe {
  IpAddr target;
  uint32_t seq = 0;
  uint64_t sent_ns = 0;
  bool settled = false;  // answered, or could not be sent (lost at once)
  bool answered = false;
  uint32_t rtt_us = 0;
};

struct Round {
  uint64_t deadline_ns = 0;
  std::vector<Probe> probes;

  bool finished(uint64_t now_ns) const {
    if (now_ns >= deadline_ns) return true;
    for (const Probe& p : probes)
      if (!p.settled) return false;
    return true;
  }
};

struct Wan {
  ProbeSpec spec;
  unsigned ifindex = 0;
  uint16_t ident = 0;
  UniqueFd icmp4, icmp6, arp;
  std::deque<Round> rounds;
};

[[noreturn]] void fail(const ProbeSpec& s, const std::string& what, int err) {
  throw std::runtime_error("probe socket for WAN " + std::to_string(s.wan_id) + " on " + s.ifname + ": " +
                           what + ": " + std::strerror(err));
}

UniqueFd open_socket(const ProbeSpec& s, int domain, int type, int proto) {
  UniqueFd fd(::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto));
  if (!fd) fail(s, "socket", errno);
  return fd;
}

// Interface + fwmark: the packet leaves through this WAN's routing table only,
// and the socket only sees packets that arrived on this WAN's interface.
void pin_to_wan(const ProbeSpec& s, int fd) {
  if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, s.ifname.c_str(), s.ifname.size()) != 0)
    fail(s, "SO_BINDTODEVICE", errno);
  if (::setsockopt(fd, SOL_SOCKET, SO_MARK, &s.mark, sizeof s.mark) != 0) fail(s, "SO_MARK", errno);
}

UniqueFd open_icmp4(const ProbeSpec& s) {
  UniqueFd fd = open_socket(s, AF_INET, SOCK_RAW, IPPROTO_ICMP);
  // A raw ICMP socket gets a copy of every ICMP packet; only echo replies matter.
  icmp_filter filter{};
  filter.data = ~(1u << kIcmp4EchoReply);
  if (::setsockopt(fd.get(), SOL_RAW, ICMP_FILTER, &filter, sizeof filter) != 0)
    fail(s, "ICMP_FILTER", errno);
  pin_to_wan(s, fd.get());
  return fd;
}

UniqueFd open_icmp6(const ProbeSpec& s) {
  UniqueFd fd = open_socket(s, AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
  icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
  if (::setsockopt(fd.get(), IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0)
    fail(s, "ICMP6_FILTER", errno);
  pin_to_wan(s, fd.get());
  return fd;
}

UniqueFd open_arp(const ProbeSpec& s, unsigned ifindex) {
  UniqueFd fd = open_socket(s, AF_PACKET, SOCK_DGRAM, htons(ETH_P_ARP));
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ARP);
  sll.sll_ifindex = static_cast<int>(ifindex);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) fail(s, "bind", errno);
  return fd;
}

bool has_family(const ProbeSpec& s, int family) {
  for (const IpAddr& t : s.targets)
    if (t.family == family) return true;
  return false;
}

// Opens the sockets the spec needs. Throws naming the WAN and interface.
Wan open_wan(const ProbeSpec& s, uint64_t cookie) {
  Wan w;
  w.spec = s;
  w.ident = echo_ident(cookie, s.wan_id);
  if (s.method == ProbeMethod::None) return w;
  w.ifindex = ::if_nametoindex(s.ifname.c_str());
  if (w.ifindex == 0) fail(s, "interface", errno);
  if (s.method == ProbeMethod::Arp) {
    w.arp = open_arp(s, w.ifindex);
    return w;
  }
  if (has_family(s, AF_INET)) w.icmp4 = open_icmp4(s);
  if (has_family(s, AF_INET6)) w.icmp6 = open_icmp6(s);
  return w;
}

bool send_to(int fd, const void* buf, size_t len, const sockaddr* sa, socklen_t salen) {
  ssize_t n = ::sendto(fd, buf, len, 0, sa, salen);
  return n == static_cast<ssize_t>(len);
}

bool send_icmp4(const Wan& w, const Probe& p, uint64_t cookie) {
  std::vector<uint8_t> pkt = echo_request(kIcmp4EchoRequest, w.ident, p.seq, cookie, w.spec.wan_id);
  put_be(&pkt[2], inet_checksum(pkt.data(), pkt.size()), 2);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  std::memcpy(&sin.sin_addr, p.target.bytes.data(), 4);
  return send_to(w.icmp4.get(), pkt.data(), pkt.size(), reinterpret_cast<sockaddr*>(&sin), sizeof sin);
}

bool send_icmp6(const Wan& w, const Probe& p, uint64_t cookie) {
  // The kernel fills in the ICMPv6 checksum (IPV6_CHECKSUM is on for raw ICMPv6).
  std::vector<uint8_t> pkt = echo_request(ICMP6_ECHO_REQUEST, w.ident, p.seq, cookie, w.spec.wan_id);
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  std::memcpy(&sin6.sin6_addr, p.target.bytes.data(), 16);
  // Gateways are often link-local; those need the interface as scope.
  if (IN6_IS_ADDR_LINKLOCAL(&sin6.sin6_addr)) sin6.sin6_scope_id = w.ifindex;
  return send_to(w.icmp6.get(), pkt.data(), pkt.size(), reinterpret_cast<sockaddr*>(&sin6), sizeof sin6);
}

// Our MAC and first IPv4 address on `ifname`, read now: DHCP may have
// changed the address since configure().
bool local_addresses(const std::string& ifname, uint8_t mac[6], uint8_t ip[4]) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool have_mac = false, have_ip = false;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || ifname != a->ifa_name) continue;
    if (a->ifa_addr->sa_family == AF_PACKET && !have_mac) {
      auto* ll = reinterpret_cast<sockaddr_ll*>(a->ifa_addr);
      if (ll->sll_halen != 6) continue;  // not Ethernet: no ARP
      std::memcpy(mac, ll->sll_addr, 6);
      have_mac = true;
    } else if (a->ifa_addr->sa_family == AF_INET && !have_ip) {
      std::memcpy(ip, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, 4);
      have_ip = true;
    }
  }
  ::freeifaddrs(list);
  return have_mac && have_ip;
}

bool send_arp(const Wan& w, const Probe& p) {
  if (p.target.family != AF_INET) return false;
  ether_arp req{};
  if (!local_addresses(w.spec.ifname, req.arp_sha, req.arp_spa)) return false;
  req.arp_hrd = htons(ARPHRD_ETHER);
  req.arp_pro = htons(ETHERTYPE_IP);
  req.arp_hln = 6;
  req.arp_pln = 4;
  req.arp_op = htons(ARPOP_REQUEST);
  std::memcpy(req.arp_tpa, p.target.bytes.data(), 4);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = static_cast<int>(w.ifindex);
  to.sll_halen = 6;
  std::memset(to.sll_addr, 0xff, 6);
  return send_to(w.arp.get(), &req, sizeof req, reinterpret_cast<sockaddr*>(&to), sizeof to);
}

bool send_probe(const Wan& w, const Probe& p, uint64_t cookie) {
  if (w.spec.method == ProbeMethod::Arp) return send_arp(w, p);
  if (p.target.family == AF_INET && w.icmp4) return send_icmp4(w, p, cookie);
  if (p.target.family == AF_INET6 && w.icmp6) return send_icmp6(w, p, cookie);
  return false;
}

RoundResult result_of(const Round& r) {
  RoundResult out;
  out.sent = static_cast<uint32_t>(r.probes.size());
  for (const Probe& p : r.probes) {
    if (!p.answered) continue;
    ++out.answered;
    out.rtt_us.push_back(p.rtt_us);
  }
  return out;
}

void answer(Probe& p, uint64_t now_ns) {
  p.answered = p.settled = true;
  p.rtt_us = static_cast<uint32_t>((now_ns > p.sent_ns ? now_ns - p.sent_ns : 0) / 1000);
}

IpAddr ipv4_at(const uint8_t* p) {
  IpAddr a;
  a.family = AF_INET;
  std::memcpy(a.bytes.data(), p, 4);
  return a;
}

}  // namespace

struct Prober::Impl {
  uint64_t cookie;
  uint32_t next_seq = 1;
  uint64_t ignored = 0;
  std::map<uint32_t, Wan> wans;

  explicit Impl(uint64_t c) : cookie(c) {}

  // The unanswered probe of this WAN with sequence `seq` whose round is still open.
  Probe* open_probe(Wan& w, uint32_t seq, uint64_t now_ns) {
    for (Round& r : w.rounds) {
      if (now_ns >= r.deadline_ns) continue;  // late: the round already counts as lost
      for (Probe& p : r.probes)
        if (p.seq == seq && !p.settled) return &p;
    }
    return nullptr;
  }

  // Oldest open ARP probe for `from`: ARP replies carry no sequence, and a
  // gateway answers requests in order.
  Probe* open_arp_probe(Wan& w, const IpAddr& from, uint64_t now_ns) {
    for (Round& r : w.rounds) {
      if (now_ns >= r.deadline_ns) continue;
      for (Probe& p : r.probes)
        if (p.target == from && !p.settled) return &p;
    }
    return nullptr;
  }

  // `icmp` is the ICMP(v6) message; true if it answered a probe.
  bool match_echo(Wan& w, const IpAddr& from, uint8_t reply_type, const uint8_t* icmp, size_t len,
                  uint64_t now_ns) {
    if (len < kEchoHeader + kMatchedPayload || icmp[0] != reply_type) return false;
    if (get_be(icmp + 4, 2) != w.ident) return false;
    const uint8_t* payload = icmp + kEchoHeader;
    uint32_t seq = static_cast<uint32_t>(get_be(payload + 12, 4));
    if (get_be(payload, 8) != cookie || get_be(payload + 8, 4) != w.spec.wan_id ||
        get_be(icmp + 6, 2) != (seq & 0xffff))
      return false;
    Probe* p = open_probe(w, seq, now_ns);
    if (!p || !(p->target == from)) return false;
    answer(*p, now_ns);
    return true;
  }

  void read_icmp4(Wan& w, const uint8_t* buf, size_t len, uint64_t now_ns) {
    // IPv4 raw sockets deliver the IP header too.
    size_t ihl = len ? size_t(buf[0] & 0x0f) * 4 : 0;
    bool ok = len >= 20 && ihl >= 20 && len >= ihl &&
              match_echo(w, ipv4_at(buf + 12), kIcmp4EchoReply, buf + ihl, len - ihl, now_ns);
    if (!ok) ++ignored;
  }

  void read_icmp6(Wan& w, const uint8_t* buf, size_t len, const sockaddr_in6& from, uint64_t now_ns) {
    IpAddr src;
    src.family = AF_INET6;
    std::memcpy(src.bytes.data(), &from.sin6_addr, 16);
    if (!match_echo(w, src, ICMP6_ECHO_REPLY, buf, len, now_ns)) ++ignored;
  }

  void read_arp(Wan& w, const uint8_t* buf, size_t len, const sockaddr_ll& from, uint64_t now_ns) {
    // The socket also sees our own requests and everyone's ARP chatter;
    // only replies are candidates, so only unmatched replies count as ignored.
    if (from.sll_pkttype == PACKET_OUTGOING || len < sizeof(ether_arp)) return;
    ether_arp a;
    std::memcpy(&a, buf, sizeof a);
    if (ntohs(a.arp_op) != ARPOP_REPLY) return;
    bool ok = ntohs(a.arp_pro) == ETHERTYPE_IP && a.arp_pln == 4;
    Probe* p = ok ? open_arp_probe(w, ipv4_at(a.arp_spa), now_ns) : nullptr;
    if (p)
      answer(*p, now_ns);
    else
      ++ignored;
  }

  // Reads one datagram; false when the socket is drained (or failing).
  bool read_one(Wan& w, int fd, uint64_t now_ns) {
    uint8_t buf[2048];
    sockaddr_storage from{};
    socklen_t fromlen = sizeof from;
    ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fromlen);
    if (n < 0) return errno == EINTR;
    size_t len = static_cast<size_t>(n);
    if (fd == w.icmp4.get())
      read_icmp4(w, buf, len, now_ns);
    else if (fd == w.icmp6.get())
      read_icmp6(w, buf, len, reinterpret_cast<const sockaddr_in6&>(from), now_ns);
    else
      read_arp(w, buf, len, reinterpret_cast<const sockaddr_ll&>(from), now_ns);
    return true;
  }

  Wan* owner_of(int fd) {
    for (auto& [id, w] : wans)
      if (fd >= 0 && (fd == w.icmp4.get() || fd == w.icmp6.get() || fd == w.arp.get())) return &w;
    return nullptr;
  }

  // SO_BINDTODEVICE and the packet socket hold an ifindex; a PPPoE or VLAN
  // interface that was deleted and recreated has a new one, and the old
  // sockets would fail forever. Reopen then (the fds change).
  void follow_recreated_interface(Wan& w) {
    unsigned now_index = ::if_nametoindex(w.spec.ifname.c_str());
    if (now_index == 0 || now_index == w.ifindex) return;
    try {
      w = open_wan(w.spec, cookie);
    } catch (const std::runtime_error&) {
      // Leave the old sockets: the probes fail and the WAN goes down.
    }
  }
};

Prober::Prober(uint64_t cookie) : impl_(std::make_unique<Impl>(cookie)) {}
Prober::~Prober() = default;

void Prober::configure(const std::vector<ProbeSpec>& specs) {
  // Open every new socket first: if one fails, nothing has changed.
  std::map<uint32_t, Wan> next;
  for (const ProbeSpec& s : specs) {
    auto old = impl_->wans.find(s.wan_id);
    if ((old == impl_->wans.end() || !(old->second.spec == s)) && !next.count(s.wan_id))
      next.emplace(s.wan_id, open_wan(s, impl_->cookie));
  }
  for (const ProbeSpec& s : specs)
    if (!next.count(s.wan_id)) next.emplace(s.wan_id, std::move(impl_->wans.at(s.wan_id)));
  impl_->wans = std::move(next);  // closes the sockets of changed and removed WANs
}

void Prober::send_round(uint32_t wan_id, uint64_t now_ns) {
  auto it = impl_->wans.find(wan_id);
  if (it == impl_->wans.end()) return;
  Wan& w = it->second;
  if (w.spec.method == ProbeMethod::None || w.spec.targets.empty()) return;
  impl_->follow_recreated_interface(w);
  Round r;
  r.deadline_ns = now_ns + uint64_t(w.spec.timeout_ms) * 1000000;
  for (const IpAddr& target : w.spec.targets) {
    Probe p;
    p.target = target;
    p.seq = impl_->next_seq++;
    p.sent_ns = now_ns;
    p.settled = !send_probe(w, p, impl_->cookie);  // a send error is a lost probe
    r.probes.push_back(p);
  }
  w.rounds.push_back(std::move(r));
}

std::vector<int> Prober::fds() const {
  std::vector<int> out;
  for (const auto& [id, w] : impl_->wans)
    for (const UniqueFd* fd : {&w.icmp4, &w.icmp6, &w.arp})
      if (*fd) out.push_back(fd->get());
  return out;
}

void Prober::on_readable(int fd, uint64_t now_ns) {
  Wan* w = impl_->owner_of(fd);
  if (!w) return;
  while (impl_->read_one(*w, fd, now_ns)) {
  }
}

std::vector<FinishedRound> Prober::collect(uint64_t now_ns) {
  std::vector<FinishedRound> out;
  for (auto& [id, w] : impl_->wans) {
    while (!w.rounds.empty() && w.rounds.front().finished(now_ns)) {
      out.push_back(FinishedRound{id, result_of(w.rounds.front())});
      w.rounds.pop_front();
    }
  }
  return out;
}

uint64_t Prober::ignored_replies() const { return impl_->ignored; }

}  // namespace wanlb

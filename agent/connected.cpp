// Connected networks and local addresses from netlink. See connected.h.
#include "connected.h"

#include "nl_ptr.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace wanlb {

namespace {

using SockPtr = NlSockPtr;
using CachePtr = NlCachePtr;

constexpr uint32_t kMainTable = 254;     // RT_TABLE_MAIN
constexpr uint8_t kProtoKernel = 2;      // RTPROT_KERNEL: routes the kernel made for an address

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + nl_geterror(err));
}

SockPtr connect_route() {
  SockPtr sk(nl_socket_alloc());
  if (!sk) throw std::runtime_error("cannot allocate a netlink socket");
  int err = nl_connect(sk.get(), NETLINK_ROUTE);
  if (err < 0) fail("cannot open rtnetlink socket", err);
  return sk;
}

// Prefix of `a` with prefix length `len`, host bits cleared; false if not IPv4/IPv6.
bool to_prefix(nl_addr* a, unsigned len, Prefix* out) {
  int family = nl_addr_get_family(a);
  unsigned bytes = nl_addr_get_len(a);
  if (!((family == AF_INET && bytes == 4) || (family == AF_INET6 && bytes == 16))) return false;
  if (len > bytes * 8) return false;
  Prefix p;
  p.addr.family = family;
  const auto* data = static_cast<const uint8_t*>(nl_addr_get_binary_addr(a));
  std::copy(data, data + bytes, p.addr.bytes.begin());
  for (unsigned bit = len; bit < bytes * 8; ++bit) p.addr.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  p.len = static_cast<uint8_t>(len);
  *out = p;
  return true;
}

bool is_v6_link_local(const Prefix& p) {
  return p.addr.family == AF_INET6 && p.addr.bytes[0] == 0xfe && (p.addr.bytes[1] & 0xc0) == 0x80;
}

bool is_multicast(const Prefix& p) {
  if (p.addr.family == AF_INET) return (p.addr.bytes[0] & 0xf0) == 0xe0;  // 224.0.0.0/4
  return p.addr.bytes[0] == 0xff;                                         // ff00::/8
}

void add_unique(std::vector<Prefix>* v, const Prefix& p) {
  if (std::find(v->begin(), v->end(), p) == v->end()) v->push_back(p);
}

// On-link networks: what the kernel put in main for each address. IPv4 ones
// are scope link; IPv6 routes always report scope universe, so for IPv6 the
// test is "no gateway" instead.
bool is_connected_route(rtnl_route* r) {
  if (rtnl_route_get_table(r) != kMainTable || rtnl_route_get_protocol(r) != kProtoKernel) return false;
  if (rtnl_route_get_type(r) != RTN_UNICAST) return false;
  if (rtnl_route_get_family(r) == AF_INET) return rtnl_route_get_scope(r) == RT_SCOPE_LINK;
  for (int i = 0; i < rtnl_route_get_nnexthops(r); ++i)
    if (rtnl_route_nh_get_gateway(rtnl_route_nexthop_n(r, i))) return false;
  return true;
}

void read_routes(nl_sock* sk, ConnectedSet* out) {
  nl_cache* raw = nullptr;
  int err = rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &raw);
  if (err < 0) fail("cannot dump routes", err);
  CachePtr cache(raw);
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    nl_addr* dst = rtnl_route_get_dst(r);
    Prefix p;
    if (!dst || !is_connected_route(r) || !to_prefix(dst, nl_addr_get_prefixlen(dst), &p)) continue;
    // A /0 here would exempt everything from balancing; never treat it as connected.
    if (p.len == 0 || is_multicast(p)) continue;
    if (p.addr.family == AF_INET6 && p.len >= 10 && is_v6_link_local(p)) continue;
    add_unique(&out->connected, p);
  }
}

void read_addrs(nl_sock* sk, ConnectedSet* out) {
  nl_cache* raw = nullptr;
  int err = rtnl_addr_alloc_cache(sk, &raw);
  if (err < 0) fail("cannot dump addresses", err);
  CachePtr cache(raw);
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    nl_addr* local = rtnl_addr_get_local(reinterpret_cast<rtnl_addr*>(o));
    Prefix p;
    if (!local || !to_prefix(local, nl_addr_get_len(local) * 8, &p)) continue;
    if (is_v6_link_local(p)) continue;  // fe80::/10: scoped to a link, never a routed destination
    add_unique(&out->local, p);
  }
}

}  // namespace

std::optional<IpAddr> main_default_gateway(int ifindex, int family) {
  SockPtr sk = connect_route();
  nl_cache* raw = nullptr;
  int err = rtnl_route_alloc_cache(sk.get(), family, 0, &raw);
  if (err < 0) fail("cannot dump routes", err);
  CachePtr cache(raw);
  std::optional<IpAddr> best;
  uint32_t best_metric = UINT32_MAX;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    nl_addr* dst = rtnl_route_get_dst(r);
    if (rtnl_route_get_table(r) != kMainTable || (dst && nl_addr_get_prefixlen(dst) != 0)) continue;
    if (rtnl_route_get_nnexthops(r) != 1) continue;
    rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
    nl_addr* gw = rtnl_route_nh_get_gateway(nh);
    Prefix p;
    if (rtnl_route_nh_get_ifindex(nh) != ifindex || !gw || !to_prefix(gw, nl_addr_get_len(gw) * 8, &p)) continue;
    // Several defaults on one interface: the one the kernel prefers (lowest metric).
    if (rtnl_route_get_priority(r) >= best_metric) continue;
    best_metric = rtnl_route_get_priority(r);
    best = p.addr;
  }
  return best;
}

std::vector<IpAddr> interface_addresses(int ifindex) {
  SockPtr sk = connect_route();
  nl_cache* raw = nullptr;
  int err = rtnl_addr_alloc_cache(sk.get(), &raw);
  if (err < 0) fail("cannot dump addresses", err);
  CachePtr cache(raw);
  std::vector<IpAddr> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    nl_addr* local = rtnl_addr_get_local(a);
    Prefix p;
    if (rtnl_addr_get_ifindex(a) != ifindex || !local || !to_prefix(local, nl_addr_get_len(local) * 8, &p)) continue;
    if (!is_v6_link_local(p)) out.push_back(p.addr);
  }
  return out;
}

bool interface_carrier(const std::string& ifname) {
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return false;
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname.c_str());
  bool ok = ::ioctl(sock, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
  ::close(sock);
  return ok;
}

ConnectedSet read_connected() {
  SockPtr sk = connect_route();
  ConnectedSet set;
  read_routes(sk.get(), &set);
  read_addrs(sk.get(), &set);
  return set;
}

// ------------------------------------------------------------ ConnectedWatcher

struct ConnectedWatcher::Impl {
  SockPtr sk;
  unsigned seen = 0;  // ConnectedWatcher::k* bits of the messages of one drain()
};

namespace {
int note_message(nl_msg* msg, void* arg) {
  uint16_t type = nlmsg_hdr(msg)->nlmsg_type;
  bool link = type == RTM_NEWLINK || type == RTM_DELLINK;
  *static_cast<unsigned*>(arg) |= link ? ConnectedWatcher::kLink : ConnectedWatcher::kAddrRoute;
  return NL_OK;
}
}  // namespace

ConnectedWatcher::ConnectedWatcher() : impl_(new Impl) {
  std::unique_ptr<Impl> guard(impl_);
  impl_->sk.reset(nl_socket_alloc());
  nl_sock* sk = impl_->sk.get();
  if (!sk) throw std::runtime_error("cannot allocate a netlink socket");
  // Notifications are not replies to our requests: no sequence numbers to check.
  nl_socket_disable_seq_check(sk);
  nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, note_message, &impl_->seen);
  int err = nl_connect(sk, NETLINK_ROUTE);
  if (err < 0) fail("cannot open rtnetlink socket", err);
  err = nl_socket_add_memberships(sk, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE,
                                  RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK, 0);
  if (err < 0) fail("cannot subscribe to address/route notifications", err);
  err = nl_socket_set_nonblocking(sk);
  if (err < 0) fail("cannot make the netlink socket non-blocking", err);
  guard.release();
}

ConnectedWatcher::~ConnectedWatcher() { delete impl_; }

int ConnectedWatcher::fd() const { return nl_socket_get_fd(impl_->sk.get()); }

unsigned ConnectedWatcher::drain() {
  impl_->seen = 0;
  nl_sock* sk = impl_->sk.get();
  for (;;) {
    // _report returns how many messages one datagram held (0: nothing left;
    // libnl < 3.5 reports EAGAIN that way, newer ones as -NLE_AGAIN).
    nl_cb* cb = nl_socket_get_cb(sk);
    int n = nl_recvmsgs_report(sk, cb);
    nl_cb_put(cb);
    if (n > 0) continue;
    if (n == 0 || n == -NLE_AGAIN) break;
    // Anything else (typically ENOBUFS -> NLE_NOMEM: the kernel dropped
    // notifications because we were slow) means we no longer know what
    // changed, so the caller must re-read everything.
    return kLink | kAddrRoute;
  }
  return impl_->seen;
}

}  // namespace wanlb

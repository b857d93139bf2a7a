// Policy routing over netlink (libnl-route-3). See routing.h.
//
// Dumps are done by hand (RTM_GET* + nl_msg_parse) rather than through
// rtnl_route_alloc_cache(): the route cache hashes objects by (family, tos,
// table, dst, priority) and silently drops a second object with the same key,
// so a foreign route sharing a key with ours could hide ours (or vice versa).
// A plain dump sees every entry of every table exactly as the kernel has it.
#include "routing.h"

#include "nl_ptr.h"

#include <linux/fib_rules.h>
#include <net/if.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/route/rtnl.h>
#include <netlink/route/rule.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>

namespace wanlb {

namespace {

using ObjPtr = NlObjPtr;
using RulePtr = NlRulePtr;
using RoutePtr = NlRoutePtr;
using AddrPtr = NlAddrPtr;

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + nl_geterror(err));
}

const char* family_name(int family) { return family == AF_INET6 ? "inet6" : "inet"; }

std::string ifname(int ifindex) {
  char buf[IF_NAMESIZE] = "";
  if (if_indextoname(static_cast<unsigned>(ifindex), buf)) return buf;
  return "if" + std::to_string(ifindex);  // interface gone; still say which one
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

std::string describe(const FwmarkRule& r) {
  return "rule fwmark " + hex(r.mark) + "/" + hex(r.mask) + " lookup " + std::to_string(r.table) + " pref " +
         std::to_string(r.priority) + " (" + family_name(r.family) + ")";
}

std::string describe(const WanRoute& r) {
  std::string s = "route default";
  if (r.has_gateway) s += " via " + r.gateway.str();
  s += " dev " + ifname(r.ifindex);
  if (!r.has_gateway) s += " scope link";
  s += " table " + std::to_string(r.table);
  // With a gateway the address already shows the family.
  if (!r.has_gateway) s += std::string(" (") + family_name(r.family) + ")";
  return s;
}

AddrPtr to_nl_addr(const IpAddr& a) {
  size_t len = a.family == AF_INET6 ? 16 : 4;
  nl_addr* p = nl_addr_build(a.family, a.bytes.data(), len);
  if (!p) throw std::runtime_error("out of memory building a netlink address");
  return AddrPtr(p);
}

IpAddr from_nl_addr(nl_addr* a) {
  IpAddr out;
  unsigned len = nl_addr_get_len(a);
  if (len != 4 && len != 16) return out;
  out.family = nl_addr_get_family(a);
  const auto* data = static_cast<const uint8_t*>(nl_addr_get_binary_addr(a));
  std::copy(data, data + len, out.bytes.begin());
  return out;
}

// ---------------------------------------------------------------- dumping

void collect(nl_object* obj, void* arg) {
  nl_object_get(obj);
  static_cast<std::vector<ObjPtr>*>(arg)->emplace_back(obj);
}

int on_valid(nl_msg* msg, void* arg) {
  nl_msg_parse(msg, collect, arg);  // unparsable messages are not ours anyway
  return NL_OK;
}

// Full dump of `type` (RTM_GETRULE / RTM_GETROUTE) for all families.
// `hdr` is the zeroed family header the request carries.
std::vector<ObjPtr> dump(nl_sock* sk, int type, const void* hdr, size_t hdrlen, const char* what) {
  for (int attempt = 0;; ++attempt) {
    std::vector<ObjPtr> out;
    int err = nl_send_simple(sk, type, NLM_F_DUMP, const_cast<void*>(hdr), hdrlen);
    if (err < 0) fail(std::string("cannot dump ") + what, err);
    // A private copy of the socket's callbacks, so ack/error handling stays
    // the default and only "valid message" goes to us.
    nl_cb* sock_cb = nl_socket_get_cb(sk);  // takes a reference
    NlCbPtr cb(nl_cb_clone(sock_cb));
    nl_cb_put(sock_cb);
    if (!cb) throw std::runtime_error("out of memory cloning a netlink callback");
    nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_valid, &out);
    err = nl_recvmsgs(sk, cb.get());
    if (err == -NLE_DUMP_INTR && attempt < 5) continue;  // table changed mid-dump: retry
    if (err < 0) fail(std::string("cannot dump ") + what, err);
    return out;
  }
}

bool has_protocol(rtnl_rule* r, uint8_t proto) {
  uint8_t p = 0;
  return rtnl_rule_get_protocol(r, &p) == 0 && p == proto;
}

FwmarkRule to_fwmark_rule(rtnl_rule* r) {
  FwmarkRule f;
  f.family = rtnl_rule_get_family(r);
  f.mark = rtnl_rule_get_mark(r);
  f.mask = rtnl_rule_get_mask(r);
  f.table = rtnl_rule_get_table(r);
  f.priority = rtnl_rule_get_prio(r);
  return f;
}

struct OurRule {
  FwmarkRule rule;
  RulePtr obj;
};

struct OurRoute {
  WanRoute route;
  bool plain = false;  // default destination and exactly one next hop (what we install)
  RoutePtr obj;
};

WanRoute to_wan_route(rtnl_route* r, bool* plain) {
  WanRoute w;
  w.family = rtnl_route_get_family(r);
  w.table = rtnl_route_get_table(r);
  nl_addr* dst = rtnl_route_get_dst(r);
  *plain = rtnl_route_get_nnexthops(r) == 1 && (!dst || nl_addr_get_prefixlen(dst) == 0);
  if (rtnl_route_get_nnexthops(r) >= 1) {
    rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
    w.ifindex = rtnl_route_nh_get_ifindex(nh);
    if (nl_addr* gw = rtnl_route_nh_get_gateway(nh)) {
      w.has_gateway = true;
      w.gateway = from_nl_addr(gw);
    }
  }
  return w;
}

std::string describe_obj(const OurRoute& r) {
  if (r.plain) return describe(r.route);
  // Something odd stamped with our protocol (not installed by us in this form).
  char dst[INET6_ADDRSTRLEN + 8] = "?";
  if (nl_addr* d = rtnl_route_get_dst(r.obj.get())) nl_addr2str(d, dst, sizeof dst);
  return std::string("route ") + dst + " table " + std::to_string(r.route.table) + " (" +
         family_name(r.route.family) + ")";
}

template <class T>
void dedupe(std::vector<T>* v) {
  std::vector<T> out;
  for (const auto& x : *v)
    if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
  *v = std::move(out);
}

}  // namespace

// ------------------------------------------------------------------ Routing

struct Routing::Impl {
  nl_sock* sk = nullptr;
  uint8_t proto = 0;

  ~Impl() {
    if (sk) nl_socket_free(sk);  // closes too
  }

  std::vector<OurRule> our_rules() {
    fib_rule_hdr hdr{};
    hdr.family = AF_UNSPEC;
    std::vector<OurRule> out;
    for (auto& o : dump(sk, RTM_GETRULE, &hdr, sizeof hdr, "rules")) {
      auto* r = reinterpret_cast<rtnl_rule*>(o.get());
      if (!has_protocol(r, proto)) continue;
      out.push_back({to_fwmark_rule(r), RulePtr(reinterpret_cast<rtnl_rule*>(o.release()))});
    }
    return out;
  }

  std::vector<OurRoute> our_routes() {
    rtmsg hdr{};
    hdr.rtm_family = AF_UNSPEC;
    std::vector<OurRoute> out;
    for (auto& o : dump(sk, RTM_GETROUTE, &hdr, sizeof hdr, "routes")) {
      auto* r = reinterpret_cast<rtnl_route*>(o.get());
      if (rtnl_route_get_protocol(r) != proto) continue;
      OurRoute our;
      our.route = to_wan_route(r, &our.plain);
      our.obj.reset(reinterpret_cast<rtnl_route*>(o.release()));
      out.push_back(std::move(our));
    }
    return out;
  }

  void add_rule(const FwmarkRule& f) {
    RulePtr r(rtnl_rule_alloc());
    if (!r) throw std::runtime_error("out of memory allocating a rule");
    rtnl_rule_set_family(r.get(), f.family);
    rtnl_rule_set_prio(r.get(), f.priority);
    rtnl_rule_set_mark(r.get(), f.mark);
    rtnl_rule_set_mask(r.get(), f.mask);
    rtnl_rule_set_table(r.get(), f.table);
    // libnl sends action 0 (FR_ACT_UNSPEC) unless told; the kernel would then
    // refuse every lookup through the rule (EINVAL), so say "lookup" explicitly.
    rtnl_rule_set_action(r.get(), FR_ACT_TO_TBL);
    rtnl_rule_set_protocol(r.get(), proto);
    int err = rtnl_rule_add(sk, r.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (err < 0) fail("cannot add " + describe(f), err);
  }

  void delete_rule(const OurRule& r) {
    int err = rtnl_rule_delete(sk, r.obj.get(), 0);
    if (err < 0) fail("cannot delete " + describe(r.rule), err);
  }

  // Add or replace the default route of `w.table` (NLM_F_REPLACE swaps a
  // changed gateway in place, without a window with no default route).
  void put_route(const WanRoute& w) {
    RoutePtr r(rtnl_route_alloc());
    if (!r) throw std::runtime_error("out of memory allocating a route");
    rtnl_route_set_family(r.get(), static_cast<uint8_t>(w.family));
    rtnl_route_set_table(r.get(), w.table);
    rtnl_route_set_protocol(r.get(), proto);
    rtnl_route_set_type(r.get(), RTN_UNICAST);
    rtnl_route_set_scope(r.get(), w.has_gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
    IpAddr any;
    any.family = w.family;
    AddrPtr dst = to_nl_addr(any);
    nl_addr_set_prefixlen(dst.get(), 0);
    int err = rtnl_route_set_dst(r.get(), dst.get());  // takes its own reference
    if (err < 0) fail("cannot build " + describe(w), err);
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    if (!nh) throw std::runtime_error("out of memory allocating a next hop");
    rtnl_route_nh_set_ifindex(nh, w.ifindex);
    if (w.has_gateway) {
      AddrPtr gw = to_nl_addr(w.gateway);
      rtnl_route_nh_set_gateway(nh, gw.get());  // takes its own reference
    }
    rtnl_route_add_nexthop(r.get(), nh);  // the route owns nh from here
    err = rtnl_route_add(sk, r.get(), NLM_F_CREATE | NLM_F_REPLACE);
    if (err < 0) fail("cannot install " + describe(w), err);
  }

  void delete_route(const OurRoute& r) {
    int err = rtnl_route_delete(sk, r.obj.get(), 0);
    if (err < 0) fail("cannot delete " + describe_obj(r), err);
  }

  void reconcile_rules(std::vector<FwmarkRule> plan, std::vector<std::string>* lines) {
    dedupe(&plan);
    auto have = our_rules();
    std::vector<bool> keep(have.size(), false);
    for (const auto& p : plan) {
      bool found = false;
      for (size_t i = 0; i < have.size() && !found; ++i)
        if (!keep[i] && have[i].rule == p) keep[i] = found = true;
      if (found) continue;
      add_rule(p);  // before deleting stale ones, so marked traffic always has a rule
      lines->push_back("added " + describe(p));
    }
    for (size_t i = 0; i < have.size(); ++i) {
      if (keep[i]) continue;
      delete_rule(have[i]);
      lines->push_back("deleted " + describe(have[i].rule));
    }
  }

  void reconcile_routes(std::vector<WanRoute> plan, std::vector<std::string>* lines) {
    dedupe(&plan);
    auto have = our_routes();
    for (const auto& p : plan) {
      bool same = false, other = false;
      for (const auto& h : have) {
        if (!h.plain || h.route.family != p.family || h.route.table != p.table) continue;
        (h.route == p ? same : other) = true;
      }
      if (same) continue;
      put_route(p);
      lines->push_back((other ? "replaced " : "added ") + describe(p));
    }
    // Re-read: a replace may or may not have consumed an old entry (it only
    // does when the metric matches), so decide deletions on what is there now.
    have = our_routes();
    std::vector<bool> keep(have.size(), false);
    for (const auto& p : plan)
      for (size_t i = 0; i < have.size(); ++i)
        if (!keep[i] && have[i].plain && have[i].route == p) {
          keep[i] = true;
          break;
        }
    for (size_t i = 0; i < have.size(); ++i) {
      if (keep[i]) continue;
      delete_route(have[i]);
      lines->push_back("deleted " + describe_obj(have[i]));
    }
  }
};

Routing::Routing(uint8_t protocol) : impl_(new Impl) {
  std::unique_ptr<Impl> guard(impl_);
  impl_->proto = protocol;
  impl_->sk = nl_socket_alloc();
  if (!impl_->sk) throw std::runtime_error("cannot allocate a netlink socket");
  int err = nl_connect(impl_->sk, NETLINK_ROUTE);
  if (err < 0) fail("cannot open rtnetlink socket", err);
  guard.release();
}

Routing::~Routing() { delete impl_; }

std::vector<std::string> Routing::reconcile(const RoutingPlan& plan) {
  std::vector<std::string> lines;
  impl_->reconcile_rules(plan.rules, &lines);
  impl_->reconcile_routes(plan.routes, &lines);
  return lines;
}

std::vector<std::string> Routing::remove_all() {
  std::vector<std::string> lines;
  // Rules first: once they are gone no traffic is steered into our tables.
  for (const auto& r : impl_->our_rules()) {
    impl_->delete_rule(r);
    lines.push_back("deleted " + describe(r.rule));
  }
  for (const auto& r : impl_->our_routes()) {
    impl_->delete_route(r);
    lines.push_back("deleted " + describe_obj(r));
  }
  return lines;
}

std::vector<FwmarkRule> Routing::list_rules() {
  std::vector<FwmarkRule> out;
  for (const auto& r : impl_->our_rules()) out.push_back(r.rule);
  return out;
}

std::vector<WanRoute> Routing::list_routes() {
  std::vector<WanRoute> out;
  for (const auto& r : impl_->our_routes()) out.push_back(r.route);
  return out;
}

// ------------------------------------------------------------------ planning

RoutingPlan plan_routing(const Config& cfg, const std::function<int(const std::string&)>& ifindex_of) {
  RoutingPlan plan;
  for (size_t i = 0; i < cfg.wans.size(); ++i) {
    const WanConfig& w = cfg.wans[i];
    int ifindex = ifindex_of(w.interface);
    if (ifindex <= 0)
      throw ConfigError(cfg.source + ":" + std::to_string(w.interface_line) + ": wans[" + std::to_string(i) +
                        "].interface: interface '" + w.interface + "' does not exist");
    for (int family : {AF_INET, AF_INET6}) {
      FwmarkRule r;
      r.family = family;
      r.mark = w.mark;
      r.mask = cfg.mark_mask;
      r.table = w.table;
      r.priority = cfg.rule_priority;
      plan.rules.push_back(r);
      // A gateway pins the family; a gateway-less (point-to-point) link
      // carries both, so both tables get a device route.
      if (w.has_gateway && w.gateway.family != family) continue;
      WanRoute rt;
      rt.family = family;
      rt.table = w.table;
      rt.ifindex = ifindex;
      rt.has_gateway = w.has_gateway;
      rt.gateway = w.gateway;
      plan.routes.push_back(rt);
    }
  }
  return plan;
}

}  // namespace wanlb

// Policy routing over netlink (libnl-route-3). See routing.h.
//
// Dumps are done by hand (RTM_GET* with NLM_F_DUMP) rather than through
// rtnl_route_alloc_cache(): the route cache hashes objects by (family, tos,
// table, dst, priority) and silently drops a second object with the same key,
// so a foreign route sharing a key with ours could hide ours (or vice versa).
// A plain dump sees every entry of every table exactly as the kernel has it.
//
// Rules are built and parsed as raw rtnetlink messages (struct fib_rule_hdr
// + FRA_* attributes) instead of through rtnl_rule: libnl 3.7 has no setter
// or getter for FRA_SUPPRESS_PREFIXLEN, and a raw parser also sees every
// selector the kernel reports, so a rule of ours carrying a selector wanlb
// does not model (a `to`, a port range, ...) is never mistaken for a planned
// one. A rule is deleted by echoing its dumped message back as RTM_DELRULE,
// as `ip rule flush` does, so the request carries all of its selectors and
// our protocol (a foreign rule with the same selectors never matches).
// Routes stay on libnl (rtnl_route), which handles RTA_MULTIPATH.
#include "routing.h"

#include "nl_ptr.h"

#include <linux/fib_rules.h>
#include <net/if.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/route/rtnl.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <tuple>

namespace wanlb {

namespace {

using ObjPtr = NlObjPtr;
using RoutePtr = NlRoutePtr;
using AddrPtr = NlAddrPtr;

struct NlMsgFree {
  void operator()(nl_msg* m) const { nlmsg_free(m); }
};
using MsgPtr = std::unique_ptr<nl_msg, NlMsgFree>;

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

unsigned host_len(int family) { return family == AF_INET6 ? 128 : 32; }
size_t addr_len(int family) { return family == AF_INET6 ? 16 : 4; }

std::string table_name(uint32_t t) {
  switch (t) {
    case RT_TABLE_MAIN: return "main";
    case RT_TABLE_LOCAL: return "local";
    case RT_TABLE_DEFAULT: return "default";
    default: return std::to_string(t);
  }
}

// ------------------------------------------------------------------ rules

// The form a rule is compared in: fields a selector does not use are zeroed,
// so a plan entry and the kernel's report of it are equal.
FwmarkRule canonical(FwmarkRule r) {
  if (r.action != RuleAction::Lookup) r.table = 0;  // the kernel reports 0 then
  if (r.action != RuleAction::Goto) r.goto_priority = 0;
  if (r.mask == 0) r.mark = 0;
  if (r.has_src && r.src.len == 0) r.has_src = false;  // "from all"
  if (!r.has_src) r.src = Prefix{};
  if (r.suppress_prefixlen < 0) r.suppress_prefixlen = -1;
  return r;
}

// As `ip rule` prints it (selectors in its order), plus pref and family:
// "rule from 10.100.1.2 lookup 100 pref 999 (inet)".
std::string describe(const FwmarkRule& r, bool other_selectors = false) {
  std::string s = "rule";
  if (r.invert) s += " not";
  if (r.has_src) s += " from " + (r.src.len == host_len(r.family) ? r.src.addr.str() : r.src.str());
  if (r.mask != 0) s += " fwmark " + hex(r.mark) + (r.mask == 0xffffffffu ? "" : "/" + hex(r.mask));
  if (!r.iif.empty()) s += " iif " + r.iif;
  if (!r.has_src && r.mask == 0 && r.iif.empty()) s += " from all";
  if (other_selectors) s += " (and other selectors)";
  switch (r.action) {
    case RuleAction::Lookup: s += " lookup " + table_name(r.table); break;
    case RuleAction::Goto: s += " goto " + std::to_string(r.goto_priority); break;
    case RuleAction::Nop: s += " nop"; break;
  }
  if (r.suppress_prefixlen >= 0) s += " suppress_prefixlength " + std::to_string(r.suppress_prefixlen);
  s += " pref " + std::to_string(r.priority) + " (" + family_name(r.family) + ")";
  return s;
}

struct OurRule {
  FwmarkRule rule;
  bool plain = true;          // nothing beyond what FwmarkRule models (else never matches a plan entry)
  std::vector<uint8_t> body;  // fib_rule_hdr + attributes, as dumped (sent back to delete it)
};

bool get_u32(const nlattr* a, uint32_t* v) {
  if (nla_len(a) < static_cast<int>(sizeof(uint32_t))) return false;
  std::memcpy(v, nla_data(a), sizeof *v);
  return true;
}

// One RTM_NEWRULE of a dump; false if it is not a rule stamped with `proto`.
bool parse_rule(nlmsghdr* nlh, uint8_t proto, OurRule* out) {
  if (nlh->nlmsg_type != RTM_NEWRULE || !nlmsg_valid_hdr(nlh, sizeof(fib_rule_hdr))) return false;
  const auto* frh = static_cast<const fib_rule_hdr*>(nlmsg_data(nlh));
  FwmarkRule& f = out->rule;
  f.family = frh->family;
  f.table = frh->table;
  bool ours = false;
  bool known_action = true;
  switch (frh->action) {
    case FR_ACT_TO_TBL: f.action = RuleAction::Lookup; break;
    case FR_ACT_GOTO: f.action = RuleAction::Goto; break;
    case FR_ACT_NOP: f.action = RuleAction::Nop; break;
    default: known_action = false; break;
  }
  f.invert = frh->flags & FIB_RULE_INVERT;
  // Selectors, flags and actions wanlb never sets make a rule "not plain".
  // FIB_RULE_UNRESOLVED is state, not part of the rule: a goto whose target
  // rule is not there (yet).
  const uint32_t known_flags = FIB_RULE_INVERT | FIB_RULE_UNRESOLVED;
  out->plain = known_action && frh->dst_len == 0 && frh->tos == 0 && (frh->flags & ~known_flags) == 0 &&
               (f.family == AF_INET || f.family == AF_INET6);
  nlattr* a;
  int rem;
  nlmsg_for_each_attr(a, nlh, sizeof(fib_rule_hdr), rem) {
    uint32_t v = 0;
    switch (nla_type(a)) {
      case FRA_PROTOCOL:
        ours = nla_len(a) >= 1 && *static_cast<const uint8_t*>(nla_data(a)) == proto;
        break;
      case FRA_TABLE:
        if (get_u32(a, &v)) f.table = v;
        break;
      case FRA_PRIORITY:
        if (get_u32(a, &v)) f.priority = v;
        break;
      case FRA_FWMARK:
        if (get_u32(a, &v)) f.mark = v;
        break;
      case FRA_FWMASK:
        if (get_u32(a, &v)) f.mask = v;
        break;
      case FRA_SUPPRESS_PREFIXLEN:
        // The kernel reports it only when set; -1 (unset) would read 0xffffffff.
        if (get_u32(a, &v) && v <= 128) f.suppress_prefixlen = static_cast<int>(v);
        break;
      case FRA_SRC:
        if (frh->src_len == 0) break;
        if (static_cast<size_t>(nla_len(a)) != addr_len(f.family) || frh->src_len > host_len(f.family)) {
          out->plain = false;
          break;
        }
        f.has_src = true;
        f.src.addr.family = f.family;
        std::memcpy(f.src.addr.bytes.data(), nla_data(a), addr_len(f.family));
        f.src.len = frh->src_len;
        break;
      case FRA_IIFNAME: {
        const char* s = static_cast<const char*>(nla_data(a));
        f.iif.assign(s, strnlen(s, static_cast<size_t>(nla_len(a))));
        break;
      }
      case FRA_UNSPEC:
      case FRA_UNUSED2:
      case FRA_UNUSED3:
      case FRA_UNUSED4:
      case FRA_UNUSED5:
      case FRA_PAD:
        break;
      case FRA_GOTO:
        if (get_u32(a, &v)) f.goto_priority = v;
        break;
      case FRA_DST:
      case FRA_FLOW:
      case FRA_TUN_ID:
      case FRA_SUPPRESS_IFGROUP:
      case FRA_OIFNAME:
      case FRA_L3MDEV:
      case FRA_UID_RANGE:
      case FRA_IP_PROTO:
      case FRA_SPORT_RANGE:
      case FRA_DPORT_RANGE:
      case FRA_DPORT_RANGE + 1:  // FRA_DSCP (kernel 6.13+)
      case FRA_DPORT_RANGE + 2:  // FRA_FLOWLABEL
      case FRA_DPORT_RANGE + 3:  // FRA_FLOWLABEL_MASK
      case FRA_DPORT_RANGE + 4:  // FRA_SPORT_MASK
      case FRA_DPORT_RANGE + 5:  // FRA_DPORT_MASK
      case FRA_DPORT_RANGE + 6:  // FRA_DSCP_MASK
        out->plain = false;
        break;
      default:
        break;  // newer than this list: assume it is informational
    }
  }
  if (!ours) return false;
  // A selector set the kernel reports oddly (e.g. a mask without its mark)
  // is still compared as the kernel stores it.
  out->rule = canonical(f);
  const auto* body = static_cast<const uint8_t*>(nlmsg_data(nlh));
  out->body.assign(body, body + nlmsg_datalen(nlh));
  return true;
}

// RTM_NEWRULE for `f`, stamped with `proto`.
MsgPtr build_rule(const FwmarkRule& f, uint8_t proto, int flags) {
  auto bad = [&](const std::string& why) { return std::runtime_error("cannot build " + describe(f) + ": " + why); };
  if (f.family != AF_INET && f.family != AF_INET6) throw bad("bad family");
  if (f.has_src && (f.src.addr.family != f.family || f.src.len > host_len(f.family)))
    throw bad("source prefix " + f.src.str() + " does not fit the family");
  if (f.iif.size() >= IFNAMSIZ) throw bad("interface name too long");
  if (f.suppress_prefixlen > static_cast<int>(host_len(f.family))) throw bad("suppress_prefixlength out of range");
  if (f.action == RuleAction::Goto && f.goto_priority <= f.priority) throw bad("a goto must jump forward");
  MsgPtr m(nlmsg_alloc_simple(RTM_NEWRULE, flags));
  if (!m) throw std::runtime_error("out of memory allocating a netlink message");
  fib_rule_hdr hdr{};
  hdr.family = static_cast<uint8_t>(f.family);
  const bool lookup = f.action == RuleAction::Lookup;
  hdr.action = lookup ? FR_ACT_TO_TBL : f.action == RuleAction::Goto ? FR_ACT_GOTO : FR_ACT_NOP;
  hdr.table = static_cast<uint8_t>(lookup && f.table < 256 ? f.table : RT_TABLE_UNSPEC);  // FRA_TABLE has the full id
  hdr.src_len = static_cast<uint8_t>(f.has_src ? f.src.len : 0);
  hdr.flags = f.invert ? FIB_RULE_INVERT : 0;
  int err = nlmsg_append(m.get(), &hdr, sizeof hdr, NLMSG_ALIGNTO);
  if (err >= 0 && lookup) err = nla_put_u32(m.get(), FRA_TABLE, f.table);
  if (err >= 0 && f.action == RuleAction::Goto) err = nla_put_u32(m.get(), FRA_GOTO, f.goto_priority);
  if (err >= 0) err = nla_put_u32(m.get(), FRA_PRIORITY, f.priority);
  if (err >= 0 && f.mask != 0) err = nla_put_u32(m.get(), FRA_FWMARK, f.mark);
  if (err >= 0 && f.mask != 0) err = nla_put_u32(m.get(), FRA_FWMASK, f.mask);
  if (err >= 0 && f.has_src && f.src.len > 0)
    err = nla_put(m.get(), FRA_SRC, static_cast<int>(addr_len(f.family)), f.src.addr.bytes.data());
  if (err >= 0 && !f.iif.empty()) err = nla_put_string(m.get(), FRA_IIFNAME, f.iif.c_str());
  if (err >= 0 && f.suppress_prefixlen >= 0)
    err = nla_put_u32(m.get(), FRA_SUPPRESS_PREFIXLEN, static_cast<uint32_t>(f.suppress_prefixlen));
  if (err >= 0) err = nla_put_u8(m.get(), FRA_PROTOCOL, proto);
  if (err < 0) fail("cannot build " + describe(f), err);
  return m;
}

// ----------------------------------------------------------------- routes

AddrPtr to_nl_addr(const IpAddr& a) {
  nl_addr* p = nl_addr_build(a.family, a.bytes.data(), addr_len(a.family));
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

// The form a route is compared in: one next hop is a plain route (the
// kernel reports it without RTA_MULTIPATH and forgets its weight); several
// are a set, in a fixed order.
WanRoute canonical(WanRoute r) {
  if (r.nexthops.size() == 1) {
    r.ifindex = r.nexthops[0].ifindex;
    r.has_gateway = r.nexthops[0].has_gateway;
    r.gateway = r.nexthops[0].gateway;
    r.nexthops.clear();
  }
  if (!r.nexthops.empty()) {
    r.ifindex = 0;
    r.has_gateway = false;
    for (auto& n : r.nexthops)
      if (!n.has_gateway) n.gateway = IpAddr{};
    std::sort(r.nexthops.begin(), r.nexthops.end(), [](const Nexthop& a, const Nexthop& b) {
      return std::tie(a.ifindex, a.has_gateway, a.gateway.bytes, a.weight) <
             std::tie(b.ifindex, b.has_gateway, b.gateway.bytes, b.weight);
    });
  }
  if (!r.has_gateway) r.gateway = IpAddr{};
  return r;
}

std::string describe_nexthop(int ifindex, bool has_gateway, const IpAddr& gateway) {
  std::string s;
  if (has_gateway) s += " via " + gateway.str();
  return s + " dev " + ifname(ifindex);
}

// "route default via 10.100.1.1 dev wan1 table 100",
// "route default nexthop via 10.100.1.1 dev wan1 weight 2 nexthop via ... table 164".
std::string describe(const WanRoute& r) {
  std::string s = "route default";
  bool any_gateway = r.has_gateway;
  if (r.nexthops.empty()) {
    s += describe_nexthop(r.ifindex, r.has_gateway, r.gateway);
    if (!r.has_gateway) s += " scope link";
  } else {
    for (const auto& n : r.nexthops) {
      s += " nexthop" + describe_nexthop(n.ifindex, n.has_gateway, n.gateway) + " weight " + std::to_string(n.weight);
      any_gateway = any_gateway || n.has_gateway;
    }
  }
  s += " table " + std::to_string(r.table);
  // With a gateway the address already shows the family.
  if (!any_gateway) s += std::string(" (") + family_name(r.family) + ")";
  return s;
}

struct OurRoute {
  WanRoute route;     // canonical
  bool plain = false;  // default destination with next hops (what we install)
  RoutePtr obj;
};

// libnl's "weight" is the raw rtnh_hops byte, which the kernel reads as weight - 1.
WanRoute to_wan_route(rtnl_route* r, bool* plain) {
  WanRoute w;
  w.family = rtnl_route_get_family(r);
  w.table = rtnl_route_get_table(r);
  nl_addr* dst = rtnl_route_get_dst(r);
  int n = rtnl_route_get_nnexthops(r);
  *plain = n >= 1 && (!dst || nl_addr_get_prefixlen(dst) == 0);
  for (int i = 0; i < n; ++i) {
    rtnl_nexthop* nh = rtnl_route_nexthop_n(r, i);
    Nexthop x;
    x.ifindex = rtnl_route_nh_get_ifindex(nh);
    if (nl_addr* gw = rtnl_route_nh_get_gateway(nh)) {
      x.has_gateway = true;
      x.gateway = from_nl_addr(gw);
    }
    x.weight = n > 1 ? rtnl_route_nh_get_weight(nh) + 1u : 1u;
    w.nexthops.push_back(x);
  }
  return canonical(w);
}

std::string describe_obj(const OurRoute& r) {
  if (r.plain) return describe(r.route);
  // Something odd stamped with our protocol (not installed by us in this form).
  char dst[INET6_ADDRSTRLEN + 8] = "?";
  if (nl_addr* d = rtnl_route_get_dst(r.obj.get())) nl_addr2str(d, dst, sizeof dst);
  return std::string("route ") + dst + " table " + std::to_string(r.route.table) + " (" +
         family_name(r.route.family) + ")";
}

// ---------------------------------------------------------------- dumping

using MsgHandler = std::function<void(nl_msg*)>;

int on_valid(nl_msg* msg, void* arg) {
  (*static_cast<MsgHandler*>(arg))(msg);
  return NL_OK;
}

// Full dump of `type` (RTM_GETRULE / RTM_GETROUTE) for all families; every
// message goes to `handler`. `hdr` is the zeroed family header the request
// carries. `restart` is called before each attempt (a dump interrupted by a
// change is retried from scratch).
void dump(nl_sock* sk, int type, const void* hdr, size_t hdrlen, const char* what, const std::function<void()>& restart,
          MsgHandler handler) {
  for (int attempt = 0;; ++attempt) {
    restart();
    int err = nl_send_simple(sk, type, NLM_F_DUMP, const_cast<void*>(hdr), hdrlen);
    if (err < 0) fail(std::string("cannot dump ") + what, err);
    // A private copy of the socket's callbacks, so ack/error handling stays
    // the default and only "valid message" goes to us.
    nl_cb* sock_cb = nl_socket_get_cb(sk);  // takes a reference
    NlCbPtr cb(nl_cb_clone(sock_cb));
    nl_cb_put(sock_cb);
    if (!cb) throw std::runtime_error("out of memory cloning a netlink callback");
    nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_valid, &handler);
    err = nl_recvmsgs(sk, cb.get());
    if (err == -NLE_DUMP_INTR && attempt < 5) continue;  // table changed mid-dump: retry
    if (err < 0) fail(std::string("cannot dump ") + what, err);
    return;
  }
}

void collect(nl_object* obj, void* arg) {
  nl_object_get(obj);
  static_cast<std::vector<ObjPtr>*>(arg)->emplace_back(obj);
}

template <class T>
void dedupe(std::vector<T>* v) {
  std::vector<T> out;
  for (const auto& x : *v)
    if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
  *v = std::move(out);
}

// Pairs `plan` entries with equal plain entries of `have` (each used once).
std::vector<bool> matched(const std::vector<FwmarkRule>& plan, const std::vector<OurRule>& have,
                          std::vector<bool>* plan_found) {
  std::vector<bool> keep(have.size(), false);
  plan_found->assign(plan.size(), false);
  for (size_t j = 0; j < plan.size(); ++j)
    for (size_t i = 0; i < have.size(); ++i)
      if (!keep[i] && have[i].plain && have[i].rule == plan[j]) {
        keep[i] = true;
        (*plan_found)[j] = true;
        break;
      }
  return keep;
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
    dump(
        sk, RTM_GETRULE, &hdr, sizeof hdr, "rules", [&] { out.clear(); },
        [&](nl_msg* msg) {
          OurRule r;
          if (parse_rule(nlmsg_hdr(msg), proto, &r)) out.push_back(std::move(r));
        });
    return out;
  }

  std::vector<OurRoute> our_routes() {
    rtmsg hdr{};
    hdr.rtm_family = AF_UNSPEC;
    std::vector<ObjPtr> objs;
    dump(
        sk, RTM_GETROUTE, &hdr, sizeof hdr, "routes", [&] { objs.clear(); },
        [&](nl_msg* msg) { nl_msg_parse(msg, collect, &objs); });  // unparsable messages are not ours anyway
    std::vector<OurRoute> out;
    for (auto& o : objs) {
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
    // No NLM_F_EXCL: the kernel's "exists" test ignores source/destination
    // selectors the new rule does not set, so it would refuse "fwmark X
    // lookup 100" next to our "from A fwmark X lookup 100". Whether the rule
    // is already there was decided on the dump.
    MsgPtr m = build_rule(f, proto, NLM_F_CREATE);
    int err = nl_send_sync(sk, m.release());  // frees the message
    if (err < 0) fail("cannot add " + describe(f), err);
  }

  void delete_rule(const OurRule& r) {
    MsgPtr m(nlmsg_alloc_simple(RTM_DELRULE, 0));
    if (!m) throw std::runtime_error("out of memory allocating a netlink message");
    int err = nlmsg_append(m.get(), const_cast<uint8_t*>(r.body.data()), r.body.size(), NLMSG_ALIGNTO);
    if (err >= 0) err = nl_send_sync(sk, m.release());
    // Already gone (the kernel took it for an earlier, looser request): fine,
    // callers re-read the rules afterwards.
    if (err < 0 && err != -NLE_OBJ_NOTFOUND) fail("cannot delete " + describe(r.rule, !r.plain), err);
  }

  // Add or replace the default route of `w.table` (NLM_F_REPLACE swaps a
  // changed gateway or next-hop set in place, without a window with no
  // default route). `w` is canonical: several next hops, or none and the
  // single one in ifindex/gateway.
  void put_route(const WanRoute& w) {
    RoutePtr r(rtnl_route_alloc());
    if (!r) throw std::runtime_error("out of memory allocating a route");
    rtnl_route_set_family(r.get(), static_cast<uint8_t>(w.family));
    rtnl_route_set_table(r.get(), w.table);
    rtnl_route_set_protocol(r.get(), proto);
    rtnl_route_set_type(r.get(), RTN_UNICAST);
    IpAddr any;
    any.family = w.family;
    AddrPtr dst = to_nl_addr(any);
    nl_addr_set_prefixlen(dst.get(), 0);
    int err = rtnl_route_set_dst(r.get(), dst.get());  // takes its own reference
    if (err < 0) fail("cannot build " + describe(w), err);
    std::vector<Nexthop> hops = w.nexthops;
    if (hops.empty()) hops.push_back(Nexthop{w.ifindex, w.has_gateway, w.gateway, 1});
    bool any_gateway = false;
    for (const auto& h : hops) {
      if (hops.size() > 1 && (h.weight < 1 || h.weight > 256))
        throw std::runtime_error("cannot install " + describe(w) + ": weight " + std::to_string(h.weight) +
                                 " is not in 1..256");
      rtnl_nexthop* nh = rtnl_route_nh_alloc();
      if (!nh) throw std::runtime_error("out of memory allocating a next hop");
      rtnl_route_nh_set_ifindex(nh, h.ifindex);
      if (h.has_gateway) {
        AddrPtr gw = to_nl_addr(h.gateway);
        rtnl_route_nh_set_gateway(nh, gw.get());  // takes its own reference
        any_gateway = true;
      }
      // rtnh_hops: the kernel's weight is this + 1.
      if (hops.size() > 1) rtnl_route_nh_set_weight(nh, static_cast<uint8_t>(h.weight - 1));
      rtnl_route_add_nexthop(r.get(), nh);  // the route owns nh from here
    }
    rtnl_route_set_scope(r.get(), any_gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
    err = rtnl_route_add(sk, r.get(), NLM_F_CREATE | NLM_F_REPLACE);
    if (err < 0) fail("cannot install " + describe(w), err);
  }

  void delete_route(const OurRoute& r) {
    int err = rtnl_route_delete(sk, r.obj.get(), 0);
    if (err < 0) fail("cannot delete " + describe_obj(r), err);
  }

  void reconcile_rules(std::vector<FwmarkRule> plan, std::vector<std::string>* lines) {
    for (auto& p : plan) p = canonical(p);
    dedupe(&plan);
    auto have = our_rules();
    // What changes, judged on the state before we start.
    std::vector<bool> found;
    std::vector<bool> keep = matched(plan, have, &found);
    for (size_t j = 0; j < plan.size(); ++j)
      if (!found[j]) lines->push_back("added " + describe(plan[j]));
    for (size_t i = 0; i < have.size(); ++i)
      if (!keep[i]) lines->push_back("deleted " + describe(have[i].rule, !have[i].plain));
    // The kernel deletes the first rule that matches every selector of the
    // request, so deleting ours "fwmark X lookup 100 pref 1000" can take a
    // rule of ours listed earlier that has those selectors and more (say,
    // "from A fwmark X lookup 100 pref 1000"). So: apply, re-read, repeat
    // until the kernel holds the plan (a wrongly taken rule is re-added
    // after the one to delete, which then goes first).
    for (int pass = 0; pass < 4; ++pass) {
      if (pass > 0) {
        have = our_rules();
        keep = matched(plan, have, &found);
      }
      bool done = true;
      for (size_t j = 0; j < plan.size(); ++j) {
        if (found[j]) continue;
        add_rule(plan[j]);  // before deleting stale ones, so marked traffic always has a rule
        done = false;
      }
      for (size_t i = 0; i < have.size(); ++i) {
        if (keep[i]) continue;
        delete_rule(have[i]);
        done = false;
      }
      if (done) return;
    }
    throw std::runtime_error("rules of protocol " + std::to_string(proto) + " keep changing under reconcile");
  }

  void reconcile_routes(std::vector<WanRoute> plan, std::vector<std::string>* lines) {
    for (auto& p : plan) p = canonical(p);
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
  // Each delete request names one of ours exactly (all its selectors and our
  // protocol), and whichever of ours the kernel takes first, the dump after
  // the loop is empty; describe what was there.
  auto rules = impl_->our_rules();
  for (const auto& r : rules) lines.push_back("deleted " + describe(r.rule, !r.plain));
  for (int pass = 0; !rules.empty(); ++pass) {
    if (pass == 4) throw std::runtime_error("rules of protocol " + std::to_string(impl_->proto) + " keep coming back");
    for (const auto& r : rules) impl_->delete_rule(r);
    rules = impl_->our_rules();
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

}  // namespace wanlb

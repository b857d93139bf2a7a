// Policy routing over netlink (libnl-route-3): per-WAN tables and fwmark rules.
//
// Everything wanlb installs carries its own rtnetlink protocol number
// (Config::route_protocol), which is how reconcile() and remove_all()
// recognise "ours" and never touch anything else.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config.h"

namespace wanlb {

// What a rule does when its selectors match.
enum class RuleAction {
  Lookup,  // lookup TABLE
  Goto,    // goto PREF: go on at the rule with that preference
  Nop,     // nothing: a goto's landing place
};

// One `ip rule` wanlb installs (stamped with its protocol). The selectors
// that are set must all match (`not` inverts the whole match):
//   fwmark MARK/MASK lookup TABLE            (mask != 0)
//   from PREFIX lookup TABLE                 (has_src)
//   iif lo lookup main suppress_prefixlength 0   (iif, suppress_prefixlen >= 0)
//   not iif lo goto PREF                     (invert, action Goto)
//   from all nop                             (action Nop)
struct FwmarkRule {
  int family = 0;  // AF_INET or AF_INET6
  uint32_t mark = 0;
  uint32_t mask = 0;  // 0: no fwmark selector
  uint32_t table = 0;  // Lookup only
  uint32_t priority = 0;
  bool has_src = false;
  Prefix src;
  std::string iif;              // "" = any
  int suppress_prefixlen = -1;  // -1 = none
  RuleAction action = RuleAction::Lookup;
  uint32_t goto_priority = 0;  // Goto only
  bool invert = false;         // `not`
  bool operator==(const FwmarkRule& o) const {
    return family == o.family && mark == o.mark && mask == o.mask && table == o.table && priority == o.priority &&
           has_src == o.has_src && (!has_src || src == o.src) && iif == o.iif &&
           suppress_prefixlen == o.suppress_prefixlen && action == o.action && goto_priority == o.goto_priority &&
           invert == o.invert;
  }
};

// One next hop of a route: via gateway, or via the device (scope link) for
// point-to-point links without a gateway.
struct Nexthop {
  int ifindex = 0;
  bool has_gateway = false;
  IpAddr gateway;
  uint32_t weight = 1;  // 1..256, used when a route has several next hops
  bool operator==(const Nexthop& o) const {
    return ifindex == o.ifindex && has_gateway == o.has_gateway && (!has_gateway || gateway == o.gateway) &&
           (weight == o.weight);
  }
};

// The default route of a table (0.0.0.0/0 or ::/0). One next hop for a WAN
// table; several (weighted multipath) for the local table that carries the
// router's own traffic over the live WANs.
struct WanRoute {
  int family = 0;  // AF_INET or AF_INET6
  uint32_t table = 0;
  int ifindex = 0;  // single next hop (when `nexthops` is empty)
  bool has_gateway = false;
  IpAddr gateway;
  std::vector<Nexthop> nexthops;  // multipath when not empty (ifindex/gateway above unused)
  bool operator==(const WanRoute& o) const {
    return family == o.family && table == o.table && ifindex == o.ifindex && has_gateway == o.has_gateway &&
           (!has_gateway || gateway == o.gateway) && nexthops == o.nexthops;
  }
};

// The rules and routes wanlb wants in place (plan_routes in plan.h makes it).
struct RoutingPlan {
  std::vector<FwmarkRule> rules;
  std::vector<WanRoute> routes;
};

class Routing {
 public:
  explicit Routing(uint8_t protocol);  // throws std::runtime_error if netlink cannot be opened
  ~Routing();
  Routing(const Routing&) = delete;
  Routing& operator=(const Routing&) = delete;

  // Make the system hold exactly `plan` among the entries stamped with our
  // protocol: add what is missing, replace routes that differ, delete ours
  // that the plan no longer has. Idempotent. Returns one line per change,
  // e.g. "added rule fwmark 0x10000/0xff0000 lookup 100 pref 1000 (inet)".
  std::vector<std::string> reconcile(const RoutingPlan& plan);
  // Delete every rule and route stamped with our protocol (all tables, both families).
  std::vector<std::string> remove_all();

  std::vector<FwmarkRule> list_rules();  // ours only
  std::vector<WanRoute> list_routes();   // ours only

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace wanlb

// What a config means for the data path, computed without touching the
// system: WAN entries, slot table, data-path settings, bypass set. `check`
// prints it, `run` writes it into the maps.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "connected.h"
#include "map_io.h"
#include "routing.h"
#include "slot_table.h"
#include "wanlb/dp_shared.h"

namespace wanlb {

// wanlb_wans entries indexed by WAN id (size WANLB_MAX_WANS + 1). All WANs
// start up (probing comes later). `ifindex_of` returns 0 for a missing one.
std::vector<wanlb_wan> plan_wans(const Config& cfg, const std::function<int(const std::string&)>& ifindex_of);

// Members for the slot table: every WAN whose entry is up.
std::vector<SlotMember> slot_members(const std::vector<wanlb_wan>& wans);

wanlb_config plan_dp_config(const Config& cfg, uint32_t hash_seed);

// Config bypass prefixes plus the router's connected networks and addresses.
std::vector<BypassEntry> plan_bypass(const Config& cfg, const ConnectedSet& connected);

// One WAN as routing sees it at this moment.
struct WanRouteState {
  const WanConfig* cfg = nullptr;
  int ifindex = 0;                  // 0: the interface is gone
  std::optional<IpAddr> gw4, gw6;   // resolved gateways (static or auto)
  std::vector<IpAddr> addrs;        // addresses on the interface
  bool live = false;                // takes new connections (active tier, up)
};

// Every rule and route wanlb wants, from the config and the WANs' state:
//   pref P    fwmark WAN/MASK lookup WAN_TABLE         (LAN traffic the data path marked)
//   pref P+1  iif lo lookup main suppress_prefixlength 0  (router traffic to connected and
//                                                      specific routes stays on main, e.g. a
//                                                      reply to a LAN host)
//   pref P+2  from WAN_ADDRESS lookup WAN_TABLE        (the router's replies to the internet
//                                                      leave by the WAN whose address they use)
//   pref P+3  iif lo lookup LOCAL_TABLE                (router traffic to the internet: a
//                                                      weighted multipath default over live WANs)
// WAN tables hold the default route of their family via the gateway (via the
// device for point-to-point WANs). P = rule_priority.
RoutingPlan plan_routes(const Config& cfg, const std::vector<WanRouteState>& wans);

// The plan while `from` is being replaced by `to` (make before break):
// every rule and route of `to`, plus the rules of `from` that `to` lacks and
// the routes of `from` for a (family, table) that `to` does not route.
RoutingPlan merge_routing(RoutingPlan to, const RoutingPlan& from);

// The human-readable plan `wanlb check` prints.
std::string describe_plan(const Config& cfg);
// The same plan as JSON (`wanlb check --json`).
nlohmann::json plan_json(const Config& cfg);

}  // namespace wanlb

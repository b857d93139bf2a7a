#include "plan.h"

#include <sys/socket.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>

#include "failover.h"
#include "routing.h"

namespace wanlb {

std::vector<wanlb_wan> plan_wans(const Config& cfg, const std::function<int(const std::string&)>& ifindex_of) {
  std::vector<wanlb_wan> by_id(WANLB_MAX_WANS + 1);
  for (const auto& w : cfg.wans) {
    wanlb_wan& e = by_id[w.id];
    std::snprintf(e.name, sizeof(e.name), "%s", w.name.c_str());
    if (w.has_gateway) {
      std::memcpy(e.gateway, w.gateway.bytes.data(), w.gateway.family == AF_INET ? 4 : 16);
      e.gw_family = static_cast<uint8_t>(w.gateway.family);
    }
    e.ifindex = static_cast<uint32_t>(ifindex_of(w.interface));
    e.mark = w.mark;
    e.table = w.table;
    e.weight = w.weight;
    e.flags = WANLB_WAN_F_CONFIGURED | WANLB_WAN_F_UP;
  }
  return by_id;
}

std::vector<SlotMember> slot_members(const std::vector<wanlb_wan>& wans) {
  std::vector<SlotMember> members;
  for (uint32_t id = 1; id < wans.size(); id++)
    if (wans[id].flags & WANLB_WAN_F_UP) members.push_back({id, wans[id].name, wans[id].weight});
  return members;
}

wanlb_config plan_dp_config(const Config& cfg, uint32_t hash_seed) {
  wanlb_config c{};
  c.classifier = cfg.classifier;
  c.mark_mask = cfg.mark_mask;
  c.hash_seed = hash_seed;
  // With `inbound: conntrack` wanlb's nftables table tags inbound
  // connections, so the data path looks for them; without it there is
  // nothing to find.
  c.flags = (cfg.inbound_conntrack ? WANLB_CFG_F_INBOUND : 0) | (cfg.sticky_pair ? WANLB_CFG_F_STICKY_PAIR : 0);
  c.n_policies = static_cast<uint32_t>(cfg.policies.size());
  c.sticky_timeout_s = cfg.sticky_timeout_ms / 1000;
  return c;
}

std::vector<BypassEntry> plan_bypass(const Config& cfg, const ConnectedSet& connected) {
  std::vector<BypassEntry> out;
  for (const auto& p : cfg.bypass) out.push_back({p, WANLB_BYPASS_CONFIG});
  for (const auto& p : connected.connected) out.push_back({p, WANLB_BYPASS_CONNECTED});
  for (const auto& p : connected.local) out.push_back({p, WANLB_BYPASS_LOCAL});
  return out;
}

namespace {

FwmarkRule rule(int family, uint32_t priority, uint32_t table) {
  FwmarkRule r;
  r.family = family;
  r.priority = priority;
  r.table = table;
  return r;
}

Prefix host_prefix(const IpAddr& a) {
  Prefix p;
  p.addr = a;
  p.len = a.family == AF_INET ? 32 : 128;
  return p;
}

WanRoute default_route(int family, uint32_t table, int ifindex, const std::optional<IpAddr>& gw) {
  WanRoute r;
  r.family = family;
  r.table = table;
  r.ifindex = ifindex;
  r.has_gateway = gw.has_value();
  if (gw) r.gateway = *gw;
  return r;
}

// The WAN's default route of `family`: via its gateway of that family, or
// via the device when the WAN has no gateway at all (point-to-point).
std::optional<WanRoute> wan_route(const WanRouteState& w, int family) {
  const WanConfig& c = *w.cfg;
  bool p2p = !c.has_gateway && !c.gateway_auto && !c.has_gateway6 && !c.gateway6_auto;
  const std::optional<IpAddr>& gw = family == AF_INET ? w.gw4 : w.gw6;
  if (gw) return default_route(family, c.table, w.ifindex, gw);
  if (p2p) return default_route(family, c.table, w.ifindex, std::nullopt);
  return std::nullopt;
}

}  // namespace

RoutingPlan plan_routes(const Config& cfg, const std::vector<WanRouteState>& wans) {
  RoutingPlan plan;
  const uint32_t p = cfg.rule_priority;
  uint32_t max_weight = 1;
  for (const auto& w : wans) max_weight = std::max(max_weight, w.cfg->weight);
  for (int family : {AF_INET, AF_INET6}) {
    WanRoute local;
    local.family = family;
    local.table = cfg.local_table;
    for (const auto& w : wans) {
      if (w.ifindex == 0) continue;
      FwmarkRule fw = rule(family, p + kRuleFwmark, w.cfg->table);
      fw.mark = w.cfg->mark;
      fw.mask = cfg.mark_mask;
      plan.rules.push_back(fw);
      for (const auto& a : w.addrs) {
        if (a.family != family) continue;
        FwmarkRule from = rule(family, p + kRuleFromWanAddr, w.cfg->table);
        from.has_src = true;
        from.src = host_prefix(a);
        plan.rules.push_back(from);
      }
      std::optional<WanRoute> r = wan_route(w, family);
      if (!r) continue;
      plan.routes.push_back(*r);
      if (!w.live) continue;
      // Multipath weights are 1..256: scale the WAN weights (1..1000) into them.
      Nexthop nh{w.ifindex, r->has_gateway, r->gateway,
                 std::max<uint32_t>(1, (w.cfg->weight * 256 + max_weight - 1) / max_weight)};
      local.nexthops.push_back(nh);
    }
    // Past the fwmark rules, only the router's own traffic (iif lo) has
    // anything left to match in wanlb's block; everything else (unmarked
    // forwarded packets, and the reverse-path lookup the kernel makes for
    // every forwarded packet once custom rules exist) jumps over it to the
    // nop at its end. With one address per WAN that spares N + 2 rule
    // tests a lookup: ~65 ns a packet with 8 WANs on the forwarding
    // benchmark (docs/benchmarks.md).
    FwmarkRule skip = rule(family, p + kRuleSkip, 0);
    skip.iif = "lo";
    skip.invert = true;
    skip.action = RuleAction::Goto;
    skip.goto_priority = p + kRuleBlockEnd;
    plan.rules.push_back(skip);
    FwmarkRule main_first = rule(family, p + kRuleMainFirst, 254);
    main_first.iif = "lo";
    main_first.suppress_prefixlen = 0;
    plan.rules.push_back(main_first);
    FwmarkRule to_local = rule(family, p + kRuleToLocal, cfg.local_table);
    to_local.iif = "lo";
    plan.rules.push_back(to_local);
    FwmarkRule end = rule(family, p + kRuleBlockEnd, 0);
    end.action = RuleAction::Nop;
    plan.rules.push_back(end);
    // The kernel refuses device-only next hops in an IPv6 multipath route:
    // with several live WANs, the point-to-point ones sit out of it.
    if (family == AF_INET6 && local.nexthops.size() > 1) {
      std::vector<Nexthop> with_gw;
      for (const auto& nh : local.nexthops)
        if (nh.has_gateway) with_gw.push_back(nh);
      local.nexthops = with_gw.empty() ? std::vector<Nexthop>{local.nexthops.front()} : with_gw;
    }
    if (!local.nexthops.empty()) plan.routes.push_back(local);
  }
  return plan;
}

RoutingPlan merge_routing(RoutingPlan to, const RoutingPlan& from) {
  const size_t own_routes = to.routes.size();
  for (const auto& r : from.rules)
    if (std::find(to.rules.begin(), to.rules.end(), r) == to.rules.end()) to.rules.push_back(r);
  for (const auto& r : from.routes) {
    auto routed = [&](const WanRoute& t) { return t.family == r.family && t.table == r.table; };
    if (std::none_of(to.routes.begin(), to.routes.begin() + static_cast<long>(own_routes), routed))
      to.routes.push_back(r);
  }
  return to;
}

namespace {

std::string gateway_text(const WanConfig& w) {
  if (w.gateway_auto) return "auto (main table default)";
  return w.has_gateway ? w.gateway.str() : "(point-to-point)";
}

std::string probe_text(const WanConfig& w) {
  const ProbeConfig& p = w.probe;
  if (p.method == ProbeMethod::None) return "none (carrier only)";
  std::string targets;
  for (const auto& t : p.targets) targets += (targets.empty() ? "" : ", ") + (t.is_gateway ? "gateway" : t.addr.str());
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%s [%s] every %ums, timeout %ums, down after %u, up after %u, reliability %u",
                probe_method_name(p.method), targets.c_str(), p.interval_ms, p.timeout_ms, p.down, p.up,
                p.reliability);
  std::string out = buf;
  if (p.max_loss_ppm) out += ", max_loss " + std::to_string(p.max_loss_ppm / 10000.0).substr(0, 5) + "%";
  if (p.max_rtt_ms) out += ", max_rtt " + std::to_string(p.max_rtt_ms) + "ms";
  return out;
}

// Slots per WAN id in the slot table with every WAN up (the lowest tier
// owns it): what `check` shows as each WAN's share.
std::map<uint32_t, uint32_t> slots_when_all_up(const Config& cfg) {
  std::vector<WanView> views;
  for (const auto& w : cfg.wans) views.push_back({w.id, w.name, w.weight, w.tier, WanState::Up});
  std::map<uint32_t, uint32_t> slots;
  for (uint32_t id : SlotPlanner(WANLB_SLOT_COUNT).table(views)) slots[id]++;
  return slots;
}

}  // namespace

std::string describe_plan(const Config& cfg) {
  std::map<uint32_t, uint32_t> slots = slots_when_all_up(cfg);

  std::ostringstream out;
  char line[320];
  out << "config " << cfg.source << ": valid\n";
  out << "lan: ";
  for (size_t i = 0; i < cfg.lan.size(); i++) out << (i ? ", " : "") << cfg.lan[i];
  out << "\nclassifier: " << classifier_name(cfg.classifier) << "\n";
  out << "inbound: " << (cfg.inbound_conntrack ? "conntrack (connections that start on a WAN are tagged and answered through it)"
                                               : "none (no conntrack use by wanlb)")
      << "\n";
  std::snprintf(line, sizeof(line), "flow table: %u entries; mark mask 0x%08x; rule priority %u; route protocol %u\n",
                cfg.flow_table_size, cfg.mark_mask, cfg.rule_priority, cfg.route_protocol);
  out << line;
  std::snprintf(line, sizeof(line), "%-3s %-15s %-12s %-26s %6s %4s %8s %10s %6s %8s\n", "ID", "WAN", "INTERFACE",
                "GATEWAY", "WEIGHT", "TIER", "SHARE", "MARK", "TABLE", "SLOTS");
  out << line;
  for (const auto& w : cfg.wans) {
    char mark[16];
    std::snprintf(mark, sizeof(mark), "0x%x", w.mark);
    std::snprintf(line, sizeof(line), "%-3u %-15s %-12s %-26s %6u %4u %7.2f%% %10s %6u %8u\n", w.id, w.name.c_str(),
                  w.interface.c_str(), gateway_text(w).c_str(), w.weight, w.tier,
                  100.0 * slots[w.id] / WANLB_SLOT_COUNT, mark, w.table, slots[w.id]);
    out << line;
  }
  out << "(SHARE: of new connections while every WAN is up; a higher tier takes over only when every WAN of the "
         "lower tiers is down)\n";
  out << "probes:\n";
  for (const auto& w : cfg.wans) out << "  " << w.name << ": " << probe_text(w) << "\n";
  out << "rules:\n";
  for (const auto& w : cfg.wans) {
    std::snprintf(line, sizeof(line), "  ip rule add fwmark 0x%x/0x%x lookup %u pref %u proto %u   # %s, IPv4 and IPv6\n",
                  w.mark, cfg.mark_mask, w.table, cfg.rule_priority, cfg.route_protocol, w.name.c_str());
    out << line;
  }
  std::snprintf(line, sizeof(line),
                "  pref %u..%u: the router's own traffic (iif lo); everything else skips to the nop at %u\n",
                cfg.rule_priority + kRuleSkip, cfg.rule_priority + kRuleBlockEnd, cfg.rule_priority + kRuleBlockEnd);
  out << line;
  out << "routes:\n";
  for (const auto& w : cfg.wans) {
    std::string via = w.gateway_auto ? "via <the DHCP gateway, followed live> " :
                      w.has_gateway ? "via " + w.gateway.str() + " " : "";
    out << "  " << (w.has_gateway && w.gateway.family == AF_INET6 ? "::/0" : "default") << " " << via << "dev "
        << w.interface << " table " << w.table << " proto " << cfg.route_protocol << "\n";
  }
  out << "bypass (plus connected networks and local addresses, followed live):";
  if (cfg.bypass.empty()) out << " none configured";
  for (const auto& p : cfg.bypass) out << " " << p.str();
  out << "\n";
  if (!cfg.hook.empty()) out << "hook on state change: " << cfg.hook << "\n";
  std::snprintf(line, sizeof(line), "slot table: %u slots (weighted Maglev)\n", WANLB_SLOT_COUNT);
  out << line;
  return out.str();
}

nlohmann::json plan_json(const Config& cfg) {
  std::map<uint32_t, uint32_t> slots = slots_when_all_up(cfg);
  nlohmann::json out = {{"config", cfg.source},
                        {"lan", cfg.lan},
                        {"classifier", classifier_name(cfg.classifier)},
                        {"flow_table_size", cfg.flow_table_size},
                        {"mark_mask", cfg.mark_mask},
                        {"rule_priority", cfg.rule_priority},
                        {"route_protocol", cfg.route_protocol},
                        {"local_table", cfg.local_table},
                        {"sticky_pair", cfg.sticky_pair},
                        {"inbound", cfg.inbound_conntrack ? "conntrack" : "none"},
                        {"slot_count", WANLB_SLOT_COUNT}};
  out["wans"] = nlohmann::json::array();
  for (const auto& w : cfg.wans)
    out["wans"].push_back({{"id", w.id},
                           {"name", w.name},
                           {"interface", w.interface},
                           {"gateway", gateway_text(w)},
                           {"weight", w.weight},
                           {"tier", w.tier},
                           {"mark", w.mark},
                           {"table", w.table},
                           {"slots", slots[w.id]},
                           {"share", double(slots[w.id]) / WANLB_SLOT_COUNT},
                           {"nat", nat_mode_name(w.nat)},
                           {"nat6", nat_mode_name(w.nat6)},
                           {"probe", probe_text(w)}});
  out["bypass"] = nlohmann::json::array();
  for (const auto& p : cfg.bypass) out["bypass"].push_back(p.str());
  out["policies"] = nlohmann::json::array();
  for (const auto& p : cfg.policies)
    out["policies"].push_back({{"name", p.name},
                               {"source_prefixes", p.source.size()},
                               {"destination_prefixes", p.destination.size()},
                               {"protocol", p.protocol},
                               {"to", p.action == PolicyAction::Bypass    ? nlohmann::json("bypass")
                                      : p.action == PolicyAction::Balance ? nlohmann::json("balance")
                                                                          : nlohmann::json(p.wans)}});
  return out;
}

}  // namespace wanlb

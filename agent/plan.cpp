#include "plan.h"

#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <sstream>

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
  return c;
}

std::vector<BypassEntry> plan_bypass(const Config& cfg, const ConnectedSet& connected) {
  std::vector<BypassEntry> out;
  for (const auto& p : cfg.bypass) out.push_back({p, WANLB_BYPASS_CONFIG});
  for (const auto& p : connected.connected) out.push_back({p, WANLB_BYPASS_CONNECTED});
  for (const auto& p : connected.local) out.push_back({p, WANLB_BYPASS_LOCAL});
  return out;
}

std::string describe_plan(const Config& cfg) {
  std::vector<SlotMember> members;
  for (const auto& w : cfg.wans) members.push_back({w.id, w.name, w.weight});
  std::vector<uint32_t> quota = slot_quota(members, WANLB_SLOT_COUNT);
  uint32_t total_weight = 0;
  for (const auto& w : cfg.wans) total_weight += w.weight;

  std::ostringstream out;
  char line[256];
  out << "config " << cfg.source << ": valid\n";
  out << "lan: ";
  for (size_t i = 0; i < cfg.lan.size(); i++) out << (i ? ", " : "") << cfg.lan[i];
  out << "\nclassifier: " << classifier_name(cfg.classifier) << "\n";
  std::snprintf(line, sizeof(line), "flow table: %u entries; mark mask 0x%08x; rule priority %u; route protocol %u\n",
                cfg.flow_table_size, cfg.mark_mask, cfg.rule_priority, cfg.route_protocol);
  out << line;
  std::snprintf(line, sizeof(line), "%-3s %-15s %-15s %-39s %6s %8s %12s %6s %8s\n", "ID", "WAN", "INTERFACE",
                "GATEWAY", "WEIGHT", "SHARE", "MARK", "TABLE", "SLOTS");
  out << line;
  for (size_t i = 0; i < cfg.wans.size(); i++) {
    const auto& w = cfg.wans[i];
    std::string gw = w.has_gateway ? w.gateway.str() : "(point-to-point: via device)";
    char mark[16];
    std::snprintf(mark, sizeof(mark), "0x%x", w.mark);
    std::snprintf(line, sizeof(line), "%-3u %-15s %-15s %-39s %6u %7.2f%% %12s %6u %8u\n", w.id, w.name.c_str(),
                  w.interface.c_str(), gw.c_str(), w.weight, 100.0 * w.weight / total_weight, mark, w.table,
                  quota[i]);
    out << line;
  }
  out << "rules:\n";
  for (const auto& w : cfg.wans) {
    std::snprintf(line, sizeof(line), "  ip rule add fwmark 0x%x/0x%x lookup %u pref %u proto %u   # %s, IPv4 and IPv6\n",
                  w.mark, cfg.mark_mask, w.table, cfg.rule_priority, cfg.route_protocol, w.name.c_str());
    out << line;
  }
  out << "routes:\n";
  for (const auto& w : cfg.wans) {
    std::string via = w.has_gateway ? "via " + w.gateway.str() + " " : "";
    out << "  " << (w.has_gateway && w.gateway.family == AF_INET6 ? "::/0" : "default") << " " << via << "dev "
        << w.interface << " table " << w.table << " proto " << cfg.route_protocol << "\n";
  }
  out << "bypass (plus connected networks and local addresses, followed live):";
  if (cfg.bypass.empty()) out << " none configured";
  for (const auto& p : cfg.bypass) out << " " << p.str();
  out << "\n";
  std::snprintf(line, sizeof(line), "slot table: %u slots (weighted Maglev)\n", WANLB_SLOT_COUNT);
  out << line;
  return out.str();
}

}  // namespace wanlb

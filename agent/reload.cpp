#include "reload.h"

#include <algorithm>
#include <set>

#include "datapath.h"

namespace wanlb {

namespace {

uint32_t lowest_bit(uint32_t mask) { return mask ? static_cast<uint32_t>(__builtin_ctz(mask)) : 0; }

[[noreturn]] void refuse(const Config& next, const std::string& key, const std::string& why) {
  throw ConfigError(next.source + ": " + key + ": " + why);
}

}  // namespace

void keep_wan_ids(const Config& running, Config* next) {
  std::set<uint32_t> taken;
  for (auto& w : next->wans) {
    w.id = 0;
    for (const auto& old : running.wans)
      if (old.name == w.name) w.id = old.id;
    if (w.id) taken.insert(w.id);
  }
  uint32_t candidate = 1;
  for (auto& w : next->wans) {
    if (w.id) continue;
    while (taken.count(candidate)) candidate++;
    if (candidate > WANLB_MAX_WANS) refuse(*next, "wans", "no free WAN id left");
    w.id = candidate;
    taken.insert(candidate);
  }
  std::set<uint32_t> marks, tables;
  for (size_t i = 0; i < next->wans.size(); i++) {
    WanConfig& w = next->wans[i];
    if (!w.mark_explicit) w.mark = w.id << lowest_bit(next->mark_mask);
    if (!w.table_explicit) w.table = next->first_table + w.id - 1;
    std::string key = "wans[" + std::to_string(i) + "]";
    if (!marks.insert(w.mark).second)
      refuse(*next, key + ".mark", "mark clash once WAN ids are kept stable across the reload (restart instead)");
    if (!tables.insert(w.table).second || w.table == next->local_table)
      refuse(*next, key + ".table", "table clash once WAN ids are kept stable across the reload (restart instead)");
  }
  for (auto& p : next->policies)
    for (size_t k = 0; k < p.wans.size(); k++)
      for (const auto& w : next->wans)
        if (w.name == p.wans[k]) p.wan_ids[k] = w.id;
}

bool routes_first(const Config& running, const Config& next) {
  if (running.rule_priority != next.rule_priority || running.local_table != next.local_table) return true;
  auto routed_alike = [](const WanConfig& a, const WanConfig& b) {
    return a.id == b.id && a.interface == b.interface && a.has_gateway == b.has_gateway &&
           (!a.has_gateway || a.gateway == b.gateway) && a.gateway_auto == b.gateway_auto &&
           a.has_gateway6 == b.has_gateway6 && (!a.has_gateway6 || a.gateway6 == b.gateway6) &&
           a.gateway6_auto == b.gateway6_auto && a.mark == b.mark && a.table == b.table && a.nat == b.nat &&
           a.nat6 == b.nat6;
  };
  for (const auto& w : next.wans) {
    auto old = std::find_if(running.wans.begin(), running.wans.end(),
                            [&](const WanConfig& o) { return o.name == w.name; });
    if (old == running.wans.end() || !routed_alike(*old, w)) return true;
  }
  return false;
}

void check_reloadable(const Config& running, const Config& next, uint32_t pair_entries) {
  const char* why = "changing it needs a restart; the running config stays in force";
  if (next.flow_table_size != running.flow_table_size) refuse(next, "flow_table_size", why);
  if (next.mark_mask != running.mark_mask) refuse(next, "mark_mask", why);
  if (next.bpffs_dir != running.bpffs_dir) refuse(next, "bpffs_dir", why);
  if (next.route_protocol != running.route_protocol) refuse(next, "route_protocol", why);
  if (pair_entries < pair_table_size(next.sticky_pair, next.flow_table_size))
    refuse(next, "sticky",
           "turning sticky pairs on needs a restart: the agent started with sticky: none and a pair table of " +
               std::to_string(pair_entries) + " entries (it is sized when the data path loads); the running config "
               "stays in force");
}

}  // namespace wanlb

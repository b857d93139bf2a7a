#include "failover.h"

#include <algorithm>

namespace wanlb {

bool keeps_flows(WanState s) { return s == WanState::Up || s == WanState::Degraded; }

namespace {

// Lowest tier that has a WAN in state `s`; 0 if none.
uint32_t lowest_tier_with(const std::vector<WanView>& wans, WanState s) {
  uint32_t tier = 0;
  for (const auto& w : wans)
    if (w.state == s && !w.drained && (tier == 0 || w.tier < tier)) tier = w.tier;
  return tier;
}

}  // namespace

ActiveSet active_set(const std::vector<WanView>& wans) {
  ActiveSet set;
  WanState wanted = WanState::Up;
  set.tier = lowest_tier_with(wans, WanState::Up);
  if (set.tier == 0) {
    wanted = WanState::Degraded;
    set.tier = lowest_tier_with(wans, WanState::Degraded);
  }
  if (set.tier == 0) return set;
  for (const auto& w : wans) {
    if (w.tier != set.tier) continue;
    set.members.push_back({w.id, w.name, w.weight});
    if (w.state == wanted && !w.drained) set.live.push_back({w.id, w.name, w.weight});
  }
  return set;
}

std::vector<uint32_t> SlotPlanner::table(const std::vector<WanView>& wans) {
  ActiveSet set = active_set(wans);
  if (set.tier == 0) return std::vector<uint32_t>(slot_count_, 0);
  auto it = base_by_tier_.find(set.tier);
  if (it == base_by_tier_.end())
    it = base_by_tier_.emplace(set.tier, build_slot_table(set.members, slot_count_)).first;
  return failover_table(it->second, set.live);
}

}  // namespace wanlb

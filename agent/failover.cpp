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
  Base& base = base_by_tier_[set.tier];
  if (base.table.empty() || base.members != set.members) {
    base.table = build_slot_table(set.members, slot_count_);
    base.members = set.members;
  }
  return failover_table(base.table, set.live);
}

}  // namespace wanlb

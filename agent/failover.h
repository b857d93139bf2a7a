// Which WANs take new connections, from tiers and health, and the slot
// table that expresses it. Pure: the agent feeds it health, tests feed it
// whatever they like.
//
// Rules:
//  - new connections go to the `up` WANs of the lowest tier that has one;
//  - a higher tier carries traffic only while every WAN of the lower tiers
//    is down (primary/backup failover is two tiers);
//  - if no WAN at all is up, the `degraded` WANs of the lowest tier that has
//    one take over (a poor link beats none);
//  - a drained WAN takes no new connections (its tier may still be active
//    through its other WANs);
//  - within the active tier, the slots of a WAN that is not live go to the
//    live ones by weight and a live WAN keeps every slot it had
//    (failover_table), so recovery restores the configured table exactly.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "health.h"
#include "slot_table.h"

namespace wanlb {

struct WanView {
  uint32_t id = 0;
  std::string name;
  uint32_t weight = 1;
  uint32_t tier = 1;
  WanState state = WanState::Up;
  bool drained = false;  // operator's `wanlb drain`: no new connections, flows stay
};

// True if the data path may keep existing flows on this WAN (flag UP):
// up or degraded. Down and probing WANs lose their flows to live WANs.
bool keeps_flows(WanState s);

struct ActiveSet {
  uint32_t tier = 0;                // 0: no WAN can take traffic
  std::vector<SlotMember> members;  // every configured WAN of that tier
  std::vector<SlotMember> live;     // the ones taking new connections
};
ActiveSet active_set(const std::vector<WanView>& wans);

// Slot tables per tier, built once (Maglev over all WANs of the tier) and
// reused while the tier's members (ids, names, weights) stay the same: a
// failover only reassigns the dead WANs' slots, and a reload that changes
// no member of a tier does not rebuild its table.
class SlotPlanner {
 public:
  explicit SlotPlanner(uint32_t slot_count) : slot_count_(slot_count) {}
  std::vector<uint32_t> table(const std::vector<WanView>& wans);

 private:
  struct Base {
    std::vector<SlotMember> members;  // what `table` was built from
    std::vector<uint32_t> table;
  };
  uint32_t slot_count_;
  std::map<uint32_t, Base> base_by_tier_;
};

}  // namespace wanlb

// What a config means for the data path, computed without touching the
// system: WAN entries, slot table, data-path settings, bypass set. `check`
// prints it, `run` writes it into the maps.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config.h"
#include "connected.h"
#include "map_io.h"
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

// The human-readable plan `wanlb check` prints.
std::string describe_plan(const Config& cfg);

}  // namespace wanlb

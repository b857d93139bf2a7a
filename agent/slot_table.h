// Weighted consistent-hash slot table (Maglev, prime table size).
//
// The data path hashes a connection's selected fields to a slot
// (hash % WANLB_SLOT_COUNT) and reads the WAN id stored there. This file
// builds that table in user space; the agent writes only changed entries.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wanlb {

struct SlotMember {
  uint32_t id;       // WAN id (1..64); 0 is reserved for "empty"
  std::string name;  // seeds this member's permutation: stable across restarts and reorders
  uint32_t weight;   // 1..1000
  bool operator==(const SlotMember& o) const { return id == o.id && name == o.name && weight == o.weight; }
};

// Exact slot counts: largest-remainder split of `slot_count` by weight
// (sum == slot_count), in the order of `members`.
std::vector<uint32_t> slot_quota(const std::vector<SlotMember>& members, uint32_t slot_count);

// Build a table of `slot_count` entries (slot_count must be prime). Each
// member owns exactly slot_quota() entries; with no members every entry is 0.
// Deterministic: the same members (in any order) give the same table.
std::vector<uint32_t> build_slot_table(const std::vector<SlotMember>& members, uint32_t slot_count);

}  // namespace wanlb

namespace wanlb {

// The table to use while some members of `base` are down. `base` was built
// over every member of the active tier; `live` are the members still up.
// Live members keep every slot they own (an address pair on a surviving WAN
// never moves), and the slots of dead members are split among the live ones
// in proportion to their weights, interleaved along the table. No live
// member -> all zeros.
std::vector<uint32_t> failover_table(const std::vector<uint32_t>& base, const std::vector<SlotMember>& live);

}  // namespace wanlb

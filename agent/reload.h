// What a config reload may change, and how WANs keep their identity.
//
// A WAN is known to the data path by its id (index of wanlb_wans, value in
// every slot and flow entry), and to routing by its mark and table. A
// reload that adds, removes or reorders WANs must not renumber the WANs
// that stay, or established flows would silently follow another WAN: so a
// WAN keeps its id by name, new WANs take free ids, and a mark or table
// that was derived from the id (not set explicitly) is derived again.
#pragma once

#include "config.h"

namespace wanlb {

// Renumber `next`'s WANs so that names present in `running` keep their ids;
// re-derive marks and tables that were not explicit; check that marks and
// tables are still unique. Throws ConfigError naming the clash.
void keep_wan_ids(const Config& running, Config* next);

// Keys a running data path cannot take without a restart (they size maps,
// re-mark every flow, or move the pins): flow_table_size, mark_mask,
// bpffs_dir, route_protocol; and `sticky: pair` when the running pair table
// (`pair_entries`, the max_entries of wanlb_pairs) was sized for `sticky:
// none`. Throws ConfigError naming the key.
void check_reloadable(const Config& running, const Config& next, uint32_t pair_entries);

// True if `next` (WAN ids kept) routes some WAN in a way `running` does
// not: a new WAN, or one whose interface, gateways, mark, table or NAT
// changed, or a new rule_priority / local_table. Such a reload installs the
// new rules, routes and NAT before any slot or policy names the WAN (make
// before break); a reload that only changes weights, tiers, probes or
// policies among the same WANs writes the maps first.
bool routes_first(const Config& running, const Config& next);

}  // namespace wanlb

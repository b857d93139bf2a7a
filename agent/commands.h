// The read and maintenance verbs: status, flows, cleanup, check (reload and
// drain are in ctl.h). Each works from a separate process (a separate `ip
// netns exec`): status and flows ask the agent over its control socket and
// read the maps themselves when no agent runs.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "config.h"
#include "datapath.h"

namespace wanlb {

int cmd_check(const Config& cfg, bool json);
int cmd_status(const std::string& bpffs_dir, bool json);
int cmd_flows(const std::string& bpffs_dir, bool json, const std::string& wan_filter);
int cmd_cleanup(const std::string& bpffs_dir, uint32_t route_protocol);

// The JSON of `status --json` / `flows --json`, read from the maps; the agent
// serves the same over its control socket (adding an "agent" object).
// flows_json throws std::invalid_argument for an unknown WAN name.
nlohmann::json status_json(const MapFds& maps, const std::string& source);
nlohmann::json flows_json(const MapFds& maps, const std::string& wan_filter);

}  // namespace wanlb

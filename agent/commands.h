// The read and maintenance verbs: status, flows, cleanup, check. Each works
// from a separate process (a separate `ip netns exec`) while an agent runs.
#pragma once

#include <string>

#include "config.h"

namespace wanlb {

int cmd_check(const Config& cfg);
int cmd_status(const std::string& bpffs_dir, bool json);
int cmd_flows(const std::string& bpffs_dir, bool json, const std::string& wan_filter);
int cmd_cleanup(const std::string& bpffs_dir, uint32_t route_protocol);

}  // namespace wanlb

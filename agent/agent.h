// `wanlb run`: program the data path and routing from a config, then keep
// them current (connected networks, interface changes) until stopped.
#pragma once

#include <string>

#include "config.h"

namespace wanlb {

// Runs until SIGINT/SIGTERM. On exit the data path stays in place, so a
// restarted agent adopts it without a gap; `wanlb cleanup` removes it.
// Returns the process exit code.
// Parse `path` and check what needs the system: interfaces exist (LAN
// entries may be patterns; WAN interfaces may not). Throws ConfigError.
Config load_validated_config(const std::string& path, bool check_interfaces);

// `config_path` is re-read on SIGHUP or `wanlb reload`.
int run_agent(const Config& cfg, const std::string& config_path);

}  // namespace wanlb

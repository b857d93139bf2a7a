// `wanlb run`: program the data path and routing from a config, then keep
// them current (connected networks, interface changes) until stopped.
#pragma once

#include "config.h"

namespace wanlb {

// Runs until SIGINT/SIGTERM. On exit the data path stays in place, so a
// restarted agent adopts it without a gap; `wanlb cleanup` removes it.
// Returns the process exit code.
int run_agent(const Config& cfg);

}  // namespace wanlb

// The verbs only a running agent can do: reload, drain, undrain. They send
// one request over the control socket (control.h) and print the answer.
// Kept apart from commands.h, and free of libbpf, libnl, libnftables and the
// metrics server, so that the small `wanlb` front binary (wanlb_front.cpp)
// can serve them without loading any of those (see there why).
#pragma once

#include <string>

namespace wanlb {

// Exit codes as for the CLI: 0 done; 1 refused or failed; 2 the agent
// refused the config; 3 no agent runs in this network namespace.
int cmd_reload();
int cmd_drain(const std::string& wan, bool drain);

}  // namespace wanlb

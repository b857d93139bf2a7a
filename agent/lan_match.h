// LAN interfaces may be given as glob patterns (`lxc*`, `cali*`, `veth*`)
// for Kubernetes nodes, where pod interfaces come and go: the agent attaches
// to every interface that matches, as it appears, and forgets it as it goes.
#pragma once

#include <string>
#include <vector>

namespace wanlb {

// True if `name` holds a glob character (* ? [).
bool is_interface_pattern(const std::string& name);

// The interfaces of `present` that match any entry of `lan` (a literal name
// or a pattern), each once, in the order of `present`.
std::vector<std::string> match_lan_interfaces(const std::vector<std::string>& lan,
                                              const std::vector<std::string>& present);

// Names of the interfaces of this network namespace.
std::vector<std::string> interface_names();

}  // namespace wanlb

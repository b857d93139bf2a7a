// What wanlb changed in this network namespace that cannot be recognised on
// the system itself (old sysctl values, clsact qdiscs it created). Kept in a
// small JSON file under /run/wanlb, named after the network namespace, so a
// separate `ip netns exec NS wanlb cleanup` finds it (/run is not remounted).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sysctl.h"

namespace wanlb {

struct AppliedState {
  std::vector<SysctlChange> sysctls;        // first recorded old value wins
  std::vector<std::string> clsact_created;  // interfaces where we created clsact
  std::vector<std::string> lan;             // interfaces we attached to
  std::string bpffs_dir;                    // where we pinned
  uint32_t route_protocol = 0;              // stamped on our rules and routes
  int agent_pid = 0;                        // the running agent (0 once it exited)
};

// True if `pid` is alive and is a wanlb process (cleanup refuses while one runs).
bool agent_alive(int pid);

// "netns-<cookie>": names this network namespace's files in /run/wanlb
// (the cookie, SO_NETNS_COOKIE, is never reused while the machine is up).
std::string netns_name();
// "/run/wanlb/netns-<cookie>.json" (run_dir overridable for tests).
std::string state_path(const std::string& run_dir = "/run/wanlb");
AppliedState load_state(const std::string& path);  // empty state if the file is missing
void save_state(const std::string& path, const AppliedState& st);  // atomic (write + rename)
void remove_state(const std::string& path);
// Record a change, keeping the first old value of a key already recorded.
void record_sysctl(AppliedState* st, const SysctlChange& change);

}  // namespace wanlb

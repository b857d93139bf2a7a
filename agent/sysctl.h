// Kernel settings wanlb needs (forwarding, loose rp_filter on WANs), set in
// the current network namespace through /proc/sys, with the old value kept
// so that `wanlb cleanup` can put it back.
#pragma once

#include <optional>
#include <string>

namespace wanlb {

struct SysctlChange {
  std::string key;  // "net/ipv4/conf/eth1/rp_filter"
  std::string old_value;
  std::string new_value;
};

// Read a value (trimmed); throws std::runtime_error naming the key on failure.
std::string sysctl_get(const std::string& key);
// Write `value` if different; returns the change made, or nullopt if it already held.
std::optional<SysctlChange> sysctl_set(const std::string& key, const std::string& value);

}  // namespace wanlb

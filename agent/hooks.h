// State-change hooks: an operator's command run on every WAN state change
// (like mwan3 hotplug scripts or RouterOS netwatch up/down scripts). It runs
// in the background with the change in its environment; its failure or
// timeout is logged and never blocks the agent.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace wanlb {

class HookRunner {
 public:
  // `command`: absolute path of an executable (no shell); empty = no hook.
  explicit HookRunner(std::string command, uint32_t timeout_ms = 10000);
  ~HookRunner();  // kills and reaps what still runs
  HookRunner(const HookRunner&) = delete;
  HookRunner& operator=(const HookRunner&) = delete;

  // Start the command with these extra environment variables (added to the
  // agent's environment), e.g. WANLB_WAN=isp1 WANLB_OLD_STATE=up
  // WANLB_NEW_STATE=down WANLB_REASON="..." WANLB_INTERFACE=eth1.
  // Never blocks; a spawn failure is logged.
  void run(const std::map<std::string, std::string>& env);
  // Reap finished hooks (log non-zero exits) and kill those past the timeout.
  // Call it from the main loop.
  void reap(uint64_t now_ms);
  size_t running() const { return children_.size(); }

 private:
  std::string command_;
  uint32_t timeout_ms_;
  struct Child {
    int pid;
    uint64_t started_ms;
    std::string what;
  };
  std::vector<Child> children_;
};

}  // namespace wanlb

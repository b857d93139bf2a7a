// Milliseconds for poll(2) until a monotonic deadline: the agent's loop and
// the control socket (control.cpp) both wait with it.
#pragma once

#include <cstdint>

namespace wanlb {

// Rounded up: poll takes whole milliseconds, and a deadline 0.4 ms away
// rounded down to 0 would make the loop spin (poll returns at once, again
// and again) until the deadline passes. 0 when it has passed.
inline int poll_ms_until(uint64_t deadline_ns, uint64_t now_ns) {
  constexpr uint64_t kNsPerMs = 1000000ULL;
  if (deadline_ns <= now_ns) return 0;
  const uint64_t d = deadline_ns - now_ns;
  const uint64_t ms = d / kNsPerMs + (d % kNsPerMs != 0);
  return ms > 1000000 ? 1000000 : static_cast<int>(ms);
}

}  // namespace wanlb

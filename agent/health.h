// Health of one WAN: the probe state machine. Pure logic with the time
// passed in (milliseconds, monotonic), so tests drive it with a fake clock.
//
//   up ──(`down` failed rounds in a row)──► down
//   up ──(loss or RTT over the limit in the quality window)──► degraded
//   degraded ──(`down` failed rounds)──► down
//   degraded ──(`up` passed rounds in a row and quality back within limits)──► up
//   down / probing ──(`up` passed rounds in a row)──► up (or degraded if quality fails)
//   any ──(carrier lost, interface gone, no gateway)──► down at once
//   down ──(carrier back / gateway back)──► probing
//
// Only `up` carries traffic; `degraded` carries it only while no WAN at all
// is up (see live_wans in the agent). Method `none`: up unless the carrier is down.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "config.h"

namespace wanlb {

enum class WanState : uint32_t { Up = 0, Down = 1, Degraded = 2, Probing = 3 };
const char* state_name(WanState s);  // "up", "down", "degraded", "probing"

// The outcome of one probe round: every target was probed once.
struct RoundResult {
  uint32_t sent = 0;
  uint32_t answered = 0;
  std::vector<uint32_t> rtt_us;  // one per answered probe
};

class HealthMachine {
 public:
  HealthMachine(const ProbeConfig& cfg, WanState initial, uint64_t now_ms);

  // Feed a finished round. Returns true if the state changed.
  bool on_round(const RoundResult& r, uint64_t now_ms);
  // Carrier (or interface presence) changed. Returns true if the state changed.
  bool on_link(bool carrier, uint64_t now_ms);
  // The WAN's gateway vanished or came back (gateway: auto). Same rules as on_link.
  bool on_gateway(bool present, uint64_t now_ms);

  WanState state() const { return state_; }
  uint64_t since_ms() const { return since_ms_; }
  const std::string& reason() const { return reason_; }
  uint32_t rtt_us() const;    // mean RTT of answered probes in the window; 0 if none
  uint32_t loss_ppm() const;  // lost / sent probes in the window, parts per million
  bool link_ok() const { return carrier_ && gateway_present_; }

 private:
  bool set(WanState s, uint64_t now_ms, std::string reason);
  bool quality_ok(std::string* why) const;
  void trim_window(uint64_t now_ms);

  ProbeConfig cfg_;
  WanState state_;
  uint64_t since_ms_;
  std::string reason_;
  uint32_t fails_in_row_ = 0;
  uint32_t passes_in_row_ = 0;
  bool carrier_ = true;
  bool gateway_present_ = true;
  struct Sample {
    uint64_t at_ms;
    RoundResult round;
  };
  std::deque<Sample> window_;
};

}  // namespace wanlb

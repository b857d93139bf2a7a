// Health of one WAN: the probe state machine. See health.h for the diagram.
//
// Design notes (why, not what):
// - Pure logic, the clock is passed in: no system calls here, and no
//   dependency on config.cpp (only ProbeConfig's fields are read), so the
//   unit test links this file alone.
// - A round's pass/fail drives up/down (hysteresis via the `down` / `up`
//   counters); the sliding quality window drives degraded. The two are kept
//   apart so that a link that answers every round but slowly is degraded,
//   not down.
// - When the carrier or the gateway comes back, the quality window is
//   cleared as well as the counters: the rounds recorded during the outage
//   were all lost, and that loss is the outage (already handled as `down`),
//   not the quality of the link that just came back. Otherwise a WAN would
//   come back as `degraded` for a whole window after every cable pull.
#include "health.h"

#include <algorithm>
#include <utility>

namespace wanlb {

const char* state_name(WanState s) {
  switch (s) {
    case WanState::Up: return "up";
    case WanState::Down: return "down";
    case WanState::Degraded: return "degraded";
    case WanState::Probing: return "probing";
  }
  return "unknown";
}

namespace {

// v / scale as a decimal, trailing zeros trimmed but at least `min_dec`
// decimals: decimal(120000, 10000, 1) = "12.0", decimal(200400, 1000, 0) = "200.4".
std::string decimal(uint64_t v, uint64_t scale, int min_dec) {
  std::string s = std::to_string(v / scale);
  uint64_t frac = v % scale;
  std::string digits;
  for (uint64_t d = scale / 10; d > 0; d /= 10) {
    digits += static_cast<char>('0' + (frac / d) % 10);
  }
  while (digits.size() > static_cast<size_t>(min_dec) && !digits.empty() && digits.back() == '0') {
    digits.pop_back();
  }
  if (!digits.empty()) s += "." + digits;
  return s;
}

std::string rounds_text(uint32_t n, const char* what) {
  return std::to_string(n) + (n == 1 ? " probe round " : " probe rounds ") + what + " in a row";
}

}  // namespace

HealthMachine::HealthMachine(const ProbeConfig& cfg, WanState initial, uint64_t now_ms)
    : cfg_(cfg), state_(initial), since_ms_(now_ms), reason_("initial state") {}

bool HealthMachine::set(WanState s, uint64_t now_ms, std::string reason) {
  if (s == state_) return false;
  state_ = s;
  since_ms_ = now_ms;
  reason_ = std::move(reason);
  return true;
}

void HealthMachine::trim_window(uint64_t now_ms) {
  while (!window_.empty() && now_ms > window_.front().at_ms &&
         now_ms - window_.front().at_ms > cfg_.quality_window_ms) {
    window_.pop_front();
  }
}

uint32_t HealthMachine::rtt_us() const {
  uint64_t sum = 0, n = 0;
  for (const Sample& s : window_) {
    for (uint32_t r : s.round.rtt_us) sum += r;
    n += s.round.rtt_us.size();
  }
  return n == 0 ? 0 : static_cast<uint32_t>(sum / n);
}

uint32_t HealthMachine::loss_ppm() const {
  uint64_t sent = 0, lost = 0;
  for (const Sample& s : window_) {
    sent += s.round.sent;
    lost += s.round.sent - std::min(s.round.answered, s.round.sent);
  }
  return sent == 0 ? 0 : static_cast<uint32_t>(lost * 1000000 / sent);
}

bool HealthMachine::quality_ok(std::string* why) const {
  if (cfg_.max_loss_ppm == 0 && cfg_.max_rtt_ms == 0) return true;
  // Judge only a reasonably filled window: right after start (or after the
  // link came back) one lost probe out of two rounds would be 50% loss and
  // flip the WAN to degraded on no evidence. Half a window's worth of rounds,
  // and at least 5, is enough to mean something. A window shorter than 5
  // intervals can never hold 5 rounds, so there the bar is what it can hold
  // (otherwise its limits would silently never apply).
  const uint64_t interval = std::max<uint32_t>(cfg_.interval_ms, 1);
  const uint64_t capacity = std::max<uint64_t>(cfg_.quality_window_ms / interval, 1);
  const uint64_t needed = std::min(std::max<uint64_t>(5, cfg_.quality_window_ms / interval / 2), capacity);
  if (window_.size() < needed) return true;

  const std::string over = " over " + decimal(cfg_.quality_window_ms, 1000, 0) + "s";
  if (cfg_.max_loss_ppm > 0) {
    uint32_t loss = loss_ppm();
    if (loss > cfg_.max_loss_ppm) {
      if (why) {
        *why = "loss " + decimal(loss, 10000, 1) + "% > max_loss " + decimal(cfg_.max_loss_ppm, 10000, 1) + "%" +
               over;
      }
      return false;
    }
  }
  if (cfg_.max_rtt_ms > 0) {
    uint32_t rtt = rtt_us();
    if (rtt > uint64_t{cfg_.max_rtt_ms} * 1000) {
      if (why) {
        *why = "mean RTT " + decimal(rtt, 1000, 0) + "ms > max_rtt " + std::to_string(cfg_.max_rtt_ms) + "ms" + over;
      }
      return false;
    }
  }
  return true;
}

bool HealthMachine::on_round(const RoundResult& r, uint64_t now_ms) {
  // Method none has no rounds; the agent never calls this then. Should it
  // anyway, ignore it: such a WAN's health is its carrier alone.
  if (cfg_.method == ProbeMethod::None) return false;

  trim_window(now_ms);
  window_.push_back(Sample{now_ms, r});

  const uint32_t need = std::max<uint32_t>(cfg_.reliability, 1);
  if (r.answered >= need) {
    ++passes_in_row_;
    fails_in_row_ = 0;
  } else {
    ++fails_in_row_;
    passes_in_row_ = 0;
  }

  // Without carrier or gateway the WAN is down for that reason; rounds only
  // feed the statistics until the link is back.
  if (!link_ok()) return false;

  const uint32_t down_after = std::max<uint32_t>(cfg_.down, 1);
  const uint32_t up_after = std::max<uint32_t>(cfg_.up, 1);
  std::string why;
  switch (state_) {
    case WanState::Up:
      if (fails_in_row_ >= down_after) return set(WanState::Down, now_ms, rounds_text(fails_in_row_, "failed"));
      if (!quality_ok(&why)) return set(WanState::Degraded, now_ms, why);
      return false;
    case WanState::Degraded:
      if (fails_in_row_ >= down_after) return set(WanState::Down, now_ms, rounds_text(fails_in_row_, "failed"));
      if (passes_in_row_ >= up_after && quality_ok(nullptr)) {
        return set(WanState::Up, now_ms, "quality back within limits");
      }
      return false;
    case WanState::Down:
    case WanState::Probing:
      if (passes_in_row_ >= up_after) {
        if (!quality_ok(&why)) return set(WanState::Degraded, now_ms, why);
        return set(WanState::Up, now_ms, rounds_text(passes_in_row_, "passed"));
      }
      return false;
  }
  return false;
}

bool HealthMachine::on_link(bool carrier, uint64_t now_ms) {
  const bool was = carrier_;
  carrier_ = carrier;
  if (!carrier) {
    fails_in_row_ = passes_in_row_ = 0;
    return set(WanState::Down, now_ms, "carrier lost");
  }
  // Only a real lost -> back edge starts probing; a repeated "carrier is up"
  // must not lift a WAN that probes took down.
  if (was || !link_ok() || state_ != WanState::Down) return false;
  fails_in_row_ = passes_in_row_ = 0;
  window_.clear();
  if (cfg_.method == ProbeMethod::None) return set(WanState::Up, now_ms, "carrier back (no probing)");
  return set(WanState::Probing, now_ms, "carrier back, probing");
}

bool HealthMachine::on_gateway(bool present, uint64_t now_ms) {
  const bool was = gateway_present_;
  gateway_present_ = present;
  if (!present) {
    fails_in_row_ = passes_in_row_ = 0;
    return set(WanState::Down, now_ms, "no gateway");
  }
  if (was || !link_ok() || state_ != WanState::Down) return false;
  fails_in_row_ = passes_in_row_ = 0;
  window_.clear();
  if (cfg_.method == ProbeMethod::None) return set(WanState::Up, now_ms, "gateway back (no probing)");
  return set(WanState::Probing, now_ms, "gateway back, probing");
}

}  // namespace wanlb

// Tests for the WAN health state machine (agent/health.cpp).
//
// The machine takes the time as an argument, so the tests drive it with a
// fake clock: one round every interval_ms (200 ms by default).
#include "health.h"

#include <gtest/gtest.h>

#include <string>

namespace wanlb {
namespace {

RoundResult answered(uint32_t rtt_us = 10000) {
  RoundResult r;
  r.sent = 1;
  r.answered = 1;
  r.rtt_us = {rtt_us};
  return r;
}

RoundResult lost() {
  RoundResult r;
  r.sent = 1;
  r.answered = 0;
  return r;
}

// `n` of `sent` targets answered, each with `rtt_us`.
RoundResult some(uint32_t sent, uint32_t n, uint32_t rtt_us = 10000) {
  RoundResult r;
  r.sent = sent;
  r.answered = n;
  r.rtt_us.assign(n, rtt_us);
  return r;
}

// A HealthMachine plus a fake clock that advances one interval per round.
struct Wan {
  explicit Wan(const ProbeConfig& c = ProbeConfig{}, WanState initial = WanState::Up, uint64_t start = 0)
      : cfg(c), now(start), m(c, initial, start) {}
  bool round(const RoundResult& r) {
    now += cfg.interval_ms;
    return m.on_round(r, now);
  }
  // Feed the same round `n` times; returns how many of them changed the state.
  int rounds(int n, const RoundResult& r) {
    int changes = 0;
    for (int i = 0; i < n; ++i) changes += round(r) ? 1 : 0;
    return changes;
  }
  ProbeConfig cfg;
  uint64_t now;
  HealthMachine m;
};

ProbeConfig with_loss(uint32_t ppm) {
  ProbeConfig c;
  c.max_loss_ppm = ppm;
  return c;
}

ProbeConfig with_rtt(uint32_t ms) {
  ProbeConfig c;
  c.max_rtt_ms = ms;
  return c;
}

TEST(Health, StateNames) {
  EXPECT_STREQ(state_name(WanState::Up), "up");
  EXPECT_STREQ(state_name(WanState::Down), "down");
  EXPECT_STREQ(state_name(WanState::Degraded), "degraded");
  EXPECT_STREQ(state_name(WanState::Probing), "probing");
}

TEST(Health, DefaultsTheseTestsRelyOn) {
  ProbeConfig c;
  EXPECT_EQ(c.interval_ms, 200u);
  EXPECT_EQ(c.down, 3u);
  EXPECT_EQ(c.up, 10u);
  EXPECT_EQ(c.reliability, 1u);
  EXPECT_EQ(c.max_loss_ppm, 0u);
  EXPECT_EQ(c.max_rtt_ms, 0u);
  EXPECT_EQ(c.quality_window_ms, 10000u);
}

TEST(Health, InitialStateIsTheCallers) {
  HealthMachine a(ProbeConfig{}, WanState::Up, 500);
  EXPECT_EQ(a.state(), WanState::Up);
  EXPECT_EQ(a.since_ms(), 500u);
  HealthMachine b(ProbeConfig{}, WanState::Degraded, 700);
  EXPECT_EQ(b.state(), WanState::Degraded);
  EXPECT_EQ(b.since_ms(), 700u);
  EXPECT_TRUE(b.link_ok());
}

TEST(Health, UpToDownExactlyOnThirdFailedRound) {
  Wan w;
  EXPECT_FALSE(w.round(lost()));
  EXPECT_FALSE(w.round(lost()));
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_TRUE(w.round(lost()));
  EXPECT_EQ(w.m.state(), WanState::Down);
  EXPECT_EQ(w.m.reason(), "3 probe rounds failed in a row");
  EXPECT_EQ(w.m.since_ms(), 600u);
}

TEST(Health, DownAfterOneRoundWhenDownIsOne) {
  ProbeConfig c;
  c.down = 1;
  Wan w(c);
  EXPECT_TRUE(w.round(lost()));
  EXPECT_EQ(w.m.reason(), "1 probe round failed in a row");
}

TEST(Health, PassInBetweenResetsFailCount) {
  Wan w;
  w.round(lost());
  w.round(lost());
  w.round(answered());
  w.round(lost());
  EXPECT_FALSE(w.round(lost()));
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_TRUE(w.round(lost()));
  EXPECT_EQ(w.m.state(), WanState::Down);
}

TEST(Health, DownToUpExactlyOnTenthPass) {
  Wan w(ProbeConfig{}, WanState::Down);
  EXPECT_EQ(w.rounds(9, answered()), 0);
  EXPECT_EQ(w.m.state(), WanState::Down);
  EXPECT_TRUE(w.round(answered()));
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_EQ(w.m.reason(), "10 probe rounds passed in a row");
  EXPECT_EQ(w.m.since_ms(), 2000u);
}

TEST(Health, FailureAtPassNineRestartsCount) {
  Wan w(ProbeConfig{}, WanState::Down);
  w.rounds(8, answered());
  EXPECT_FALSE(w.round(lost()));  // would have been pass 9
  EXPECT_EQ(w.rounds(9, answered()), 0);
  EXPECT_EQ(w.m.state(), WanState::Down);
  EXPECT_TRUE(w.round(answered()));
  EXPECT_EQ(w.m.state(), WanState::Up);
}

TEST(Health, ProbingFailuresDoNotCountAsPasses) {
  Wan w(ProbeConfig{}, WanState::Probing);
  w.rounds(9, answered());
  w.round(lost());
  EXPECT_EQ(w.m.state(), WanState::Probing);
  EXPECT_EQ(w.rounds(9, answered()), 0);
  EXPECT_TRUE(w.round(answered()));
  EXPECT_EQ(w.m.state(), WanState::Up);
}

TEST(Health, ReliabilityTwoOfThreeTargets) {
  ProbeConfig c;
  c.targets.resize(3);
  c.reliability = 2;
  Wan w(c);
  // 2 of 3 answered is a pass: it breaks the run of failures.
  w.round(some(3, 1));
  w.round(some(3, 1));
  w.round(some(3, 2));
  w.round(some(3, 1));
  EXPECT_FALSE(w.round(some(3, 0)));
  EXPECT_EQ(w.m.state(), WanState::Up);
  // 1 of 3 is a failure.
  EXPECT_TRUE(w.round(some(3, 1)));
  EXPECT_EQ(w.m.state(), WanState::Down);
  // And back up needs 10 rounds of at least 2 answers.
  EXPECT_EQ(w.rounds(9, some(3, 2)), 0);
  EXPECT_FALSE(w.round(some(3, 1)));
  EXPECT_EQ(w.rounds(9, some(3, 3)), 0);
  EXPECT_TRUE(w.round(some(3, 2)));
  EXPECT_EQ(w.m.state(), WanState::Up);
}

TEST(Health, ReliabilityZeroCountsAsOne) {
  ProbeConfig c;
  c.reliability = 0;
  Wan w(c);
  w.rounds(2, some(2, 0));
  EXPECT_FALSE(w.round(some(2, 1)));  // one answer passes
  w.rounds(2, some(2, 0));
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_TRUE(w.round(some(2, 0)));  // no answer fails
}

TEST(Health, DegradedByLoss) {
  Wan w(with_loss(50000));  // 5%
  // Every 10th round lost: 10% loss, but never 3 failures in a row.
  // The window (10 s / 200 ms) is judged from 25 rounds on; by then rounds
  // 10 and 20 are lost: 2 / 25 = 8% > 5%.
  for (int i = 1; i <= 24; ++i) {
    EXPECT_FALSE(w.round(i % 10 == 0 ? lost() : answered())) << "round " << i;
  }
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_TRUE(w.round(answered()));  // round 25
  EXPECT_EQ(w.m.state(), WanState::Degraded);
  EXPECT_EQ(w.m.reason(), "loss 8.0% > max_loss 5.0% over 10s");
  EXPECT_EQ(w.m.loss_ppm(), 80000u);
  // The full window (51 rounds) settles near 10% and stays degraded.
  for (int i = 26; i <= 99; ++i) EXPECT_FALSE(w.round(i % 10 == 0 ? lost() : answered()));
  EXPECT_EQ(w.m.state(), WanState::Degraded);
  EXPECT_EQ(w.m.loss_ppm(), 98039u);  // rounds 49..99: 5 lost / 51
}

TEST(Health, LossAtExactlyTheLimitIsOk) {
  Wan w(with_loss(50000));
  for (int i = 1; i <= 40; ++i) w.round(i == 38 || i == 40 ? lost() : answered());
  EXPECT_EQ(w.m.loss_ppm(), 50000u);  // 2 / 40
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_TRUE(w.round(lost()));  // 3 / 41 = 7.3%
  EXPECT_EQ(w.m.state(), WanState::Degraded);
  EXPECT_EQ(w.m.reason(), "loss 7.317% > max_loss 5.0% over 10s");
}

TEST(Health, DegradedByRtt) {
  Wan w(with_rtt(200));
  EXPECT_EQ(w.rounds(24, answered(250000)), 0);
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_TRUE(w.round(answered(250000)));
  EXPECT_EQ(w.m.state(), WanState::Degraded);
  EXPECT_EQ(w.m.reason(), "mean RTT 250ms > max_rtt 200ms over 10s");
  EXPECT_EQ(w.m.rtt_us(), 250000u);
}

TEST(Health, RttAtExactlyTheLimitIsOk) {
  Wan w(with_rtt(200));
  EXPECT_EQ(w.rounds(60, answered(200000)), 0);
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_TRUE(w.round(answered(200000 + 51 * 1000)));  // mean now 201 ms
  EXPECT_EQ(w.m.state(), WanState::Degraded);
  EXPECT_EQ(w.m.reason(), "mean RTT 201ms > max_rtt 200ms over 10s");
}

TEST(Health, ReasonShowsFractionsOfRttAndWindow) {
  ProbeConfig c = with_rtt(100);
  c.quality_window_ms = 2500;  // judged from max(5, 6) = 6 rounds
  Wan w(c);
  EXPECT_EQ(w.rounds(5, answered(100500)), 0);
  EXPECT_TRUE(w.round(answered(100500)));
  EXPECT_EQ(w.m.reason(), "mean RTT 100.5ms > max_rtt 100ms over 2.5s");
}

TEST(Health, QualityOffWhenNoLimits) {
  Wan w;
  for (int i = 0; i < 200; ++i) EXPECT_FALSE(w.round(i % 2 ? lost() : answered(900000)));
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_EQ(w.m.loss_ppm(), 509803u);  // 26 lost of the 51 rounds in the window
  EXPECT_EQ(w.m.rtt_us(), 900000u);
}

TEST(Health, QualityCheckWaitsForEnoughSamples) {
  // One loss right after start must not flip anything: 2 lost of the first
  // rounds is a huge percentage, but the window is judged only from
  // max(5, 10000 / 200 / 2) = 25 rounds on.
  Wan w(with_loss(50000));
  w.round(lost());
  w.round(lost());
  EXPECT_EQ(w.rounds(21, answered()), 0);
  EXPECT_EQ(w.m.loss_ppm(), 86956u);  // 2 / 23, over the limit but too few rounds
  EXPECT_FALSE(w.round(answered()));  // 24 rounds
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_TRUE(w.round(answered()));  // 25 rounds: 8%
  EXPECT_EQ(w.m.state(), WanState::Degraded);
}

TEST(Health, QualityCheckNeedsAtLeastFiveRounds) {
  ProbeConfig c = with_loss(50000);
  c.quality_window_ms = 1000;  // 1000 / 200 / 2 = 2, but at least 5
  Wan w(c);
  w.round(lost());
  EXPECT_EQ(w.rounds(3, answered()), 0);
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_TRUE(w.round(answered()));  // 5th round: 1 / 5 = 20%
  EXPECT_EQ(w.m.state(), WanState::Degraded);
  EXPECT_EQ(w.m.reason(), "loss 20.0% > max_loss 5.0% over 1s");
}

TEST(Health, WindowShorterThanFiveIntervalsIsStillJudged) {
  ProbeConfig c = with_rtt(100);
  c.quality_window_ms = 400;  // holds 2 or 3 rounds; the bar is 2
  Wan w(c);
  EXPECT_FALSE(w.round(answered(300000)));
  EXPECT_TRUE(w.round(answered(300000)));
  EXPECT_EQ(w.m.state(), WanState::Degraded);
}

TEST(Health, BackToUpOnlyWhenQualityIsBackToo) {
  Wan w(with_loss(50000));
  w.rounds(24, answered());
  w.round(lost());  // 1 / 25 = 4%
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_TRUE(w.round(lost()));  // 2 / 26
  EXPECT_EQ(w.m.state(), WanState::Degraded);
  // 10 passes (rounds 27..36) are not enough while the window is over 5%;
  // 2 / 40 = 5% is reached at round 40.
  EXPECT_EQ(w.rounds(13, answered()), 0);  // rounds 27..39
  EXPECT_EQ(w.m.state(), WanState::Degraded);
  EXPECT_TRUE(w.round(answered()));  // round 40
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_EQ(w.m.reason(), "quality back within limits");
}

TEST(Health, DegradedBackToUpNeedsUpPassedRounds) {
  ProbeConfig c = with_loss(500000);  // 50%: quality stays fine here
  Wan w(c, WanState::Degraded);
  w.rounds(5, answered());
  w.round(lost());
  EXPECT_EQ(w.rounds(9, answered()), 0);
  EXPECT_EQ(w.m.state(), WanState::Degraded);
  EXPECT_TRUE(w.round(answered()));
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_EQ(w.m.reason(), "quality back within limits");
}

TEST(Health, DegradedToDownOnFailures) {
  Wan w(with_rtt(200), WanState::Degraded);
  w.rounds(2, lost());
  EXPECT_EQ(w.m.state(), WanState::Degraded);
  EXPECT_TRUE(w.round(lost()));
  EXPECT_EQ(w.m.state(), WanState::Down);
  EXPECT_EQ(w.m.reason(), "3 probe rounds failed in a row");
}

TEST(Health, DownComesBackDegradedWhenQualityFails) {
  ProbeConfig c = with_rtt(200);
  c.targets.resize(2);
  c.reliability = 2;
  Wan w(c, WanState::Down);
  EXPECT_EQ(w.rounds(20, some(2, 1, 300000)), 0);  // failing rounds, slow answers
  EXPECT_EQ(w.rounds(9, some(2, 2, 300000)), 0);
  EXPECT_TRUE(w.round(some(2, 2, 300000)));
  EXPECT_EQ(w.m.state(), WanState::Degraded);
  EXPECT_EQ(w.m.reason(), "mean RTT 300ms > max_rtt 200ms over 10s");
  EXPECT_EQ(w.m.loss_ppm(), 333333u);  // 20 lost of 60
}

TEST(Health, OldSamplesAgeOutOfTheWindow) {
  Wan w(with_rtt(200));
  w.rounds(30, answered(400000));  // t = 200 .. 6000
  EXPECT_EQ(w.m.state(), WanState::Degraded);
  // Exactly one window later the newest bad sample (t = 6000) is still in:
  // the mean is (400 + 100) / 2. With only 2 rounds in the window the
  // quality is not judged, and 31 passes in a row bring it back up.
  EXPECT_TRUE(w.m.on_round(answered(100000), 16000));
  EXPECT_EQ(w.m.rtt_us(), 250000u);
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_EQ(w.m.reason(), "quality back within limits");
  // 1 ms later it is gone.
  EXPECT_FALSE(w.m.on_round(answered(100000), 16001));
  EXPECT_EQ(w.m.rtt_us(), 100000u);
}

TEST(Health, LossAgesOutRoundByRound) {
  ProbeConfig c = with_loss(100000);  // 10%
  c.quality_window_ms = 2000;         // holds 11 rounds at 200 ms; judged from 5
  Wan w(c);
  w.rounds(10, answered());
  w.round(lost());
  w.round(lost());  // 2 / 11 = 18%
  EXPECT_EQ(w.m.state(), WanState::Degraded);
  // The lost rounds stay in the window for 10 more rounds, then leave.
  EXPECT_EQ(w.rounds(9, answered()), 0);
  EXPECT_EQ(w.m.loss_ppm(), 181818u);  // 2 / 11
  EXPECT_TRUE(w.round(answered()));     // first lost one ages out: 1 / 11 = 9%
  EXPECT_EQ(w.m.loss_ppm(), 90909u);
  EXPECT_EQ(w.m.state(), WanState::Up);
  w.round(answered());
  EXPECT_EQ(w.m.loss_ppm(), 0u);
}

TEST(Health, CarrierLostAndBack) {
  Wan w;
  w.rounds(5, answered());
  EXPECT_TRUE(w.m.on_link(false, 1234));
  EXPECT_EQ(w.m.state(), WanState::Down);
  EXPECT_EQ(w.m.reason(), "carrier lost");
  EXPECT_EQ(w.m.since_ms(), 1234u);
  EXPECT_FALSE(w.m.link_ok());
  EXPECT_FALSE(w.m.on_link(false, 1300));
  EXPECT_EQ(w.m.since_ms(), 1234u);

  w.now = 1234;
  EXPECT_TRUE(w.m.on_link(true, 1500));
  EXPECT_EQ(w.m.state(), WanState::Probing);
  EXPECT_EQ(w.m.reason(), "carrier back, probing");
  EXPECT_EQ(w.m.since_ms(), 1500u);
  EXPECT_TRUE(w.m.link_ok());
  w.now = 1500;
  EXPECT_EQ(w.rounds(9, answered()), 0);
  EXPECT_EQ(w.m.state(), WanState::Probing);
  EXPECT_TRUE(w.round(answered()));
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_EQ(w.m.reason(), "10 probe rounds passed in a row");
}

TEST(Health, CarrierLostFromDegraded) {
  Wan w(with_rtt(200), WanState::Degraded);
  EXPECT_TRUE(w.m.on_link(false, 50));
  EXPECT_EQ(w.m.state(), WanState::Down);
  EXPECT_EQ(w.m.reason(), "carrier lost");
}

TEST(Health, RoundsWhileCarrierDownDoNotBringItUp) {
  Wan w;
  w.m.on_link(false, 0);
  EXPECT_EQ(w.rounds(50, answered()), 0);
  EXPECT_EQ(w.m.state(), WanState::Down);
  EXPECT_EQ(w.m.reason(), "carrier lost");
  // They are still recorded in the statistics.
  EXPECT_EQ(w.m.rtt_us(), 10000u);
  // And the passes seen meanwhile do not count once the carrier is back.
  EXPECT_TRUE(w.m.on_link(true, w.now));
  EXPECT_FALSE(w.round(answered()));
  EXPECT_EQ(w.m.state(), WanState::Probing);
}

TEST(Health, CarrierBackClearsOutageFromQualityWindow) {
  // The rounds lost during the outage are the outage, not the link's quality.
  Wan w(with_loss(50000));
  w.m.on_link(false, 0);
  w.rounds(40, lost());
  EXPECT_EQ(w.m.loss_ppm(), 1000000u);
  w.m.on_link(true, w.now);
  EXPECT_EQ(w.m.loss_ppm(), 0u);
  w.rounds(10, answered());
  EXPECT_EQ(w.m.state(), WanState::Up);
}

TEST(Health, RepeatedCarrierUpDoesNotLiftProbeDown) {
  Wan w;
  w.rounds(3, lost());
  ASSERT_EQ(w.m.state(), WanState::Down);
  EXPECT_FALSE(w.m.on_link(true, w.now));
  EXPECT_EQ(w.m.state(), WanState::Down);
  EXPECT_EQ(w.m.reason(), "3 probe rounds failed in a row");
}

TEST(Health, GatewayMissingAndBack) {
  Wan w;
  EXPECT_TRUE(w.m.on_gateway(false, 100));
  EXPECT_EQ(w.m.state(), WanState::Down);
  EXPECT_EQ(w.m.reason(), "no gateway");
  EXPECT_FALSE(w.m.link_ok());
  w.now = 100;
  EXPECT_EQ(w.rounds(20, answered()), 0);
  EXPECT_EQ(w.m.state(), WanState::Down);
  EXPECT_TRUE(w.m.on_gateway(true, 5000));
  EXPECT_EQ(w.m.state(), WanState::Probing);
  EXPECT_EQ(w.m.reason(), "gateway back, probing");
  EXPECT_EQ(w.m.since_ms(), 5000u);
  w.now = 5000;
  EXPECT_EQ(w.rounds(9, answered()), 0);
  EXPECT_TRUE(w.round(answered()));
  EXPECT_EQ(w.m.state(), WanState::Up);
}

TEST(Health, ProbingNeedsBothCarrierAndGateway) {
  Wan w;
  EXPECT_TRUE(w.m.on_link(false, 10));
  EXPECT_FALSE(w.m.on_gateway(false, 20));  // already down: reason kept
  EXPECT_EQ(w.m.reason(), "carrier lost");
  EXPECT_EQ(w.m.since_ms(), 10u);
  EXPECT_FALSE(w.m.on_link(true, 30));  // gateway still missing
  EXPECT_EQ(w.m.state(), WanState::Down);
  EXPECT_FALSE(w.m.link_ok());
  EXPECT_TRUE(w.m.on_gateway(true, 40));
  EXPECT_EQ(w.m.state(), WanState::Probing);
  EXPECT_EQ(w.m.reason(), "gateway back, probing");
}

TEST(Health, MethodNone) {
  ProbeConfig c;
  c.method = ProbeMethod::None;
  Wan w(c);
  // Rounds (never sent by the agent for `none`) change nothing.
  EXPECT_EQ(w.rounds(10, lost()), 0);
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_TRUE(w.m.on_link(false, 100));
  EXPECT_EQ(w.m.state(), WanState::Down);
  EXPECT_EQ(w.m.reason(), "carrier lost");
  EXPECT_TRUE(w.m.on_link(true, 200));
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_EQ(w.m.reason(), "carrier back (no probing)");
  EXPECT_EQ(w.m.since_ms(), 200u);
  EXPECT_TRUE(w.m.on_gateway(false, 300));
  EXPECT_EQ(w.m.reason(), "no gateway");
  EXPECT_TRUE(w.m.on_gateway(true, 400));
  EXPECT_EQ(w.m.state(), WanState::Up);
  EXPECT_EQ(w.m.reason(), "gateway back (no probing)");
}

TEST(Health, SinceAndReasonChangeOnlyOnRealChanges) {
  Wan w(ProbeConfig{}, WanState::Up, 1000);
  const std::string initial = w.m.reason();
  EXPECT_EQ(w.rounds(20, answered()), 0);
  EXPECT_EQ(w.m.since_ms(), 1000u);
  EXPECT_EQ(w.m.reason(), initial);
  w.rounds(3, lost());
  const uint64_t down_at = w.now;
  EXPECT_EQ(w.m.since_ms(), down_at);
  EXPECT_EQ(w.rounds(5, lost()), 0);  // 4..8 failures: still down, no change
  EXPECT_EQ(w.m.since_ms(), down_at);
  EXPECT_EQ(w.m.reason(), "3 probe rounds failed in a row");
  EXPECT_FALSE(w.m.on_link(false, w.now + 1));  // down already
  EXPECT_EQ(w.m.since_ms(), down_at);
  EXPECT_EQ(w.m.reason(), "3 probe rounds failed in a row");
}

TEST(Health, RttAndLossValues) {
  Wan w;
  EXPECT_EQ(w.m.rtt_us(), 0u);
  EXPECT_EQ(w.m.loss_ppm(), 0u);
  RoundResult a;
  a.sent = 3;
  a.answered = 2;
  a.rtt_us = {1000, 3000};
  RoundResult b;
  b.sent = 3;
  b.answered = 3;
  b.rtt_us = {2000, 2000, 5000};
  w.round(a);
  w.round(b);
  w.round(some(2, 0));
  EXPECT_EQ(w.m.rtt_us(), 2600u);     // 13000 / 5 answers
  EXPECT_EQ(w.m.loss_ppm(), 375000u); // 3 lost / 8 sent
  w.rounds(2, lost());                // only lost: the mean RTT is unchanged
  EXPECT_EQ(w.m.rtt_us(), 2600u);
  EXPECT_EQ(w.m.loss_ppm(), 500000u); // 5 / 10
}

TEST(Health, EmptyRoundsCountAsFailedWithoutSkewingLoss) {
  // A round with nothing sent (no target resolved) fails, and adds nothing
  // to the loss statistics.
  Wan w;
  w.round(answered());
  w.rounds(2, RoundResult{});
  EXPECT_EQ(w.m.loss_ppm(), 0u);
  EXPECT_TRUE(w.round(RoundResult{}));
  EXPECT_EQ(w.m.state(), WanState::Down);
}

}  // namespace
}  // namespace wanlb

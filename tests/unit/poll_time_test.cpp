// poll_ms_until: the agent's poll timeout until the next probe round.
#include "poll_time.h"

#include <gtest/gtest.h>

using wanlb::poll_ms_until;

TEST(PollTime, RoundsUpSoTheLoopSleepsInsteadOfSpinning) {
  const uint64_t now = 5'000'000'000ULL;
  EXPECT_EQ(poll_ms_until(now + 1, now), 1);          // 1 ns away: sleep 1 ms, not 0
  EXPECT_EQ(poll_ms_until(now + 400'000, now), 1);    // 0.4 ms
  EXPECT_EQ(poll_ms_until(now + 1'000'000, now), 1);  // exactly 1 ms
  EXPECT_EQ(poll_ms_until(now + 1'000'001, now), 2);
  EXPECT_EQ(poll_ms_until(now + 200'000'000, now), 200);
}

TEST(PollTime, PastOrNowIsZero) {
  const uint64_t now = 5'000'000'000ULL;
  EXPECT_EQ(poll_ms_until(now, now), 0);
  EXPECT_EQ(poll_ms_until(now - 1, now), 0);
  EXPECT_EQ(poll_ms_until(0, now), 0);
}

TEST(PollTime, FarDeadlinesAreCapped) {
  EXPECT_EQ(poll_ms_until(UINT64_MAX, 0), 1000000);
}

// The retry rules of net/retry.hpp: which failures are transient, the
// jittered exponential backoff and Retry-After, with a fixed clock and jitter.
#include "net/retry.hpp"

#include <gtest/gtest.h>

#include <ctime>

namespace vm_manager::net {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// 2026-12-05 05:00:00 UTC.
std::chrono::system_clock::time_point noon_ish() {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 11;
  tm.tm_mday = 5;
  tm.tm_hour = 5;
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

TEST(Retry, TransientFailuresAndStatuses) {
  EXPECT_TRUE(is_transient(TransferFailure::cannot_connect));
  EXPECT_TRUE(is_transient(TransferFailure::timed_out));
  EXPECT_TRUE(is_transient(TransferFailure::interrupted));
  EXPECT_FALSE(is_transient(TransferFailure::none));
  EXPECT_FALSE(is_transient(TransferFailure::cannot_resolve));
  EXPECT_FALSE(is_transient(TransferFailure::too_large));
  EXPECT_FALSE(is_transient(TransferFailure::aborted));
  EXPECT_FALSE(is_transient(TransferFailure::other));
  for (long status : {429L, 500L, 502L, 503L, 504L, 599L}) EXPECT_TRUE(is_transient_status(status)) << status;
  for (long status : {200L, 206L, 301L, 400L, 401L, 403L, 404L, 408L, 416L, 428L, 600L}) {
    EXPECT_FALSE(is_transient_status(status)) << status;
  }
}

TEST(Retry, BackoffDoublesUpToTheMaximumAndJitterScalesItIntoItsUpperHalf) {
  RetryPolicy policy;
  policy.base_delay = 1000ms;
  policy.max_delay = 5000ms;
  EXPECT_EQ(backoff_delay(policy, 1, 0.999999), 1000ms);
  EXPECT_EQ(backoff_delay(policy, 2, 0.999999), 2000ms);
  EXPECT_EQ(backoff_delay(policy, 3, 0.999999), 4000ms);
  EXPECT_EQ(backoff_delay(policy, 4, 0.999999), 5000ms);
  EXPECT_EQ(backoff_delay(policy, 1000, 0.999999), 5000ms);  // no overflow
  EXPECT_EQ(backoff_delay(policy, 1, 0.0), 500ms);
  EXPECT_EQ(backoff_delay(policy, 3, 0.0), 2000ms);
  EXPECT_EQ(backoff_delay(policy, 3, 0.5), 3000ms);
  // Out-of-range jitter is clamped rather than trusted.
  EXPECT_EQ(backoff_delay(policy, 2, -3.0), 1000ms);
  EXPECT_EQ(backoff_delay(policy, 2, 7.0), 2000ms);
}

TEST(Retry, RetryAfterInSeconds) {
  const auto now = noon_ish();
  EXPECT_EQ(parse_retry_after("1", now), milliseconds(1000));
  EXPECT_EQ(parse_retry_after(" 120 ", now), milliseconds(120'000));
  EXPECT_EQ(parse_retry_after("0", now), milliseconds(0));
  EXPECT_EQ(parse_retry_after("99999999999999999999", now), std::nullopt);  // too many digits to be meant
  EXPECT_EQ(parse_retry_after("-1", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("1.5", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("soon", now), std::nullopt);
}

TEST(Retry, RetryAfterAsAnHttpDate) {
  const auto now = noon_ish();
  EXPECT_EQ(parse_retry_after("Sat, 05 Dec 2026 05:00:30 GMT", now), milliseconds(30'000));
  EXPECT_EQ(parse_retry_after("Sat, 05 Dec 2026 06:00:00 GMT", now), milliseconds(3'600'000));
  EXPECT_EQ(parse_retry_after("Fri, 04 Dec 2026 05:00:00 GMT", now), milliseconds(0));  // passed
  EXPECT_EQ(parse_retry_after("Sat, 05 Dec 2026 05:00:30 UTC", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("Sat, 05 Foo 2026 05:00:30 GMT", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("Sat, 5 Dec 2026 05:00:30 GMT", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("Sat, 05 Dec 2026 25:00:30 GMT", now), std::nullopt);
  // Beyond what a clock's nanoseconds hold (found by fuzz/http_answer_fuzz):
  // capped like a huge delta, never overflowing.
  EXPECT_EQ(parse_retry_after("Sat, 06 Nov 9149 08:49:37 GMT", now), parse_retry_after("999999999999", now));
}

TEST(Retry, TheDelayIsTheServersWhenGivenCappedElseTheBackoff) {
  RetryPolicy policy;
  policy.base_delay = 100ms;
  policy.max_delay = 1000ms;
  policy.max_retry_after = 10s;
  policy.jitter = [] { return 0.0; };
  const auto now = noon_ish();
  EXPECT_EQ(retry_delay(policy, 1, std::nullopt, now), 50ms);
  EXPECT_EQ(retry_delay(policy, 2, std::nullopt, now), 100ms);
  EXPECT_EQ(retry_delay(policy, 1, std::string("3"), now), 3000ms);
  EXPECT_EQ(retry_delay(policy, 1, std::string("3600"), now), 10s);
  EXPECT_EQ(retry_delay(policy, 1, std::string("99999999999"), now), 10s);
  EXPECT_EQ(retry_delay(policy, 1, std::string("Sat, 05 Dec 2026 05:00:02 GMT"), now), 2000ms);
  EXPECT_EQ(retry_delay(policy, 3, std::string("garbage"), now), 200ms);  // a bad value: the backoff
}

TEST(Retry, RandomJitterStaysWithinItsBounds) {
  RetryPolicy policy;
  policy.base_delay = 1000ms;
  policy.max_delay = 1000ms;
  for (int i = 0; i < 200; ++i) {
    const milliseconds d = retry_delay(policy, 1, std::nullopt, noon_ish());
    EXPECT_GE(d, 500ms);
    EXPECT_LE(d, 1000ms);
  }
}

TEST(Retry, DelaysAreDescribedForPeople) {
  EXPECT_EQ(describe_delay(250ms), "250 ms");
  EXPECT_EQ(describe_delay(1000ms), "1 s");
  EXPECT_EQ(describe_delay(1500ms), "1.5 s");
  EXPECT_EQ(describe_delay(2049ms), "2 s");
  EXPECT_EQ(describe_delay(60'000ms), "60 s");
}

}  // namespace
}  // namespace vm_manager::net

// When and how long to wait before trying an HTTP request again: which
// answers are worth another try, jittered exponential backoff, and the
// server's own Retry-After. Pure functions: the caller sleeps, and tests pass
// their own clock and jitter.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "net/http_client.hpp"

namespace vm_manager::net {

struct RetryPolicy {
  int attempts = 5;                            // tries in all, the first one included
  std::chrono::milliseconds base_delay{1000};  // before the first retry; doubled for each next one …
  std::chrono::milliseconds max_delay{30'000};  // … up to this
  std::chrono::milliseconds max_retry_after{60'000};  // a server's Retry-After is honoured up to this
  // A number in [0, 1) for each delay; empty: a random one. Spreads clients
  // that failed together so that they do not come back together.
  std::function<double()> jitter;
};

// Connection refused, reset or cut short, and timeouts (a stall included):
// things that another try may not meet.
bool is_transient(TransferFailure failure);
// 5xx and 429 (Too Many Requests). Other 4xx answers are final.
bool is_transient_status(long status);

// The wait before retry number `retry` (1 before the second try):
// base_delay·2^(retry−1), at most max_delay, scaled into [1/2, 1] of that
// by `jitter` (in [0, 1)).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, double jitter);

// A Retry-After value (RFC 9110 §10.2.3): delta-seconds, or an HTTP-date
// (IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT") counted from `now` (0
// when it has passed). nullopt when it is neither.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

// The wait before retry number `retry`: the server's Retry-After when it gave
// a valid one (at most max_retry_after), else backoff_delay with the policy's
// jitter.
std::chrono::milliseconds retry_delay(const RetryPolicy& policy, int retry, const std::optional<std::string>& retry_after,
                                      std::chrono::system_clock::time_point now);

// "2 s", "1.5 s", "250 ms": a delay as a person reads it.
std::string describe_delay(std::chrono::milliseconds delay);

}  // namespace vm_manager::net

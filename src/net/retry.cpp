#include "net/retry.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <ctime>
#include <random>

#include <fmt/format.h>

#include "util/strings.hpp"

namespace vm_manager::net {
namespace {
using std::chrono::milliseconds;
using std::chrono::seconds;

// Retry-After is read from a server: a huge value must not overflow.
constexpr long long kMaxSeconds = 10LL * 365 * 24 * 3600;

std::optional<milliseconds> delta_seconds(std::string_view value) {
  if (value.empty() || value.size() > 12) return std::nullopt;
  long long s = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), s);
  if (ec != std::errc() || end != value.data() + value.size() || s < 0) return std::nullopt;
  return seconds(std::min(s, kMaxSeconds));
}

int month_of(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto it = std::find(kMonths.begin(), kMonths.end(), name);
  return it == kMonths.end() ? -1 : static_cast<int>(it - kMonths.begin());
}

bool digits(std::string_view text, int& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters, fixed places),
// in seconds since the epoch: a time_point could not hold the year 9999 a
// server may send.
std::optional<std::time_t> http_date(std::string_view v) {
  if (v.size() != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' || v[19] != ':' ||
      v[22] != ':' || v[25] != ' ' || v.substr(26) != "GMT") {
    return std::nullopt;
  }
  std::tm tm{};
  int year = 0;
  if (!digits(v.substr(5, 2), tm.tm_mday) || !digits(v.substr(12, 4), year) || !digits(v.substr(17, 2), tm.tm_hour) ||
      !digits(v.substr(20, 2), tm.tm_min) || !digits(v.substr(23, 2), tm.tm_sec)) {
    return std::nullopt;
  }
  tm.tm_mon = month_of(v.substr(8, 3));
  tm.tm_year = year - 1900;
  if (tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  const std::time_t t = ::timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return t;
}

double random_jitter() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

}  // namespace

bool is_transient(TransferFailure failure) {
  switch (failure) {
    case TransferFailure::cannot_connect:
    case TransferFailure::timed_out:
    case TransferFailure::interrupted: return true;
    default: return false;
  }
}

bool is_transient_status(long status) { return status == 429 || (status >= 500 && status <= 599); }

milliseconds backoff_delay(const RetryPolicy& policy, int retry, double jitter) {
  const double base = static_cast<double>(std::max(policy.base_delay, milliseconds(0)).count());
  const double cap = static_cast<double>(std::max(policy.max_delay, milliseconds(0)).count());
  const double grown = std::min(cap, base * std::pow(2.0, std::clamp(retry - 1, 0, 62)));
  const double scale = 0.5 + 0.5 * std::clamp(jitter, 0.0, 1.0);
  return milliseconds(static_cast<long long>(std::llround(grown * scale)));
}

std::optional<milliseconds> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
  value = util::trim(value);
  if (auto delta = delta_seconds(value)) return delta;
  auto when = http_date(value);
  if (!when) return std::nullopt;
  const std::time_t now_s = std::chrono::system_clock::to_time_t(now);
  if (*when <= now_s) return milliseconds(0);
  return milliseconds(seconds(std::min<long long>(*when - now_s, kMaxSeconds)));
}

milliseconds retry_delay(const RetryPolicy& policy, int retry, const std::optional<std::string>& retry_after,
                         std::chrono::system_clock::time_point now) {
  if (retry_after) {
    if (auto wait = parse_retry_after(*retry_after, now)) return std::min(*wait, policy.max_retry_after);
  }
  return backoff_delay(policy, retry, policy.jitter ? policy.jitter() : random_jitter());
}

std::string describe_delay(milliseconds delay) {
  if (delay < milliseconds(1000)) return fmt::format("{} ms", delay.count());
  const long long tenths = (delay.count() + 50) / 100;
  if (tenths % 10 == 0) return fmt::format("{} s", tenths / 10);
  return fmt::format("{}.{} s", tenths / 10, tenths % 10);
}

}  // namespace vm_manager::net

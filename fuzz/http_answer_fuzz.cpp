// libFuzzer target for what a download reads from a server's answer
// (src/image/resume.cpp, src/net/retry.cpp, src/image/auth_challenge.cpp):
// Content-Range, Content-Length, ETag and Last-Modified, Retry-After and a
// registry's WWW-Authenticate all come from a peer that may be hostile or
// broken, and decide where bytes go in the .partial file, how long vmctl
// sleeps and where it asks for a token.
//
// Input: header lines ("name: value", LF-separated, names lower-cased as
// net/ gives them). Every parser must return a value or nullopt, never
// throw or crash; what they return must hold together: a range that starts
// inside the file it names, a validator that is printable ASCII, a
// Retry-After within the policy's cap.
//
// Also compiled into image_cache_test (g++), which replays the corpus.
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "image/auth_challenge.hpp"
#include "image/resume.hpp"
#include "net/retry.hpp"
#include "util/strings.hpp"

namespace {

vm_manager::image::Headers headers_of(std::string_view text) {
  vm_manager::image::Headers headers;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    headers[vm_manager::util::lower(std::string(vm_manager::util::trim(line.substr(0, colon))))] =
        std::string(vm_manager::util::trim(line.substr(colon + 1)));
  }
  return headers;
}

void check_range(const std::string& value) {
  const auto range = vm_manager::image::parse_content_range(value);
  if (range && range->size && range->first >= *range->size) std::abort();
}

void check_validator(const vm_manager::image::Headers& headers) {
  const auto validator = vm_manager::image::validator_of(headers);
  if (!validator) return;
  for (unsigned char c : *validator) {
    if (c < 0x20 || c > 0x7e) std::abort();  // it goes back out in an If-Range header
  }
  (void)vm_manager::image::same_version(headers, *validator);
}

void check_retry_after(const std::string& value) {
  using namespace std::chrono;
  const system_clock::time_point now = sys_days(year(2026) / 12 / 5) + hours(6);
  vm_manager::net::RetryPolicy policy;
  policy.jitter = [] { return 0.5; };
  if (vm_manager::net::retry_delay(policy, 1, value, now) > policy.max_retry_after) std::abort();
  if (const auto wait = vm_manager::net::parse_retry_after(value, now); wait && *wait < milliseconds::zero()) {
    std::abort();
  }
}

void check_challenge(const std::string& value) {
  const auto challenge = vm_manager::image::parse_auth_challenge(value);
  if (challenge.scheme != vm_manager::util::lower(challenge.scheme)) std::abort();
  for (const auto& [name, param] : challenge.params) {
    if (name != vm_manager::util::lower(name)) std::abort();
    for (unsigned char c : vm_manager::image::url_encode(param)) {
      if (!std::isalnum(c) && c != '%' && c != '-' && c != '_' && c != '.' && c != '~') std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto headers = headers_of(std::string_view(reinterpret_cast<const char*>(data), size));
  for (const auto& [name, value] : headers) {
    check_range(value);
    (void)vm_manager::image::parse_content_length(value);
    check_retry_after(value);
    check_challenge(value);
  }
  check_validator(headers);
  return 0;
}

// HTTP(S) downloads (net/) into a .partial file that a later attempt resumes
// with a Range request, only while the server's validator (ETag or
// Last-Modified, kept in "<partial>.validator") says the file is the same one.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "net/retry.hpp"
#include "vm_manager/log.hpp"
#include "vm_manager/progress.hpp"

namespace vm_manager::image {

struct DownloadOptions {
  long max_redirects = 10;
  std::chrono::seconds connect_timeout{30};
  long low_speed_limit = 1024;           // bytes/s …
  std::chrono::seconds low_speed_time{60};  // … for this long aborts the transfer
  // Transient failures (connection refused, reset or stalled, 5xx, 429) are
  // tried again, resuming, up to `attempts` tries in all, after a jittered
  // exponential backoff from retry_base_delay up to retry_max_delay, or
  // after the server's Retry-After (429, 503) up to retry_after_max.
  int attempts = 5;
  std::chrono::milliseconds retry_base_delay{1000};
  std::chrono::milliseconds retry_max_delay{30'000};
  std::chrono::milliseconds retry_after_max{60'000};
  std::function<double()> jitter;  // [0, 1) per delay; empty: random (tests fix it)
  // Extra request headers ("Name: value"), e.g. a registry's Authorization.
  // Never printed; libcurl drops Authorization on redirects to other hosts.
  std::vector<std::string> headers;
  // A PEM file of the CAs https servers are checked against, instead of the
  // system's store; empty: the system's (image/ca_file.hpp).
  std::string ca_file;
  // Asked when the server answers 401 (with its WWW-Authenticate value, maybe empty): returns the
  // request headers to use from then on (e.g. a fresh bearer token), and the download goes on where it
  // stopped; std::nullopt, or no function, makes the 401 final. Asked at most twice per download.
  std::function<std::optional<std::vector<std::string>>(const std::string& www_authenticate)> reauthenticate;
  // Hears the bytes as they arrive (what: the URL; done and total count what
  // an earlier attempt left in the file too), then once with finished, also
  // when the download fails. The same thread, as often as libcurl reports.
  ProgressCallback progress;
  // Hears "Downloading URL", "Retrying URL in 2 s: HTTP 503 (attempt 2 of
  // 5)" and "Downloaded URL (size)" at info level.
  LogSink log;
};

// Downloads `url` into `partial`, appending to what an earlier attempt left
// there when its validator is known ("Range: bytes=N-" with "If-Range"), and
// starting over from byte 0, in the same request, when the server sends the
// whole file instead (it changed, or ignores ranges). With no validator
// known, what is in `partial` is never resumed. HTTP errors are errors
// (nothing of a 404 page stays in `partial`). Returns the number of bytes in
// `partial`, complete; "<partial>.validator" is gone then. Raises
// Error(image::download_failed), Error(store::io) for the partial file.
std::uint64_t download(const std::string& url, const std::filesystem::path& partial, const DownloadOptions& options);

// The retry settings of `options`, for other requests that retry as
// downloads do (a registry's manifests and tokens).
net::RetryPolicy retry_policy(const DownloadOptions& options);

}  // namespace vm_manager::image

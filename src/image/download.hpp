// HTTP(S) downloads (net/) into a .partial file that a later attempt resumes
// with a Range request.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vm_manager/log.hpp"
#include "vm_manager/progress.hpp"

namespace vm_manager::image {

struct DownloadOptions {
  long max_redirects = 10;
  std::chrono::seconds connect_timeout{30};
  long low_speed_limit = 1024;           // bytes/s …
  std::chrono::seconds low_speed_time{60};  // … for this long aborts the transfer
  int attempts = 3;                      // transient failures are resumed this often
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
  // Hears "Downloading URL" and "Downloaded URL (size)" at info level.
  LogSink log;
};

// Downloads `url` into `partial`, appending to what an earlier attempt left
// there (Range request) and starting over when the server ignores the range.
// HTTP errors are errors (nothing of a 404 page stays in `partial`). Returns
// the number of bytes in `partial`. Raises Error(image::download_failed).
std::uint64_t download(const std::string& url, const std::filesystem::path& partial, const DownloadOptions& options);

}  // namespace vm_manager::image

#include "image/download.hpp"
#include "os/unique_fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "net/http_client.hpp"
#include "os/files.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void io_error(std::string_view what, const fs::path& path, int err) {
  throw vm_manager::Error(vm_manager::errc::store_io,
                          fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err)),
                          "check the permissions and free space of the image cache");
}

struct Transfer {
  int fd = -1;
  fs::path path;
  int write_errno = 0;
  std::uint64_t offset = 0;  // bytes present before this attempt
  std::uint64_t written = 0;  // bytes written by this attempt
  bool tty = false;
  bool quiet = false;
  bool drawn = false;         // the bar has been drawn at least once
  std::chrono::steady_clock::time_point last_draw{};
};

bool write_piece(Transfer& t, std::string_view piece) {
  int err = os::write_fully(t.fd, piece);
  if (err != 0) {
    t.write_errno = err;
    return false;  // aborts the transfer
  }
  t.written += piece.size();
  return true;
}

std::string human(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

// Redraws the bar on the terminal (stderr) in place: "\r[###   ]  42% …".
// `all` is 0 while the size is unknown.
void draw_bar(Transfer& t, double done, double all) {
  t.drawn = true;
  t.last_draw = std::chrono::steady_clock::now();
  if (all > 0) {
    constexpr int kWidth = 30;
    int filled = static_cast<int>(kWidth * done / all);
    if (filled > kWidth) filled = kWidth;
    std::fprintf(stderr, "\r[%s%s] %3d%% %s / %s", std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(kWidth - filled), ' ').c_str(), static_cast<int>(100 * done / all),
                 human(done).c_str(), human(all).c_str());
  } else {
    std::fprintf(stderr, "\r%s", human(done).c_str());
  }
  std::fflush(stderr);
}

// At most every 200 ms (the first call always draws); the final state is
// drawn once the transfer is complete (finish_bar).
void on_progress(Transfer& t, std::uint64_t received, std::uint64_t expected) {
  if (!t.tty || t.quiet) return;
  if (t.drawn && std::chrono::steady_clock::now() - t.last_draw < std::chrono::milliseconds(200)) return;
  double done = static_cast<double>(t.offset + received);
  double all = expected > 0 ? static_cast<double>(t.offset + expected) : 0.0;
  draw_bar(t, done, all);
}

// The bar at 100%, whatever the throttle skipped, then the end of its line.
void finish_bar(Transfer& t, bool complete) {
  if (!t.tty || t.quiet) return;
  if (complete) {
    double size = static_cast<double>(t.offset + t.written);
    draw_bar(t, size, size);
  }
  std::fputs("\n", stderr);
}

std::uint64_t partial_size(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return 0;
    io_error("stat", path, errno);
  }
  return static_cast<std::uint64_t>(st.st_size);
}

// An error page's body is kept only to be dropped: refuse a huge one.
constexpr std::size_t kMaxErrorPage = 1 << 20;

// Worded as libcurl words it, as downloads always said.
std::string http_error(long status) { return fmt::format("The requested URL returned error: {}", status); }

[[noreturn]] void http_failure(const std::string& url, long status) {
  throw vm_manager::Error(errc::image_download_failed, fmt::format("cannot download {}: {}", url, http_error(status)),
                          "check the URL");
}

enum class Outcome { done, retry, restart };

struct Result {
  Outcome outcome;
  std::string error;
};

Result attempt(const std::string& url, const fs::path& partial, const DownloadOptions& options, bool tty) {
  Transfer t;
  t.path = partial;
  t.offset = partial_size(partial);
  t.tty = tty;
  t.quiet = options.quiet;
  t.fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (t.fd < 0) io_error("open", partial, errno);
  os::UniqueFd closer(t.fd);

  net::HttpRequest request;
  request.url = url;
  request.headers = options.headers;
  request.max_redirects = options.max_redirects;
  request.timeouts.connect = options.connect_timeout;
  request.timeouts.low_speed_bytes = options.low_speed_limit;
  request.timeouts.low_speed_time = options.low_speed_time;
  request.resume_from = t.offset;
  request.sink = [&t](std::string_view piece) { return write_piece(t, piece); };
  request.progress = [&t](std::uint64_t received, std::uint64_t expected) { on_progress(t, received, expected); };
  request.max_body = kMaxErrorPage;

  const net::HttpResponse r = net::perform(request);
  finish_bar(t, r.success());
  // 416: what we have does not fit the file (it changed, or is complete and
  // larger); start over once. Any other answer but 2xx is final.
  if (r.status == 416 && t.offset > 0) return {Outcome::restart, http_error(r.status)};
  if (r.status >= 400) http_failure(url, r.status);
  switch (r.failure) {
    case net::TransferFailure::none:
      if (!r.success()) http_failure(url, r.status);  // nothing of it went into `partial`
      return {Outcome::done, {}};
    case net::TransferFailure::aborted:
      if (t.write_errno != 0) io_error("write", partial, t.write_errno);
      return {Outcome::retry, r.error};
    case net::TransferFailure::range_ignored:  // the server ignored our Range: start over
      return {Outcome::restart, r.error};
    case net::TransferFailure::interrupted:
    case net::TransferFailure::timed_out:
    case net::TransferFailure::cannot_connect:
      return {Outcome::retry, r.error};
    default:
      throw vm_manager::Error(errc::image_download_failed, fmt::format("cannot download {}: {}", url, r.error),
                              "check the URL and the network");
  }
}

}  // namespace

std::uint64_t download(const std::string& url, const fs::path& partial, const DownloadOptions& options) {
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  if (!options.quiet) {
    std::uint64_t have = partial_size(partial);
    if (have > 0) {
      std::fprintf(stderr, "Downloading %s (resuming at %s)\n", url.c_str(), human(static_cast<double>(have)).c_str());
    } else {
      std::fprintf(stderr, "Downloading %s\n", url.c_str());
    }
  }
  std::string last_error;
  bool restarted = false;
  for (int i = 0; i < options.attempts; ++i) {
    Result r = attempt(url, partial, options, tty);
    if (r.outcome == Outcome::done) {
      std::uint64_t size = partial_size(partial);
      if (!options.quiet) {
        std::fprintf(stderr, "Downloaded %s (%s)\n", url.c_str(), human(static_cast<double>(size)).c_str());
      }
      return size;
    }
    last_error = r.error;
    if (r.outcome == Outcome::restart) {
      if (restarted) break;  // the server refused ranges twice in a row
      restarted = true;
      if (::truncate(partial.c_str(), 0) != 0) io_error("truncate", partial, errno);
      --i;  // a restart does not use up an attempt
    }
  }
  throw vm_manager::Error(errc::image_download_failed, fmt::format("cannot download {}: {}", url, last_error),
                          "pull again to resume the download");
}

}  // namespace vm_manager::image

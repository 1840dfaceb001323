#include "image/download.hpp"
#include "os/unique_fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include <fmt/format.h>

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

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
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

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  int err = os::write_fully(t->fd, std::string_view(data, bytes));
  if (err != 0) {
    t->write_errno = err;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  t->written += bytes;
  return bytes;
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
int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->tty || t->quiet) return 0;
  if (t->drawn && std::chrono::steady_clock::now() - t->last_draw < std::chrono::milliseconds(200)) return 0;
  double done = static_cast<double>(t->offset + static_cast<std::uint64_t>(now));
  double all = total > 0 ? static_cast<double>(t->offset + static_cast<std::uint64_t>(total)) : 0.0;
  draw_bar(*t, done, all);
  return 0;
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

  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return {Outcome::retry, "cannot initialise libcurl"};
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* h = curl.get();
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(nullptr, curl_slist_free_all);
  for (const auto& header : options.headers) {
    curl_slist* grown = curl_slist_append(headers.get(), header.c_str());
    if (!grown) return {Outcome::retry, "cannot build the request headers"};
    (void)headers.release();
    headers.reset(grown);
  }
  if (headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, options.max_redirects);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, options.low_speed_limit);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.low_speed_time.count()));
  curl_easy_setopt(h, CURLOPT_USERAGENT, "vmctl/0.1");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  if (t.offset > 0) curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(t.offset));

  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  finish_bar(t, rc == CURLE_OK);
  std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_OK:
      return {Outcome::done, {}};
    case CURLE_WRITE_ERROR:
      if (t.write_errno != 0) io_error("write", partial, t.write_errno);
      return {Outcome::retry, detail};
    case CURLE_RANGE_ERROR:  // the server ignored our Range: start over
      return {Outcome::restart, detail};
    case CURLE_HTTP_RETURNED_ERROR:
      // 416: what we have does not fit the file (it changed, or is complete
      // and larger); start over once. Any other HTTP error is final.
      if (status == 416 && t.offset > 0) return {Outcome::restart, detail};
      throw vm_manager::Error(errc::image_download_failed, fmt::format("cannot download {}: {}", url, detail),
                              "check the URL");
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
      return {Outcome::retry, detail};
    default:
      throw vm_manager::Error(errc::image_download_failed, fmt::format("cannot download {}: {}", url, detail),
                              "check the URL and the network");
  }
}

}  // namespace

std::uint64_t download(const std::string& url, const fs::path& partial, const DownloadOptions& options) {
  global_init();
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

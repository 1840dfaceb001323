#include "image/download.hpp"
#include "os/unique_fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "core/logger.hpp"
#include "image/ca_file.hpp"
#include "net/http_client.hpp"
#include "os/files.hpp"
#include "util/strings.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void io_error(std::string_view what, const fs::path& path, int err) {
  throw vm_manager::Error(vm_manager::errc::store_io,
                          fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err)),
                          "check the permissions and free space of the image cache");
}

// What the caller has heard of the download so far; every report goes
// through it, so that the final one repeats the last counts.
class Reporter {
 public:
  Reporter(const ProgressCallback& callback, const std::string& url) : callback_(callback) { last_.what = url; }

  void bytes(std::uint64_t done, std::optional<std::uint64_t> total) {
    last_.done = done;
    last_.total = total;
    if (callback_) callback_(last_);
  }
  void finished() {
    last_.finished = true;
    if (callback_) callback_(last_);
  }

 private:
  const ProgressCallback& callback_;
  Progress last_;
};

struct Transfer {
  int fd = -1;
  fs::path path;
  int write_errno = 0;
  std::uint64_t offset = 0;  // bytes present before this attempt
  std::uint64_t written = 0;  // bytes written by this attempt
  Reporter* reporter = nullptr;
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

// libcurl counts this attempt's bytes; the caller hears of the whole file.
void on_progress(Transfer& t, std::uint64_t received, std::uint64_t expected) {
  std::optional<std::uint64_t> total;
  if (expected > 0) total = t.offset + expected;
  t.reporter->bytes(t.offset + received, total);
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

enum class Outcome { done, retry, restart, unauthorized };

struct Result {
  Outcome outcome;
  std::string error;  // for unauthorized: the WWW-Authenticate value
};

Result attempt(const std::string& url, const fs::path& partial, const DownloadOptions& options,
               const std::vector<std::string>& headers, Reporter& reporter) {
  Transfer t;
  t.path = partial;
  t.offset = partial_size(partial);
  t.reporter = &reporter;
  t.fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (t.fd < 0) io_error("open", partial, errno);
  os::UniqueFd closer(t.fd);

  net::HttpRequest request;
  request.url = url;
  request.headers = headers;
  request.ca_file = options.ca_file;
  request.max_redirects = options.max_redirects;
  request.timeouts.connect = options.connect_timeout;
  request.timeouts.low_speed_bytes = options.low_speed_limit;
  request.timeouts.low_speed_time = options.low_speed_time;
  request.resume_from = t.offset;
  request.sink = [&t](std::string_view piece) { return write_piece(t, piece); };
  request.progress = [&t](std::uint64_t received, std::uint64_t expected) { on_progress(t, received, expected); };
  request.max_body = kMaxErrorPage;

  const net::HttpResponse r = net::perform(request);
  // 416: what we have does not fit the file (it changed, or is complete and
  // larger); start over once. Any other answer but 2xx is final.
  if (r.status == 416 && t.offset > 0) return {Outcome::restart, http_error(r.status)};
  // Whatever libcurl made of it: a 401 to a Range request is also its range error.
  if (r.status == 401) {
    auto challenge = r.headers.find("www-authenticate");
    return {Outcome::unauthorized, challenge == r.headers.end() ? std::string() : challenge->second};
  }
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
                              net::is_tls(r.failure) ? tls_hint(r.failure) : "check the URL and the network");
  }
}

// The attempts, resumed or restarted as their outcomes say; the size once done.
std::uint64_t download_with_retries(const std::string& url, const fs::path& partial, const DownloadOptions& options,
                                    Reporter& reporter) {
  std::string last_error;
  bool restarted = false;
  std::vector<std::string> headers = options.headers;
  int reauthentications = 0;
  for (int i = 0; i < options.attempts; ++i) {
    Result r = attempt(url, partial, options, headers, reporter);
    if (r.outcome == Outcome::done) return partial_size(partial);
    if (r.outcome == Outcome::unauthorized) {
      std::optional<std::vector<std::string>> fresh;
      if (options.reauthenticate && reauthentications < 2) {
        ++reauthentications;
        fresh = options.reauthenticate(r.error);
      }
      if (!fresh) http_failure(url, 401);
      headers = std::move(*fresh);
      --i;  // the download goes on where it stopped, without using up an attempt
      continue;
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

}  // namespace

std::uint64_t download(const std::string& url, const fs::path& partial, const DownloadOptions& options) {
  const Logger log(options.log);
  if (std::uint64_t have = partial_size(partial); have > 0) {
    log.info("Downloading {} (resuming at {})", url, util::human_bytes(static_cast<double>(have)));
  } else {
    log.info("Downloading {}", url);
  }
  Reporter reporter(options.progress, url);
  std::uint64_t size = 0;
  try {
    size = download_with_retries(url, partial, options, reporter);
  } catch (...) {
    reporter.finished();
    throw;
  }
  reporter.bytes(size, size);  // whatever libcurl's last report said
  reporter.finished();
  log.info("Downloaded {} ({})", url, util::human_bytes(static_cast<double>(size)));
  return size;
}

}  // namespace vm_manager::image

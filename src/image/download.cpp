#include "image/download.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "core/logger.hpp"
#include "image/ca_file.hpp"
#include "net/http_client.hpp"
#include "net/retry.hpp"
#include "image/resume.hpp"
#include "os/files.hpp"
#include "os/unique_fd.hpp"
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
  Reporter(const ProgressCallback& callback, const std::string& url, int attempts) : callback_(callback) {
    last_.what = url;
    last_.attempts = attempts;
  }

  void bytes(std::uint64_t done, std::optional<std::uint64_t> total) {
    last_.done = done;
    last_.total = total;
    last_.note.clear();
    if (callback_) callback_(last_);
  }
  // Before the wait for try number `attempt`.
  void retrying(int attempt, std::string note) {
    last_.attempt = attempt;
    last_.note = std::move(note);
    if (callback_) callback_(last_);
  }
  void finished() {
    last_.finished = true;
    last_.note.clear();
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
  std::uint64_t offset = 0;                  // where this answer's body goes in the file
  std::optional<std::string> if_range;       // the validator sent with a Range request
  std::optional<std::uint64_t> file_size;    // the whole file's, as the answer announced it
  bool wrong_range = false;                  // a 206 that is not what was asked for
  bool accepted = false;                     // a 2xx whose body goes into the file
  Reporter* reporter = nullptr;
};

bool write_piece(Transfer& t, std::string_view piece) {
  int err = os::write_fully(t.fd, piece);
  if (err != 0) {
    t.write_errno = err;
    return false;  // aborts the transfer
  }
  return true;
}

// A 206 must be the rest of the file we have the start of: from our offset,
// of the version our validator names (a server that honours Range but
// ignores If-Range would otherwise splice two versions).
bool accept_partial_answer(Transfer& t, const Headers& headers) {
  const std::string* range_header = find_header(headers, "content-range");
  const auto range = range_header ? parse_content_range(*range_header) : std::nullopt;
  if (!t.if_range || !range || range->first != t.offset || !same_version(headers, *t.if_range)) return false;
  t.file_size = range->size;
  return true;
}

// Called once the headers of a 2xx answer are in, before its body.
bool accept_answer(Transfer& t, long status, const Headers& headers) {
  if (status == 206) {
    t.wrong_range = !accept_partial_answer(t, headers);
    t.accepted = !t.wrong_range;
    return t.accepted;
  }
  // The whole file (it changed, or the server ignores ranges): it goes to
  // byte 0 in this very answer, with the validator of this version.
  if (::ftruncate(t.fd, 0) != 0) {
    t.write_errno = errno;
    return false;
  }
  t.offset = 0;
  remember_validator(t.path, validator_of(headers));
  if (const std::string* length = find_header(headers, "content-length")) t.file_size = parse_content_length(*length);
  t.accepted = true;
  return true;
}

// libcurl counts this answer's bytes; the caller hears of the whole file,
// never of an error page's bytes.
void on_progress(Transfer& t, std::uint64_t received, std::uint64_t expected) {
  if (!t.accepted) return;
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

[[noreturn]] void gave_up(const std::string& url, const std::string& error) {
  throw vm_manager::Error(errc::image_download_failed, fmt::format("cannot download {}: {}", url, error),
                          "pull again to resume the download");
}

enum class Outcome {
  done,
  retry,    // a transient failure: try again, resuming
  restart,  // what we have cannot be resumed: try again from byte 0
  reauth,   // 401: ask for fresh credentials
};

struct Result {
  Outcome outcome;
  std::string error;                       // for messages
  std::string reason;                      // short, for the retry note: "HTTP 503", or the error
  std::optional<std::string> retry_after;  // of a 429 or 503
  std::string www_authenticate;            // of a 401
};

Result transient(const std::string& error) { return {Outcome::retry, error, error, std::nullopt, {}}; }

// What an HTTP error status means for the download.
std::optional<Result> judge_status(const std::string& url, const net::HttpResponse& r, const Transfer& t) {
  if (r.status < 400) return std::nullopt;
  // 416: what we have does not fit the file (it changed, or is complete
  // and larger): start over.
  if (r.status == 416 && t.if_range) return Result{Outcome::restart, http_error(r.status), "HTTP 416", {}, {}};
  if (r.status == 401) {
    const std::string* challenge = find_header(r.headers, "www-authenticate");
    return Result{Outcome::reauth, http_error(r.status), "HTTP 401", {}, challenge ? *challenge : std::string()};
  }
  if (net::is_transient_status(r.status)) {
    Result result{Outcome::retry, http_error(r.status), fmt::format("HTTP {}", r.status), {}, {}};
    const std::string* wait = find_header(r.headers, "retry-after");
    if (wait && (r.status == 429 || r.status == 503)) result.retry_after = *wait;
    return result;
  }
  http_failure(url, r.status);
}

Result attempt(const std::string& url, const fs::path& partial, const DownloadOptions& options,
               const std::vector<std::string>& headers, Reporter& reporter) {
  Transfer t;
  t.path = partial;
  t.reporter = &reporter;
  t.fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (t.fd < 0) io_error("open", partial, errno);
  os::UniqueFd closer(t.fd);

  net::HttpRequest request;
  request.url = url;
  request.headers = headers;
  // Resumed only when we know which version of the file we have the start
  // of; otherwise the answer's 200 starts it over.
  if (const std::uint64_t have = partial_size(partial); have > 0) {
    t.if_range = read_validator(partial);
    if (t.if_range) {
      t.offset = have;
      request.headers.push_back(fmt::format("Range: bytes={}-", have));
      request.headers.push_back("If-Range: " + *t.if_range);
    }
  }
  request.ca_file = options.ca_file;
  request.max_redirects = options.max_redirects;
  request.timeouts.connect = options.connect_timeout;
  request.timeouts.low_speed_bytes = options.low_speed_limit;
  request.timeouts.low_speed_time = options.low_speed_time;
  request.on_answer = [&t](long status, const Headers& answer) {
    return accept_answer(t, status, answer);
  };
  request.sink = [&t](std::string_view piece) { return write_piece(t, piece); };
  request.progress = [&t](std::uint64_t received, std::uint64_t expected) { on_progress(t, received, expected); };
  request.max_body = kMaxErrorPage;

  const net::HttpResponse r = net::perform(request);
  if (t.write_errno != 0) io_error("write", partial, t.write_errno);
  if (t.wrong_range) {
    return {Outcome::restart, "the server answered with another range than the one asked for", "wrong range", {}, {}};
  }
  if (auto judged = judge_status(url, r, t)) return *judged;
  if (r.failure == net::TransferFailure::none) {
    if (!r.success()) http_failure(url, r.status);  // nothing of it went into `partial`
    // libcurl checks a Content-Length; this also catches a short chunked body.
    if (t.file_size && partial_size(partial) != *t.file_size) return transient("the file arrived incomplete");
    return {Outcome::done, {}, {}, {}, {}};
  }
  if (net::is_transient(r.failure)) return transient(r.error);
  throw vm_manager::Error(errc::image_download_failed, fmt::format("cannot download {}: {}", url, r.error),
                          net::is_tls(r.failure) ? tls_hint(r.failure) : "check the URL and the network");
}

// What is in `partial` cannot be resumed: empty it, and forget its validator.
void start_over(const fs::path& partial) {
  if (::truncate(partial.c_str(), 0) != 0 && errno != ENOENT) io_error("truncate", partial, errno);
  forget_validator(partial);
}

// The attempts, resumed, restarted or re-authenticated as their outcomes
// say; the size once done.
std::uint64_t download_with_retries(const std::string& url, const fs::path& partial, const DownloadOptions& options,
                                    Reporter& reporter, const Logger& log) {
  const net::RetryPolicy policy = retry_policy(options);
  std::vector<std::string> headers = options.headers;
  int tries = 1;
  int reauthentications = 0;
  bool restarted = false;
  for (;;) {
    Result r = attempt(url, partial, options, headers, reporter);
    switch (r.outcome) {
      case Outcome::done:
        forget_validator(partial);  // complete: nothing left to resume
        return partial_size(partial);
      case Outcome::restart:
        if (restarted) gave_up(url, r.error);  // twice in a row: the server's ranges are broken
        restarted = true;
        start_over(partial);
        continue;  // a restart does not use up an attempt
      case Outcome::reauth: {
        if (!options.reauthenticate || reauthentications == 2) http_failure(url, 401);
        ++reauthentications;
        auto fresh = options.reauthenticate(r.www_authenticate);
        if (!fresh) http_failure(url, 401);
        headers = std::move(*fresh);
        continue;
      }
      case Outcome::retry: {
        if (tries >= policy.attempts) gave_up(url, r.error);
        restarted = false;
        const auto delay = net::retry_delay(policy, tries, r.retry_after, std::chrono::system_clock::now());
        ++tries;
        const std::string wait = net::describe_delay(delay);
        reporter.retrying(tries, fmt::format("retrying in {}: {}", wait, r.reason));
        log.info("Retrying {} in {}: {} (attempt {} of {})", url, wait, r.reason, tries, policy.attempts);
        std::this_thread::sleep_for(delay);
        continue;
      }
    }
  }
}

}  // namespace

net::RetryPolicy retry_policy(const DownloadOptions& options) {
  net::RetryPolicy policy;
  policy.attempts = std::max(options.attempts, 1);
  policy.base_delay = options.retry_base_delay;
  policy.max_delay = options.retry_max_delay;
  policy.max_retry_after = options.retry_after_max;
  policy.jitter = options.jitter;
  return policy;
}

std::uint64_t download(const std::string& url, const fs::path& partial, const DownloadOptions& options) {
  const Logger log(options.log);
  if (std::uint64_t have = partial_size(partial); have > 0 && read_validator(partial)) {
    log.info("Downloading {} (resuming at {})", url, util::human_bytes(static_cast<double>(have)));
  } else {
    log.info("Downloading {}", url);
  }
  Reporter reporter(options.progress, url, std::max(options.attempts, 1));
  std::uint64_t size = 0;
  try {
    size = download_with_retries(url, partial, options, reporter, log);
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

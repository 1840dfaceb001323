#include "console/log_view.hpp"
#include "os/files.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::console {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kBlock = std::size_t{64} * 1024;

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

Error log_error(std::string_view what, const fs::path& log, int err) {
  return Error(errc::console_no_log,
               fmt::format("cannot {} the console log {}: {}", what, log.string(), errno_text(err)),
               "check that the file exists and that you may read it");
}

// An open log file and where we are in it. The inode tells a replaced file
// (rotation) from the one we hold; the offset tells a truncated one.
class OpenLog {
 public:
  OpenLog(int fd, const struct stat& st) : fd_(fd), dev_(st.st_dev), ino_(st.st_ino) {}
  OpenLog(OpenLog&& other) noexcept
      : offset(other.offset), fd_(std::exchange(other.fd_, -1)), dev_(other.dev_), ino_(other.ino_) {}
  OpenLog& operator=(OpenLog&&) = delete;
  OpenLog(const OpenLog&) = delete;
  OpenLog& operator=(const OpenLog&) = delete;
  ~OpenLog() {
    if (fd_ >= 0) ::close(fd_);
  }

  int fd() const { return fd_; }
  bool is(const struct stat& st) const { return st.st_dev == dev_ && st.st_ino == ino_; }

  off_t offset = 0;  // the next byte to show

 private:
  int fd_;
  dev_t dev_;
  ino_t ino_;
};

// The log, or nullopt when it does not exist (yet).
std::optional<OpenLog> open_log(const fs::path& log) {
  // O_NONBLOCK: a FIFO put in the log's place must not hang us in open().
  int fd = ::open(log.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0 && errno == ENOENT) return std::nullopt;
  if (fd < 0) throw log_error("open", log, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int err = S_ISREG(st.st_mode) ? errno : EINVAL;
    ::close(fd);
    throw log_error("read", log, err);
  }
  return OpenLog(fd, st);
}

off_t file_size(const OpenLog& file, const fs::path& log) {
  struct stat st {};
  if (::fstat(file.fd(), &st) != 0) throw log_error("read", log, errno);
  return st.st_size;
}

// Reads `size` bytes at `offset`; fewer only when the file shrank meanwhile.
std::size_t read_at(int fd, char* buffer, std::size_t size, off_t offset, const fs::path& log) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, buffer + done, size - done, offset + off_t(done));
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw log_error("read", log, errno);
    done += std::size_t(n);
  }
  return done;
}

// Where the last `lines` lines begin. Reads backwards from the end one block
// at a time, so only the tail of a huge log is ever touched.
off_t start_of_last_lines(const OpenLog& file, std::size_t lines, const fs::path& log) {
  off_t size = file_size(file, log);
  if (lines == 0) return size;
  std::vector<char> block(kBlock);
  std::size_t newlines = 0;
  for (off_t end = size; end > 0;) {
    std::size_t length = std::size_t(std::min<off_t>(end, off_t(kBlock)));
    off_t begin = end - off_t(length);
    if (read_at(file.fd(), block.data(), length, begin, log) != length) return 0;  // shrank: show it all
    for (std::size_t i = length; i-- > 0;) {
      // A newline ends a line; the line after it starts right behind it. The
      // final newline of the file starts no line.
      if (block[i] != '\n' || begin + off_t(i) == size - 1) continue;
      if (++newlines == lines) return begin + off_t(i) + 1;
    }
    end = begin;
  }
  return 0;
}

using Sink = std::function<void(std::string_view bytes)>;

void write_all(int fd, const char* data, std::size_t size) {
  if (int err = os::write_fully(fd, std::string_view(data, size)); err != 0) {
    throw Error(errc::console_no_log, fmt::format("cannot write the console log out: {}", errno_text(err)),
                "check where vmctl's output goes (a full disk, a closed pipe)");
  }
}

// Shows what was added since the last call: everything up to the current end.
void copy_to_end(OpenLog& file, const Sink& out, const fs::path& log) {
  std::vector<char> buffer(kBlock);
  while (true) {
    std::size_t n = read_at(file.fd(), buffer.data(), buffer.size(), file.offset, log);
    if (n == 0) return;
    out(std::string_view(buffer.data(), n));
    file.offset += off_t(n);
  }
}

// Between two polls the log may have been truncated (start again from the
// top), replaced (finish the old file, then read the new one from the top),
// or removed (keep the old one: its writer may still append; a new one may
// appear later).
void notice_changes(const fs::path& log, std::optional<OpenLog>& current, const Sink& out) {
  struct stat st {};
  if (::stat(log.c_str(), &st) != 0) return;
  if (current && current->is(st)) {
    if (file_size(*current, log) < current->offset) current->offset = 0;
    return;
  }
  if (current) copy_to_end(*current, out, log);
  current.reset();
  if (std::optional<OpenLog> fresh = open_log(log)) current.emplace(std::move(*fresh));
}

void follow(const fs::path& log, std::optional<OpenLog> current, const Sink& out, const LogViewOptions& options) {
  while (true) {
    if (current) copy_to_end(*current, out, log);
    if (options.keep_following && !options.keep_following()) return;
    std::this_thread::sleep_for(options.poll_interval);
    notice_changes(log, current, out);
  }
}

}  // namespace

void show_log(const fs::path& log, int out_fd, const LogViewOptions& options) {
  show_log(log, [out_fd](std::string_view bytes) { write_all(out_fd, bytes.data(), bytes.size()); }, options);
}

void show_log(const fs::path& log, const std::function<void(std::string_view bytes)>& out,
              const LogViewOptions& options) {
  std::optional<OpenLog> current = open_log(log);
  if (!current && !options.follow) {
    throw Error(errc::console_no_log, fmt::format("the console log {} does not exist", log.string()),
                "the VM has written no console output yet; start it first");
  }
  if (current && options.last_lines) current->offset = start_of_last_lines(*current, *options.last_lines, log);
  if (current) copy_to_end(*current, out, log);
  if (options.follow) follow(log, std::move(current), out, options);
}

}  // namespace vm_manager::console

#include "os/files.hpp"
#include "os/unique_fd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::os {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kTempMarker = ".tmp-";

[[noreturn]] void io_error(std::string_view what, const fs::path& path, int err) {
  throw Error(errc::store_io, fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err)),
              "check free space and the permissions of the data dir");
}

void write_all(int fd, std::string_view data, const fs::path& path) {
  if (int err = write_fully(fd, data); err != 0) io_error("write", path, err);
}

void fsync_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) io_error("open", dir, errno);
  if (::fsync(fd.get()) != 0) io_error("sync", dir, errno);
}

std::string temp_name_for(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  return fmt::format("{}{}{}-{}", path.filename().string(), kTempMarker, ::getpid(), counter++);
}

}  // namespace

void write_file_atomic(const fs::path& path, std::string_view data, mode_t mode, Sync sync) {
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  fs::path temp = dir / temp_name_for(path);
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0) io_error("create", temp, errno);
  try {
    // open() applies the umask; the caller's mode is what it asked for.
    if (::fchmod(fd.get(), mode) != 0) io_error("set the mode of", temp, errno);
    write_all(fd.get(), data, temp);
    if (sync == Sync::durable && ::fsync(fd.get()) != 0) io_error("sync", temp, errno);
    if (::close(fd.release()) != 0) io_error("close", temp, errno);
    if (::rename(temp.c_str(), path.c_str()) != 0) io_error("replace", path, errno);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  if (sync == Sync::durable) fsync_dir(dir);
}

void create_private_file(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0 && errno != EEXIST) io_error("create", path, errno);
}

std::optional<std::string> read_file(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    io_error("open", path, errno);
  }
  std::string content;
  char buffer[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_error("read", path, errno);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
  }
  return content;
}

bool make_dir(const fs::path& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0) return true;
  if (errno == EEXIST && fs::is_directory(path)) return false;
  io_error("create folder", path, errno);
}

int write_fully(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, -1);
    } else if (n < 0 && errno != EINTR) {
      return errno;
    }
  }
  return 0;
}

bool is_temp_file_name(std::string_view file_name) {
  return file_name.find(kTempMarker) != std::string_view::npos;
}

}  // namespace vm_manager::os

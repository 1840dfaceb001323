#include "backends/noop/state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "os/files.hpp"
#include "os/unique_fd.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::noop {
namespace fs = std::filesystem;
namespace {

constexpr const char* kStateFile = "noop-state";
// Longer than any state's name; a bigger file is not ours.
constexpr std::size_t kMaxStateSize = 64;

[[noreturn]] void io_error(std::string_view what, const fs::path& path, int err) {
  throw Error(errc::store_io, fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err)),
              "check the permissions of the data dir");
}

// The VM's folder, or an empty fd when there is none. A symlink or anything
// else in its place is refused.
os::UniqueFd open_work_dir(const DataDir& data_dir, std::string_view name) {
  fs::path dir = data_dir.vm_dir(name);
  os::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0 && errno != ENOENT) io_error("open", dir, errno == ELOOP ? ENOTDIR : errno);
  return fd;
}

std::string temp_name() {
  static std::atomic<unsigned> counter{0};
  return fmt::format("{}{}-{}", kStateFile, ".tmp-", ::getpid(), counter++);
}

}  // namespace

bool has_work_dir(const DataDir& data_dir, std::string_view name) {
  struct stat st {};
  return ::lstat(data_dir.vm_dir(name).c_str(), &st) == 0;
}

std::optional<VmState> read_state(const DataDir& data_dir, std::string_view name) {
  os::UniqueFd dir = open_work_dir(data_dir, name);
  if (dir.get() < 0) return std::nullopt;
  os::UniqueFd fd(::openat(dir.get(), kStateFile, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  char buffer[kMaxStateSize + 1];
  ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
  if (n < 0) io_error("read", data_dir.vm_dir(name) / kStateFile, errno);
  std::string_view text(buffer, static_cast<std::size_t>(n));
  if (text.size() > kMaxStateSize) return std::nullopt;
  if (text.ends_with('\n')) text.remove_suffix(1);
  return parse_vm_state(text);
}

void write_state(const DataDir& data_dir, std::string_view name, VmState state) {
  const fs::path path = data_dir.vm_dir(name) / kStateFile;
  os::UniqueFd dir = open_work_dir(data_dir, name);
  if (dir.get() < 0) io_error("write", path, ENOENT);
  const std::string temp = temp_name();
  os::UniqueFd fd(::openat(dir.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) io_error("create", path, errno);
  int err = ::fchmod(fd.get(), 0600) != 0 ? errno : 0;  // whatever the umask
  if (err == 0) err = os::write_fully(fd.get(), std::string(to_string(state)) + "\n");
  if (err == 0 && ::fsync(fd.get()) != 0) err = errno;
  if (err == 0 && ::renameat(dir.get(), temp.c_str(), dir.get(), kStateFile) != 0) err = errno;
  if (err != 0) {
    ::unlinkat(dir.get(), temp.c_str(), 0);
    io_error("write", path, err);
  }
  if (::fsync(dir.get()) != 0) io_error("sync", path.parent_path(), errno);
}

}  // namespace vm_manager::noop

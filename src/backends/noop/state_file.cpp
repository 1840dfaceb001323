#include "backends/noop/state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "vm_manager/json.hpp"

#include "os/files.hpp"
#include "os/unique_fd.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::noop {
namespace fs = std::filesystem;
namespace {

constexpr const char* kStateFile = "noop-state";
// Longer than any state's name; a bigger file is not ours.
constexpr std::size_t kMaxStateSize = 64;
// The snapshots the noop backend records (JSON), with room for thousands.
constexpr const char* kSnapshotsFile = "noop-snapshots";
constexpr std::size_t kMaxSnapshotsSize = 1 << 20;

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

std::string temp_name(const char* file) {
  static std::atomic<unsigned> counter{0};
  return fmt::format("{}.tmp-{}-{}", file, ::getpid(), counter++);
}

std::optional<std::string> read_vm_file(const DataDir& data_dir, std::string_view name, const char* file,
                                        std::size_t max_size) {
  os::UniqueFd dir = open_work_dir(data_dir, name);
  if (dir.get() < 0) return std::nullopt;
  os::UniqueFd fd(::openat(dir.get(), file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  std::string text(max_size + 1, '\0');
  std::size_t filled = 0;
  while (filled < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + filled, text.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_error("read", data_dir.vm_dir(name) / file, errno);
    if (n == 0) break;
    filled += static_cast<std::size_t>(n);
  }
  if (filled > max_size) return std::nullopt;  // a bigger file is not ours
  text.resize(filled);
  return text;
}

void write_vm_file(const DataDir& data_dir, std::string_view name, const char* file, const std::string& content) {
  const fs::path path = data_dir.vm_dir(name) / file;
  os::UniqueFd dir = open_work_dir(data_dir, name);
  if (dir.get() < 0) io_error("write", path, ENOENT);
  const std::string temp = temp_name(file);
  os::UniqueFd fd(::openat(dir.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) io_error("create", path, errno);
  int err = ::fchmod(fd.get(), 0600) != 0 ? errno : 0;  // whatever the umask
  if (err == 0) err = os::write_fully(fd.get(), content);
  if (err == 0 && ::fsync(fd.get()) != 0) err = errno;
  if (err == 0 && ::renameat(dir.get(), temp.c_str(), dir.get(), file) != 0) err = errno;
  if (err != 0) {
    ::unlinkat(dir.get(), temp.c_str(), 0);
    io_error("write", path, err);
  }
  if (::fsync(dir.get()) != 0) io_error("sync", path.parent_path(), errno);
}

}  // namespace

bool has_work_dir(const DataDir& data_dir, std::string_view name) {
  struct stat st {};
  return ::lstat(data_dir.vm_dir(name).c_str(), &st) == 0;
}

std::optional<VmState> read_state(const DataDir& data_dir, std::string_view name) {
  std::optional<std::string> text = read_vm_file(data_dir, name, kStateFile, kMaxStateSize);
  if (!text) return std::nullopt;
  std::string_view state = *text;
  if (state.ends_with('\n')) state.remove_suffix(1);
  return parse_vm_state(state);
}

void write_state(const DataDir& data_dir, std::string_view name, VmState state) {
  write_vm_file(data_dir, name, kStateFile, std::string(to_string(state)) + "\n");
}

std::vector<SnapshotInfo> read_snapshots(const DataDir& data_dir, std::string_view name) {
  std::optional<std::string> text = read_vm_file(data_dir, name, kSnapshotsFile, kMaxSnapshotsSize);
  if (!text) return {};
  try {
    return nlohmann::json::parse(*text).get<std::vector<SnapshotInfo>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(errc::store_corrupt,
                fmt::format("the noop snapshots of VM '{}' are unreadable: {}", name, e.what()),
                "remove the file noop-snapshots in the VM's folder, or destroy the VM");
  }
}

void write_snapshots(const DataDir& data_dir, std::string_view name, const std::vector<SnapshotInfo>& snapshots) {
  write_vm_file(data_dir, name, kSnapshotsFile, nlohmann::json(snapshots).dump() + "\n");
}

}  // namespace vm_manager::noop

#include "backends/qemu/runtime_paths.hpp"
#include "backends/qemu/work_dir_layout.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "os/files.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kMaxSocketPath = 107;
constexpr const char* kLongestSocketName = layout::kConsoleSocket;

// A folder only we may use: a symlink or another user's folder planted in
// /tmp would let them intercept the VM's console.
void require_private_dir(const fs::path& dir) {
  os::make_dir(dir, 0700);
  if (!is_private_dir(dir)) {
    throw Error(errc::store_io, fmt::format("{} is not a private folder of this user", dir.string()),
                "remove it, or set XDG_RUNTIME_DIR to a private folder");
  }
}

fs::path shared_base(const std::optional<fs::path>& runtime_dir) {
  return (runtime_dir && runtime_dir->is_absolute()) ? *runtime_dir / "vmctl"
                                                     : fs::path(fmt::format("/tmp/vmctl-{}", ::getuid()));
}

std::string short_id(const std::string& vm_id) { return vm_id.substr(0, 13); }

}  // namespace

bool is_private_dir(const fs::path& dir) {
  struct stat st {};
  return ::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::getuid() && (st.st_mode & 077) == 0;
}

fs::path socket_dir_for(const fs::path& work_dir, const std::string& vm_id,
                        const std::optional<fs::path>& runtime_dir) {
  if ((work_dir / kLongestSocketName).string().size() <= kMaxSocketPath) return work_dir;
  fs::path base = shared_base(runtime_dir);
  require_private_dir(base);
  fs::path dir = base / short_id(vm_id);
  require_private_dir(dir);
  return dir;
}

std::vector<fs::path> possible_socket_dirs(const fs::path& work_dir, const std::string& vm_id,
                                           const std::optional<fs::path>& runtime_dir) {
  return {work_dir, shared_base(runtime_dir) / short_id(vm_id), shared_base(std::nullopt) / short_id(vm_id)};
}

namespace {

// Calls act(path) for each runtime file that lstat shows to be of its kind:
// the sockets given plus the VNC one, and the pidfile.
template <typename Act>
void for_each_runtime_file(const fs::path& qmp_socket, const fs::path& console_socket, const fs::path& pidfile,
                           Act act) {
  auto act_if = [&act](const fs::path& file, mode_t type) {
    struct stat st {};
    if (!file.empty() && ::lstat(file.c_str(), &st) == 0 && (st.st_mode & S_IFMT) == type) act(file);
  };
  for (const fs::path& socket : {qmp_socket, console_socket, layout::vnc_socket(qmp_socket)}) act_if(socket, S_IFSOCK);
  act_if(pidfile, S_IFREG);
}

}  // namespace

void remove_runtime_leftovers(const fs::path& qmp_socket, const fs::path& console_socket, const fs::path& pidfile) {
  for_each_runtime_file(qmp_socket, console_socket, pidfile, [](const fs::path& file) { ::unlink(file.c_str()); });
}

void make_runtime_files_private(const fs::path& qmp_socket, const fs::path& console_socket,
                                const fs::path& pidfile) {
  // The folder is private, so nobody can swap a file between lstat and chmod.
  for_each_runtime_file(qmp_socket, console_socket, pidfile,
                        [](const fs::path& file) { ::chmod(file.c_str(), 0600); });
}

}  // namespace vm_manager::qemu

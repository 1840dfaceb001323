// How backends make themselves known: a BackendRegistry maps each backend's
// id ("qemu") to a factory that builds it from a BackendContext. It is the
// only list of backends: the router, the CLI's --backend choices and the
// VMFile's `backend` values all come from it.
#pragma once

#include "vm_manager/export.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vm_manager/data_dir.hpp"
#include "vm_manager/environment.hpp"
#include "vm_manager/hypervisor.hpp"
#include "vm_manager/log.hpp"

namespace vm_manager {

// What backends are built from.
struct BackendContext {
  DataDir data_dir;
  std::optional<std::string> bridge;    // default bridge for TAP networking
  std::optional<std::string> zfs_pool;  // pool for Propolis disks
  // Where each backend reads its own settings (VMCTL_QEMU, VMCTL_ZFS_POOL…).
  Environment environment;
  // Where the backends' warnings and debug lines go (a TCG fallback, a QEMU
  // that does not answer…); empty: nowhere.
  LogSink log = {};
};

using BackendFactory = std::function<std::unique_ptr<Hypervisor>(const BackendContext&)>;

// Which backend a spec without one goes to.
enum class BackendDefault {
  no,        // only VMs that name it
  platform,  // this platform's own backend (the first one registered wins)
  fallback,  // the default when no platform backend is registered (noop)
};

// The registration seam: each backend's folder has a register.cpp whose
// register_<id>_backend() adds it here (see docs/architecture.md); the router
// and everything above it never name a backend.
class VM_MANAGER_API BackendRegistry {
 public:
  // A backend this build and host can run, under `id` (is_backend_id).
  // Registering an id again replaces the earlier entry.
  void add(std::string id, BackendFactory factory, BackendDefault is_default = BackendDefault::no);
  // A backend this build or host lacks; using it raises backend::not_available
  // with this message and hint.
  void add_unavailable(std::string id, std::string message, std::string help);
  // A backend this build was configured without (src/backends/CMakeLists.txt):
  // unavailable, saying so.
  void add_left_out(std::string id);

  // The ids registered (available or not), in the order they were first added.
  std::vector<std::string> ids() const;
  bool contains(std::string_view id) const;
  // The backend for specs that name none: the first platform backend, else
  // the first fallback; nullopt when neither is registered.
  std::optional<std::string> default_id() const;

  // Every backend this build has, each registered by its own folder (noop,
  // plus qemu on Linux and propolis on illumos unless built without).
  static BackendRegistry builtin();
  // Only the noop backend, registered the same way.
  static BackendRegistry noop_only();

 private:
  friend class RouterHypervisor;
  struct Entry {
    std::string id;
    BackendFactory factory;  // empty when unavailable
    std::string message;
    std::string help;
    BackendDefault is_default = BackendDefault::no;
  };
  Entry& entry_for(std::string id);
  std::vector<Entry> entries_;  // in registration order
};

}  // namespace vm_manager

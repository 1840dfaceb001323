// How backends make themselves known: a BackendRegistry maps each backend's
// tag to a factory that builds it from a BackendContext.
#pragma once

#include "vm_manager/export.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
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

// The registration seam: each backend's folder has a register.cpp whose
// register_<id>_backend() adds it here (see docs/architecture.md); the router
// and everything above it never name a backend.
class VM_MANAGER_API BackendRegistry {
 public:
  // A backend this build and host can run. The first one registered with
  // `platform_default` becomes the default for specs without a backend.
  void add(BackendTag tag, BackendFactory factory, bool platform_default = false);
  // A backend this build or host lacks; using it raises backend::not_available
  // with this message and hint.
  void add_unavailable(BackendTag tag, std::string message, std::string help);

  // The backends registered (available or not), in order.
  std::vector<BackendTag> tags() const;

  // Every backend this build has, each registered by its own folder (noop,
  // plus qemu on Linux and propolis on illumos unless built without).
  static BackendRegistry builtin();
  // Only the noop backend, registered the same way.
  static BackendRegistry noop_only();

 private:
  friend class RouterHypervisor;
  struct Entry {
    BackendFactory factory;  // empty when unavailable
    std::string message;
    std::string help;
  };
  std::map<BackendTag, Entry> entries_;
  std::optional<BackendTag> default_;
};

}  // namespace vm_manager

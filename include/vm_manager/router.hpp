// RouterHypervisor sends each call to the backend that owns the VM.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "vm_manager/data_dir.hpp"
#include "vm_manager/hypervisor.hpp"

namespace vm_manager {

// What backends are built from.
struct BackendContext {
  DataDir data_dir;
  std::optional<std::string> bridge;    // default bridge for TAP networking
  std::optional<std::string> zfs_pool;  // pool for Propolis disks
};

using BackendFactory = std::function<std::unique_ptr<Hypervisor>(const BackendContext&)>;

// The registration seam: each backend adds itself here (see
// src/router/platform_backends_*.cpp); dispatch code never names a backend.
class BackendRegistry {
 public:
  // A backend this build and host can run. The first one registered with
  // `platform_default` becomes the default for specs without a backend.
  void add(BackendTag tag, BackendFactory factory, bool platform_default = false);
  // A backend this build or host lacks; using it raises backend::not_available
  // with this message and hint.
  void add_unavailable(BackendTag tag, std::string message, std::string help);

  // noop plus what this platform has (Linux: qemu; illumos: propolis).
  static BackendRegistry builtin();
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

class RouterHypervisor final : public Hypervisor {
 public:
  // The platform's backends, with the data dir from the environment
  // (DataDir::resolve).
  RouterHypervisor(std::optional<std::string> bridge, std::optional<std::string> zfs_pool);
  explicit RouterHypervisor(BackendContext context,
                            BackendRegistry registry = BackendRegistry::builtin());

  // Only the noop backend, which is also the default. For tests and examples.
  static RouterHypervisor noop_only(DataDir data_dir);

  BackendTag default_backend() const { return default_; }
  bool available(BackendTag tag) const;

  VmHandle prepare(const VmSpec& spec) override;
  VmHandle start(const VmHandle& handle) override;
  VmHandle stop(const VmHandle& handle, std::chrono::milliseconds timeout) override;
  VmHandle suspend(const VmHandle& handle) override;
  VmHandle resume(const VmHandle& handle) override;
  void destroy(VmHandle handle) override;
  VmState state(const VmHandle& handle) override;
  std::string guest_ip(const VmHandle& handle) override;
  ConsoleEndpoint console_endpoint(const VmHandle& handle) override;

 private:
  struct Unavailable {
    std::string message;
    std::string help;
  };
  Hypervisor& backend_for(BackendTag tag);

  std::map<BackendTag, std::unique_ptr<Hypervisor>> backends_;
  std::map<BackendTag, Unavailable> unavailable_;
  BackendTag default_ = BackendTag::noop;
};

}  // namespace vm_manager

// RouterHypervisor sends each call to the backend that owns the VM.
#pragma once

#include "vm_manager/export.hpp"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "vm_manager/backend_registry.hpp"
#include "vm_manager/data_dir.hpp"
#include "vm_manager/hypervisor.hpp"

namespace vm_manager {

class VM_MANAGER_API RouterHypervisor final : public Hypervisor {
 public:
  explicit RouterHypervisor(BackendContext context,
                            BackendRegistry registry = BackendRegistry::builtin());

  // Only the noop backend, which is also the default. For tests and examples.
  static RouterHypervisor noop_only(DataDir data_dir);

  // The id of the backend for specs that name none (empty when there is none).
  const std::string& default_backend() const { return default_; }
  bool available(std::string_view id) const;

  VmHandle prepare(const VmSpec& spec) override;
  // Asks the backend the spec names (or the default one).
  std::string image_reference(const VmSpec& spec) override;
  VmHandle start(const VmHandle& handle) override;
  VmHandle stop(const VmHandle& handle, std::chrono::milliseconds timeout) override;
  VmHandle suspend(const VmHandle& handle) override;
  VmHandle resume(const VmHandle& handle) override;
  void destroy(VmHandle handle) override;
  // Which backend made the VM is unknown: every backend clears its own
  // traces. Raises the first failure after all have tried.
  void destroy_remains(const VmHandle& remains) override;
  void check_stored_paths(const VmHandle& handle) override;
  VmState state(const VmHandle& handle) override;
  std::string guest_ip(const VmHandle& handle) override;
  ConsoleEndpoint console_endpoint(const VmHandle& handle) override;
  ConsoleHistory console_history(const VmHandle& handle) override;
  int open_console(const VmHandle& handle) override;
  // Asks the backend host.backend names.
  HostInfo describe_host(const HostSpec& host) override;
  nlohmann::json describe(const VmHandle& handle) override;
  VmHandle add_port_forward(const VmHandle& handle, const PortForward& forward) override;
  VmHandle remove_port_forward(const VmHandle& handle, std::uint16_t host_port, PortProtocol protocol) override;
  VmHandle create_snapshot(const VmHandle& handle, const std::string& snapshot, SnapshotMemory memory) override;
  std::vector<SnapshotInfo> list_snapshots(const VmHandle& handle) override;
  VmHandle restore_snapshot(const VmHandle& handle, const std::string& snapshot) override;
  VmHandle delete_snapshot(const VmHandle& handle, const std::string& snapshot) override;
  VmHandle hard_reset(const VmHandle& handle) override;
  VmHandle resize(const VmHandle& handle, const VmResize& change) override;

 private:
  // A backend is built the first time a call needs it: most commands touch
  // one backend, and building another (probing its host, or failing to on a
  // platform without it) would only slow every start-up. Several threads may
  // ask at once (list() asks every VM's backend concurrently).
  struct Slot {
    BackendFactory factory;  // empty for a backend the build left out
    std::once_flag built;
    std::unique_ptr<Hypervisor> backend;
    std::string message;  // why there is no backend, when there is none
    std::string help;
  };
  // The backend `id`, built if needed; nullptr (with slot's reason) when it
  // is unavailable, or when no backend has that id (then `slot` is null).
  Hypervisor* built(const std::string& id, Slot** slot = nullptr) const;
  Hypervisor& backend_for(const std::string& id);

  BackendContext context_;
  std::string default_;
  std::map<std::string, std::unique_ptr<Slot>, std::less<>> slots_;
};

}  // namespace vm_manager

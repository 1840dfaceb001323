// RouterHypervisor sends each call to the backend that owns the VM.
#pragma once

#include "vm_manager/export.hpp"

#include <functional>
#include <map>
#include <memory>
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
  VmState state(const VmHandle& handle) override;
  std::string guest_ip(const VmHandle& handle) override;
  ConsoleEndpoint console_endpoint(const VmHandle& handle) override;
  ConsoleHistory console_history(const VmHandle& handle) override;
  nlohmann::json describe(const VmHandle& handle) override;

 private:
  struct Unavailable {
    std::string message;
    std::string help;
  };
  Hypervisor& backend_for(const std::string& id);

  std::map<std::string, std::unique_ptr<Hypervisor>, std::less<>> backends_;
  std::map<std::string, Unavailable, std::less<>> unavailable_;
  std::string default_;
};

}  // namespace vm_manager

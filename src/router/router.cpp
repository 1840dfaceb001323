#include "vm_manager/router.hpp"

#include <exception>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {

RouterHypervisor::RouterHypervisor(BackendContext context, BackendRegistry registry)
    : context_(std::move(context)), default_(registry.default_id().value_or("")) {
  for (auto& entry : registry.entries_) {
    auto slot = std::make_unique<Slot>();
    slot->factory = std::move(entry.factory);
    slot->message = std::move(entry.message);
    slot->help = std::move(entry.help);
    slots_[entry.id] = std::move(slot);
  }
}

RouterHypervisor RouterHypervisor::noop_only(DataDir data_dir) {
  return RouterHypervisor(BackendContext{std::move(data_dir), std::nullopt, std::nullopt, {}},
                          BackendRegistry::noop_only());
}

Hypervisor* RouterHypervisor::built(const std::string& id, Slot** found) const {
  auto it = slots_.find(id);
  if (found != nullptr) *found = it == slots_.end() ? nullptr : it->second.get();
  if (it == slots_.end()) return nullptr;
  Slot& slot = *it->second;
  std::call_once(slot.built, [&] {
    if (!slot.factory) return;
    try {
      slot.backend = slot.factory(context_);
    } catch (const Error& e) {
      // A backend that cannot be set up (say, a malformed setting) must
      // not take the others down with it.
      slot.message = e.message();
      slot.help = e.help();
    }
  });
  return slot.backend.get();
}

bool RouterHypervisor::available(std::string_view id) const { return built(std::string(id)) != nullptr; }

Hypervisor& RouterHypervisor::backend_for(const std::string& id) {
  Slot* slot = nullptr;
  if (Hypervisor* backend = built(id, &slot)) return *backend;
  if (slot != nullptr) throw Error(errc::backend_not_available, slot->message, slot->help);
  if (id.empty()) {
    throw Error(errc::backend_not_available, "this build has no default backend",
                "name the backend the VM should run on");
  }
  // An id no backend of this source tree has (a record or a spec from elsewhere).
  throw Error(errc::backend_not_available, fmt::format("there is no backend '{}' in this build", id),
              "choose one of the backends this build has");
}

VmHandle RouterHypervisor::prepare(const VmSpec& spec) {
  validate_spec(spec);
  const std::string id = spec.backend.value_or(default_);
  Hypervisor& backend = backend_for(id);
  VmHandle handle = backend.prepare(spec);
  if (handle.backend != id) {
    try {
      backend.destroy(handle);  // prepare's promise: on failure nothing remains
    } catch (...) {
    }
    throw Error(errc::backend_mismatch,
                fmt::format("the {} backend returned a handle tagged {}", id, handle.backend),
                "this is a bug in that backend; please report it");
  }
  return handle;
}

std::string RouterHypervisor::image_reference(const VmSpec& spec) {
  return backend_for(spec.backend.value_or(default_)).image_reference(spec);
}

VmHandle RouterHypervisor::start(const VmHandle& handle) { return backend_for(handle.backend).start(handle); }

VmHandle RouterHypervisor::stop(const VmHandle& handle, std::chrono::milliseconds timeout) {
  return backend_for(handle.backend).stop(handle, timeout);
}

VmHandle RouterHypervisor::suspend(const VmHandle& handle) {
  return backend_for(handle.backend).suspend(handle);
}

VmHandle RouterHypervisor::resume(const VmHandle& handle) {
  return backend_for(handle.backend).resume(handle);
}

void RouterHypervisor::destroy(VmHandle handle) {
  const std::string id = handle.backend;
  backend_for(id).destroy(std::move(handle));
}

void RouterHypervisor::destroy_remains(const VmHandle& remains) {
  std::exception_ptr first;
  for (const auto& entry : slots_) {
    Hypervisor* backend = built(entry.first);
    if (backend == nullptr) continue;
    try {
      backend->destroy_remains(remains);
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

VmState RouterHypervisor::state(const VmHandle& handle) { return backend_for(handle.backend).state(handle); }

std::string RouterHypervisor::guest_ip(const VmHandle& handle) {
  return backend_for(handle.backend).guest_ip(handle);
}

ConsoleEndpoint RouterHypervisor::console_endpoint(const VmHandle& handle) {
  return backend_for(handle.backend).console_endpoint(handle);
}

ConsoleHistory RouterHypervisor::console_history(const VmHandle& handle) {
  return backend_for(handle.backend).console_history(handle);
}

int RouterHypervisor::open_console(const VmHandle& handle) {
  return backend_for(handle.backend).open_console(handle);
}

HostInfo RouterHypervisor::describe_host(const HostSpec& host) { return backend_for(host.backend).describe_host(host); }

void RouterHypervisor::check_stored_paths(const VmHandle& handle) {
  backend_for(handle.backend).check_stored_paths(handle);
}

nlohmann::json RouterHypervisor::describe(const VmHandle& handle) {
  return backend_for(handle.backend).describe(handle);
}

VmHandle RouterHypervisor::add_port_forward(const VmHandle& handle, const PortForward& forward) {
  return backend_for(handle.backend).add_port_forward(handle, forward);
}

VmHandle RouterHypervisor::remove_port_forward(const VmHandle& handle, std::uint16_t host_port,
                                               PortProtocol protocol) {
  return backend_for(handle.backend).remove_port_forward(handle, host_port, protocol);
}

VmHandle RouterHypervisor::create_snapshot(const VmHandle& handle, const std::string& snapshot,
                                           SnapshotMemory memory) {
  return backend_for(handle.backend).create_snapshot(handle, snapshot, memory);
}

std::vector<SnapshotInfo> RouterHypervisor::list_snapshots(const VmHandle& handle) {
  return backend_for(handle.backend).list_snapshots(handle);
}

VmHandle RouterHypervisor::restore_snapshot(const VmHandle& handle, const std::string& snapshot) {
  return backend_for(handle.backend).restore_snapshot(handle, snapshot);
}

VmHandle RouterHypervisor::delete_snapshot(const VmHandle& handle, const std::string& snapshot) {
  return backend_for(handle.backend).delete_snapshot(handle, snapshot);
}

VmHandle RouterHypervisor::hard_reset(const VmHandle& handle) { return backend_for(handle.backend).hard_reset(handle); }

VmHandle RouterHypervisor::resize(const VmHandle& handle, const VmResize& change) {
  return backend_for(handle.backend).resize(handle, change);
}

}  // namespace vm_manager

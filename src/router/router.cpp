#include "vm_manager/router.hpp"

#include <exception>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {

RouterHypervisor::RouterHypervisor(BackendContext context, BackendRegistry registry) {
  for (auto& entry : registry.entries_) {
    if (entry.factory) {
      try {
        backends_[entry.id] = entry.factory(context);
      } catch (const Error& e) {
        // A backend that cannot be set up (say, a malformed setting) must
        // not take the others down with it.
        unavailable_[entry.id] = Unavailable{e.message(), e.help()};
      }
    } else {
      unavailable_[entry.id] = Unavailable{entry.message, entry.help};
    }
  }
  default_ = registry.default_id().value_or("");
}

RouterHypervisor RouterHypervisor::noop_only(DataDir data_dir) {
  return RouterHypervisor(BackendContext{std::move(data_dir), std::nullopt, std::nullopt, {}},
                          BackendRegistry::noop_only());
}

bool RouterHypervisor::available(std::string_view id) const { return backends_.find(id) != backends_.end(); }

Hypervisor& RouterHypervisor::backend_for(const std::string& id) {
  if (auto it = backends_.find(id); it != backends_.end()) return *it->second;
  if (auto it = unavailable_.find(id); it != unavailable_.end()) {
    throw Error(errc::backend_not_available, it->second.message, it->second.help);
  }
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
  for (auto& [id, backend] : backends_) {
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

nlohmann::json RouterHypervisor::describe(const VmHandle& handle) {
  return backend_for(handle.backend).describe(handle);
}

}  // namespace vm_manager

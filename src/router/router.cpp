#include "vm_manager/router.hpp"

#include <exception>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {

RouterHypervisor::RouterHypervisor(BackendContext context, BackendRegistry registry) {
  for (auto& [tag, entry] : registry.entries_) {
    if (entry.factory) {
      try {
        backends_[tag] = entry.factory(context);
      } catch (const Error& e) {
        // A backend that cannot be set up (say, a malformed setting) must
        // not take the others down with it.
        unavailable_[tag] = Unavailable{e.message(), e.help()};
      }
    } else {
      unavailable_[tag] = Unavailable{entry.message, entry.help};
    }
  }
  default_ = registry.default_.value_or(BackendTag::noop);
}

RouterHypervisor RouterHypervisor::noop_only(DataDir data_dir) {
  return RouterHypervisor(BackendContext{std::move(data_dir), std::nullopt, std::nullopt, {}},
                          BackendRegistry::noop_only());
}

bool RouterHypervisor::available(BackendTag tag) const { return backends_.contains(tag); }

Hypervisor& RouterHypervisor::backend_for(BackendTag tag) {
  if (auto it = backends_.find(tag); it != backends_.end()) return *it->second;
  if (auto it = unavailable_.find(tag); it != unavailable_.end()) {
    throw Error(errc::backend_not_available, it->second.message, it->second.help);
  }
  throw Error(errc::backend_not_available,
              fmt::format("the {} backend is not available in this build", to_string(tag)),
              "choose another backend, or a build with this one");
}

VmHandle RouterHypervisor::prepare(const VmSpec& spec) {
  validate_spec(spec);
  BackendTag tag = spec.backend.value_or(default_);
  Hypervisor& backend = backend_for(tag);
  VmHandle handle = backend.prepare(spec);
  if (handle.backend != tag) {
    try {
      backend.destroy(handle);  // prepare's promise: on failure nothing remains
    } catch (...) {
    }
    throw Error(errc::backend_mismatch,
                fmt::format("the {} backend returned a handle tagged {}", to_string(tag),
                            to_string(handle.backend)),
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
  BackendTag tag = handle.backend;
  backend_for(tag).destroy(std::move(handle));
}

void RouterHypervisor::destroy_remains(const VmHandle& remains) {
  std::exception_ptr first;
  for (auto& [tag, backend] : backends_) {
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

}  // namespace vm_manager

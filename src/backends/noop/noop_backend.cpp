#include "vm_manager/noop_backend.hpp"

#include <fmt/format.h>

#include "backends/noop/state_file.hpp"
#include "core/handle_from_spec.hpp"
#include "util/rollback.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {
namespace fs = std::filesystem;
namespace {

std::string join_states(std::initializer_list<VmState> states) {
  std::string out;
  for (VmState s : states) {
    if (!out.empty()) out += " or ";
    out += to_string(s);
  }
  return out;
}

std::string hint_for(std::string_view verb, VmState current) {
  if (current == VmState::destroyed) return "the VM no longer exists; create it again";
  if (verb == "start" && current == VmState::suspended) return "resume a suspended VM instead of starting it";
  if (verb == "start" && current == VmState::running) return "it is already running";
  if ((verb == "resume" || verb == "suspend") && current != VmState::running) {
    return "start the VM first";
  }
  return "check the VM's state";
}

// The host a VMFile placed the VM on, as the libvirt backend names it (the
// host's name, else the URI), so that list, status and `--host` can be tried
// and tested with VMs that run nowhere. Nothing is reached there.
std::string host_of(const VmSpec& spec) {
  for (const char* key : {"host", "connect"}) {
    auto it = spec.backend_options.find(key);
    if (it != spec.backend_options.end() && !it->second.empty()) return it->second;
  }
  return {};
}

}  // namespace

NoopBackend::NoopBackend(DataDir data_dir) : data_dir_(std::move(data_dir)) {}

VmHandle NoopBackend::prepare(const VmSpec& spec) {
  validate_spec(spec);
  fs::path work_dir = data_dir_.create_vm_dir(spec.name);
  VmHandle handle = handle_from_spec(spec, kId, work_dir);
  handle.host = host_of(spec);
  util::Rollback undo([&] { data_dir_.remove_inside(work_dir); });
  noop::write_state(data_dir_, spec.name, VmState::prepared);
  undo.commit();
  return handle;
}

// The record's work_dir is never used: the VM's folder is the data dir's
// vms/<name> (state_file.hpp). An empty one is a handle of no VM.
VmState NoopBackend::state(const VmHandle& handle) {
  if (handle.work_dir.empty() || !noop::has_work_dir(data_dir_, handle.name)) return VmState::destroyed;
  // A work dir without our state in it is a VM gone wrong.
  return noop::read_state(data_dir_, handle.name).value_or(VmState::failed);
}

VmHandle NoopBackend::transition(const VmHandle& handle, std::initializer_list<VmState> from, VmState to,
                                 std::string_view verb) {
  VmState current = state(handle);
  for (VmState allowed : from) {
    if (current == allowed) {
      noop::write_state(data_dir_, handle.name, to);
      return handle;
    }
  }
  throw Error(errc::vm_invalid_state,
              fmt::format("cannot {} VM '{}': it is {} (needs {})", verb, handle.name, to_string(current),
                          join_states(from)),
              hint_for(verb, current));
}

VmHandle NoopBackend::start(const VmHandle& handle) {
  return transition(handle, {VmState::prepared, VmState::stopped}, VmState::running, "start");
}

VmHandle NoopBackend::stop(const VmHandle& handle, std::chrono::milliseconds) {
  VmState current = state(handle);
  if (current == VmState::prepared || current == VmState::stopped) return handle;  // nothing runs
  return transition(handle, {VmState::running, VmState::suspended, VmState::failed}, VmState::stopped,
                    "stop");
}

VmHandle NoopBackend::suspend(const VmHandle& handle) {
  return transition(handle, {VmState::running}, VmState::suspended, "suspend");
}

VmHandle NoopBackend::resume(const VmHandle& handle) {
  return transition(handle, {VmState::suspended}, VmState::running, "resume");
}

VmHandle NoopBackend::hard_reset(const VmHandle& handle) {
  return transition(handle, {VmState::running}, VmState::running, "reset");
}

void NoopBackend::destroy(VmHandle handle) {
  if (handle.work_dir.empty()) return;
  data_dir_.remove_inside(data_dir_.vm_dir(handle.name));
}

std::string NoopBackend::guest_ip(const VmHandle& handle) {
  VmState current = state(handle);
  if (current != VmState::running) {
    throw Error(errc::vm_invalid_state,
                fmt::format("VM '{}' has no address: it is {}", handle.name, to_string(current)),
                "start it first");
  }
  return "127.0.0.1";
}

ConsoleEndpoint NoopBackend::console_endpoint(const VmHandle&) { return NoConsole{}; }

VmHandle NoopBackend::add_port_forward(const VmHandle& handle, const PortForward& forward) {
  if (state(handle) == VmState::destroyed) {
    throw Error(errc::vm_invalid_state, fmt::format("VM '{}' no longer exists", handle.name), "create it again");
  }
  VmHandle changed = handle;
  changed.port_forwards = forwards_with(handle, forward);
  return changed;
}

VmHandle NoopBackend::remove_port_forward(const VmHandle& handle, std::uint16_t host_port, PortProtocol protocol) {
  PortForward removed;
  VmHandle changed = handle;
  changed.port_forwards = forwards_without(handle, host_port, protocol, removed);
  return changed;
}

VmHandle NoopBackend::resize(const VmHandle& handle, const VmResize& change) {
  validate_resize(change);
  VmState current = state(handle);
  if (current == VmState::destroyed) {
    throw Error(errc::vm_invalid_state, fmt::format("VM '{}' no longer exists", handle.name), "create it again");
  }
  if (current != VmState::prepared && current != VmState::stopped) {
    throw Error(errc::resize_running,
                fmt::format("cannot resize VM '{}': it is {}; its size changes only while it is stopped",
                            handle.name, to_string(current)),
                "stop the VM, change its size, then start it again");
  }
  if (change.disk_gb && handle.disk_gb && *change.disk_gb < *handle.disk_gb) {
    throw Error(errc::resize_shrink,
                fmt::format("cannot shrink the disk of VM '{}' from {} to {} GB: a disk only grows", handle.name,
                            *handle.disk_gb, *change.disk_gb),
                fmt::format("give at least {} GB; for a smaller disk, create the VM again", *handle.disk_gb));
  }
  VmHandle changed = handle;
  if (change.vcpus) changed.vcpus = *change.vcpus;
  if (change.memory_mb) changed.memory_mb = *change.memory_mb;
  if (change.disk_gb) changed.disk_gb = *change.disk_gb;
  return changed;
}

}  // namespace vm_manager

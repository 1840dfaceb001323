#include "vm_manager/noop_backend.hpp"

#include <fmt/format.h>

#include "core/handle_from_spec.hpp"
#include "os/files.hpp"
#include "util/rollback.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {
namespace fs = std::filesystem;
namespace {

constexpr const char* kStateFile = "noop-state";

fs::path state_file(const VmHandle& handle) { return fs::path(handle.work_dir) / kStateFile; }

void write_state(const VmHandle& handle, VmState state) {
  os::write_file_atomic(state_file(handle), std::string(to_string(state)) + "\n");
}

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

}  // namespace

NoopBackend::NoopBackend(DataDir data_dir) : data_dir_(std::move(data_dir)) {}

VmHandle NoopBackend::prepare(const VmSpec& spec) {
  validate_spec(spec);
  fs::path work_dir = data_dir_.create_vm_dir(spec.name);
  VmHandle handle = handle_from_spec(spec, kId, work_dir);
  util::Rollback undo([&] { data_dir_.remove_inside(work_dir); });
  write_state(handle, VmState::prepared);
  undo.commit();
  return handle;
}

VmState NoopBackend::state(const VmHandle& handle) {
  if (handle.work_dir.empty() || !fs::is_directory(handle.work_dir)) return VmState::destroyed;
  auto text = os::read_file(state_file(handle));
  if (!text) return VmState::failed;  // a work dir without our record
  if (!text->empty() && text->back() == '\n') text->pop_back();
  return parse_vm_state(*text).value_or(VmState::failed);
}

VmHandle NoopBackend::transition(const VmHandle& handle, std::initializer_list<VmState> from, VmState to,
                                 std::string_view verb) {
  VmState current = state(handle);
  for (VmState allowed : from) {
    if (current == allowed) {
      write_state(handle, to);
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

void NoopBackend::destroy(VmHandle handle) {
  if (handle.work_dir.empty()) return;
  data_dir_.remove_inside(handle.work_dir);
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

}  // namespace vm_manager

#include "vm_manager/hypervisor.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager {

void Hypervisor::destroy_remains(const VmHandle&) {}

void Hypervisor::check_stored_paths(const VmHandle&) {}

std::string Hypervisor::image_reference(const VmSpec& spec) {
  std::filesystem::path absolute = std::filesystem::absolute(spec.image_path);
  if (!std::filesystem::is_regular_file(absolute)) {
    throw Error(errc::spec_invalid, fmt::format("image {} does not exist or is not a file", absolute.string()),
                "name an existing disk image file");
  }
  return absolute.string();
}

namespace {

[[noreturn]] void cannot_publish(const VmHandle& handle) {
  throw Error(errc::port_unsupported,
              fmt::format("the {} backend cannot publish ports (VM '{}')", handle.backend, handle.name),
              "reach the guest at its own address on its network");
}

}  // namespace

VmHandle Hypervisor::add_port_forward(const VmHandle& handle, const PortForward&) { cannot_publish(handle); }

VmHandle Hypervisor::remove_port_forward(const VmHandle& handle, std::uint16_t, PortProtocol) {
  cannot_publish(handle);
}

namespace {

[[noreturn]] void cannot_snapshot(const VmHandle& handle) {
  throw Error(errc::snapshot_unsupported,
              fmt::format("the {} backend cannot snapshot VMs (VM '{}')", handle.backend, handle.name),
              "recreate the VM from its image to go back to a known state");
}

[[noreturn]] void cannot(const VmHandle& handle, std::string_view what) {
  throw Error(errc::backend_unsupported,
              fmt::format("the {} backend cannot {} (VM '{}')", handle.backend, what, handle.name),
              "destroy the VM and create it again");
}

}  // namespace

VmHandle Hypervisor::create_snapshot(const VmHandle& handle, const std::string&, SnapshotMemory) {
  cannot_snapshot(handle);
}

std::vector<SnapshotInfo> Hypervisor::list_snapshots(const VmHandle& handle) { cannot_snapshot(handle); }

VmHandle Hypervisor::restore_snapshot(const VmHandle& handle, const std::string&) { cannot_snapshot(handle); }

VmHandle Hypervisor::delete_snapshot(const VmHandle& handle, const std::string&) { cannot_snapshot(handle); }

VmHandle Hypervisor::hard_reset(const VmHandle& handle) { cannot(handle, "reset a VM"); }

VmHandle Hypervisor::resize(const VmHandle& handle, const VmResize&) { cannot(handle, "resize a VM"); }

nlohmann::json Hypervisor::describe(const VmHandle&) { return nlohmann::json::object(); }

ConsoleHistory Hypervisor::console_history(const VmHandle& handle) {
  throw Error(errc::console_unavailable,
              fmt::format("VM '{}' keeps no console history in its backend ({})", handle.name,
                          handle.backend),
              "read the VM's console log instead");
}

int Hypervisor::open_console(const VmHandle& handle) {
  throw Error(errc::console_unavailable,
              fmt::format("VM '{}' has no console its backend ({}) opens itself", handle.name, handle.backend),
              "attach to the console the VM's endpoint names");
}

HostInfo Hypervisor::describe_host(const HostSpec& host) {
  throw Error(errc::backend_unsupported,
              fmt::format("the {} backend has no hosts to describe (host '{}')", host.backend, host.name),
              "name hosts only for a backend that places VMs on hosts, such as libvirt");
}

}  // namespace vm_manager

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

nlohmann::json Hypervisor::describe(const VmHandle&) { return nlohmann::json::object(); }

ConsoleHistory Hypervisor::console_history(const VmHandle& handle) {
  throw Error(errc::console_unavailable,
              fmt::format("VM '{}' keeps no console history in its backend ({})", handle.name,
                          handle.backend),
              "read the VM's console log instead");
}

}  // namespace vm_manager

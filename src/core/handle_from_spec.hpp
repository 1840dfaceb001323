#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "vm_manager/types.hpp"

namespace vm_manager {

// The shared handle fields every backend copies from the spec, with a fresh
// id; the backend adds its own state.
VmHandle handle_from_spec(const VmSpec& spec, std::string_view backend, const std::filesystem::path& work_dir);

// The handle's forwards with `forward` added, checked together
// (validate_port_forwards). For a backend's add_port_forward.
std::vector<PortForward> forwards_with(const VmHandle& handle, const PortForward& forward);

// The handle's forwards without the one on host_port/protocol, which goes to
// `removed`. Raises port::not_found when there is none.
std::vector<PortForward> forwards_without(const VmHandle& handle, std::uint16_t host_port, PortProtocol protocol,
                                          PortForward& removed);

}  // namespace vm_manager

// JSON for the public types. Reading ignores unknown fields and fills missing
// ones with defaults, so a handle written by an older vmctl still loads;
// writing then reading gives back an equal value, except that a handle's
// vnc_password is never written.
#pragma once

#include "vm_manager/export.hpp"

#include <nlohmann/json.hpp>

#include "vm_manager/types.hpp"

namespace vm_manager {

VM_MANAGER_API void to_json(nlohmann::json& j, VmState state);
VM_MANAGER_API void from_json(const nlohmann::json& j, VmState& state);
VM_MANAGER_API void to_json(nlohmann::json& j, Accel accel);
VM_MANAGER_API void from_json(const nlohmann::json& j, Accel& accel);
VM_MANAGER_API void to_json(nlohmann::json& j, VncMode mode);
VM_MANAGER_API void from_json(const nlohmann::json& j, VncMode& mode);
VM_MANAGER_API void to_json(nlohmann::json& j, PortProtocol protocol);
VM_MANAGER_API void from_json(const nlohmann::json& j, PortProtocol& protocol);
VM_MANAGER_API void to_json(nlohmann::json& j, const PortForward& forward);
VM_MANAGER_API void from_json(const nlohmann::json& j, PortForward& forward);
VM_MANAGER_API void to_json(nlohmann::json& j, const SharedFolder& folder);
VM_MANAGER_API void from_json(const nlohmann::json& j, SharedFolder& folder);
VM_MANAGER_API void to_json(nlohmann::json& j, const DataDisk& disk);
VM_MANAGER_API void from_json(const nlohmann::json& j, DataDisk& disk);
VM_MANAGER_API void to_json(nlohmann::json& j, const SnapshotInfo& snapshot);
VM_MANAGER_API void from_json(const nlohmann::json& j, SnapshotInfo& snapshot);

VM_MANAGER_API void to_json(nlohmann::json& j, const NetworkConfig& network);
VM_MANAGER_API void from_json(const nlohmann::json& j, NetworkConfig& network);
VM_MANAGER_API void to_json(nlohmann::json& j, const CloudInitConfig& config);
VM_MANAGER_API void from_json(const nlohmann::json& j, CloudInitConfig& config);
VM_MANAGER_API void to_json(nlohmann::json& j, const SshConfig& config);
VM_MANAGER_API void from_json(const nlohmann::json& j, SshConfig& config);
VM_MANAGER_API void to_json(nlohmann::json& j, const SshJumpHost& jump);
VM_MANAGER_API void from_json(const nlohmann::json& j, SshJumpHost& jump);
VM_MANAGER_API void to_json(nlohmann::json& j, const HostInfo& host);
VM_MANAGER_API void to_json(nlohmann::json& j, const VmSpec& spec);
VM_MANAGER_API void from_json(const nlohmann::json& j, VmSpec& spec);
VM_MANAGER_API void to_json(nlohmann::json& j, const BackendState& state);
VM_MANAGER_API void from_json(const nlohmann::json& j, BackendState& state);
VM_MANAGER_API void to_json(nlohmann::json& j, const VmHandle& handle);
VM_MANAGER_API void from_json(const nlohmann::json& j, VmHandle& handle);
VM_MANAGER_API void to_json(nlohmann::json& j, const ConsoleEndpoint& endpoint);
VM_MANAGER_API void from_json(const nlohmann::json& j, ConsoleEndpoint& endpoint);

}  // namespace vm_manager

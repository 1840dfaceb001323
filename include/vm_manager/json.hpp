// JSON for the public types. Reading ignores unknown fields and fills missing
// ones with defaults, so a handle written by an older vmctl still loads;
// writing then reading gives back an equal value.
#pragma once

#include <nlohmann/json.hpp>

#include "vm_manager/types.hpp"

namespace vm_manager {

void to_json(nlohmann::json& j, BackendTag tag);
void from_json(const nlohmann::json& j, BackendTag& tag);
void to_json(nlohmann::json& j, VmState state);
void from_json(const nlohmann::json& j, VmState& state);
void to_json(nlohmann::json& j, Accel accel);
void from_json(const nlohmann::json& j, Accel& accel);

void to_json(nlohmann::json& j, const NetworkConfig& network);
void from_json(const nlohmann::json& j, NetworkConfig& network);
void to_json(nlohmann::json& j, const CloudInitConfig& config);
void from_json(const nlohmann::json& j, CloudInitConfig& config);
void to_json(nlohmann::json& j, const SshConfig& config);
void from_json(const nlohmann::json& j, SshConfig& config);
void to_json(nlohmann::json& j, const VmSpec& spec);
void from_json(const nlohmann::json& j, VmSpec& spec);
void to_json(nlohmann::json& j, const VmHandle& handle);
void from_json(const nlohmann::json& j, VmHandle& handle);
void to_json(nlohmann::json& j, const ConsoleEndpoint& endpoint);
void from_json(const nlohmann::json& j, ConsoleEndpoint& endpoint);

}  // namespace vm_manager

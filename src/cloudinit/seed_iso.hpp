// The cloud-init NoCloud seed: an ISO 9660 image labelled "cidata" with
// user-data, meta-data and optionally network-config, written with libisofs.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace vm_manager::cloudinit {

struct SeedFiles {
  std::string user_data;
  std::string meta_data;
  std::optional<std::string> network_config;
};

// meta-data for NoCloud: instance-id and local-hostname, as YAML.
std::string make_meta_data(std::string_view instance_id, std::string_view hostname);

// Writes the seed ISO (volume id "cidata", Rock Ridge and Joliet, files
// mode 0444 inside) to `path` atomically with file mode 0600. Raises
// cloudinit::seed_failed.
void write_seed_iso(const std::filesystem::path& path, const SeedFiles& files);

}  // namespace vm_manager::cloudinit

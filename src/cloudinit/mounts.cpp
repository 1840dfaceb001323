#include "cloudinit/mounts.hpp"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::cloudinit {

std::string shared_folder_tag(std::size_t index) { return fmt::format("vmctl:{}", index); }

std::string shared_folder_options(const SharedFolder& folder) {
  return folder.read_only ? "ro,nofail" : "defaults,nofail";
}

void emit_mounts(YAML::Emitter& out, const std::vector<SharedFolder>& folders) {
  if (folders.empty()) return;
  out << YAML::Key << "mounts" << YAML::Value << YAML::BeginSeq;
  for (std::size_t i = 0; i < folders.size(); ++i) {
    out << YAML::Flow << YAML::BeginSeq;
    for (const std::string& field : {shared_folder_tag(i), folders[i].guest_path, std::string("virtiofs"),
                                     shared_folder_options(folders[i]), std::string("0"), std::string("0")}) {
      out << YAML::DoubleQuoted << field;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndSeq;
}

std::string make_mounts_user_data(const std::vector<SharedFolder>& folders) {
  if (folders.empty()) return {};
  YAML::Emitter out;
  out << YAML::BeginMap;
  emit_mounts(out, folders);
  out << YAML::EndMap;
  if (!out.good()) {
    throw Error(errc::cloudinit_invalid_user_data, fmt::format("cannot write the mounts: {}", out.GetLastError()),
                "check the shared folders' guest paths for invalid UTF-8");
  }
  return "#cloud-config\n" + std::string(out.c_str()) + "\n";
}

}  // namespace vm_manager::cloudinit

#include "vmctl/mount_flag.hpp"

#include <string>
#include <vector>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vmctl {
using namespace vm_manager;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void refuse(std::string_view text, std::string_view why) {
  throw Error(errc::mount_invalid_path, fmt::format("--mount {}: {}", text, why),
              "use --mount HOST_DIR[:GUEST_DIR][:ro], e.g. --mount ./src:/srv/src:ro");
}

std::vector<std::string> fields_of(std::string_view text) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (;;) {
    std::size_t colon = text.find(':', start);
    fields.emplace_back(text.substr(start, colon - start));
    if (colon == std::string_view::npos) return fields;
    start = colon + 1;
  }
}

}  // namespace

SharedFolder parse_mount_flag(std::string_view text, const fs::path& cwd) {
  std::vector<std::string> fields = fields_of(text);
  SharedFolder folder;
  if (fields.size() > 1 && (fields.back() == "ro" || fields.back() == "rw")) {
    folder.read_only = fields.back() == "ro";
    fields.pop_back();
  }
  if (fields.size() > 2) refuse(text, "too many ':'-separated fields");
  if (fields[0].empty()) refuse(text, "the host folder is missing");
  folder.host_path = (cwd / fields[0]).lexically_normal().string();
  if (folder.host_path.size() > 1 && folder.host_path.back() == '/') folder.host_path.pop_back();
  folder.guest_path = fields.size() == 2 ? fields[1] : folder.host_path;
  if (folder.guest_path.empty()) refuse(text, "the guest folder is empty");
  return folder;
}

}  // namespace vmctl

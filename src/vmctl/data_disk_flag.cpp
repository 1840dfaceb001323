#include "vmctl/data_disk_flag.hpp"

#include <charconv>
#include <string>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vmctl {
using namespace vm_manager;

namespace {

[[noreturn]] void refuse(std::string_view text, std::string_view why) {
  throw Error(errc::spec_invalid, fmt::format("--data-disk {}: {}", text, why),
              "use --data-disk SIZE[:NAME] with SIZE in GB, e.g. --data-disk 20G:scratch");
}

std::uint64_t size_gb(std::string_view text, std::string_view size) {
  for (std::string_view unit : {"GB", "Gb", "gB", "gb", "G", "g"}) {
    if (size.ends_with(unit)) {
      size.remove_suffix(unit.size());
      break;
    }
  }
  std::uint64_t gb = 0;
  auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), gb);
  if (size.empty() || ec != std::errc() || end != size.data() + size.size()) {
    refuse(text, "the size is not a whole number of gigabytes");
  }
  return gb;
}

}  // namespace

DataDisk parse_data_disk_flag(std::string_view text, std::size_t position) {
  const std::size_t colon = text.find(':');
  DataDisk disk;
  disk.size_gb = size_gb(text, text.substr(0, colon));
  if (colon == std::string_view::npos) {
    disk.name = fmt::format("data{}", position);
  } else {
    disk.name = std::string(text.substr(colon + 1));
    if (disk.name.empty()) refuse(text, "the name after ':' is empty");
  }
  return disk;
}

}  // namespace vmctl

// propolis-server and its firmware as the zone will see them, looked up on
// the host where the zone's lofs mount of propolis_dir makes that possible.
#include <fmt/format.h>

#include <filesystem>

#include "backends/propolis/zone_tools.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::propolis {
namespace fs = std::filesystem;

namespace {

bool is_executable_file(const fs::path& path) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  return !ec && fs::is_regular_file(st) &&
         (st.permissions() & (fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec)) !=
             fs::perms::none;
}

bool is_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

[[noreturn]] void missing(std::string_view what, std::string_view zone_path, const fs::path& host_path,
                          std::string help) {
  throw Error(errc::spec_invalid,
              fmt::format("{} {} would be missing in the zone: {} is not {} on this host", what,
                          util::printable(zone_path), util::printable(host_path.string()),
                          what == "bootrom" ? "a file" : "an executable file"),
              std::move(help));
}

}  // namespace

std::optional<fs::path> host_path_in_zone(const ZoneLayout& layout, std::string_view zone_path) {
  if (layout.propolis_dir.empty()) return std::nullopt;
  fs::path inside = fs::path(zone_path).lexically_normal();
  fs::path rel = inside.lexically_relative(kPropolisZoneDir);
  if (rel.empty() || *rel.begin() == "..") return std::nullopt;
  return rel == "." ? fs::path(layout.propolis_dir) : fs::path(layout.propolis_dir) / rel;
}

void check_propolis_files(const ZoneLayout& layout) {
  const std::string server = std::string(kPropolisZoneDir) + "/bin/propolis-server";
  if (auto host = host_path_in_zone(layout, server); host && !is_executable_file(*host)) {
    missing("propolis-server", server, *host,
            fmt::format("install propolis-server as bin/propolis-server in {}, or set VMCTL_PROPOLIS_DIR to the "
                        "folder that holds it",
                        util::printable(layout.propolis_dir)));
  }
  if (auto host = host_path_in_zone(layout, layout.bootrom); host && !is_file(*host)) {
    missing("bootrom", layout.bootrom, *host,
            fmt::format("put the firmware there, or set VMCTL_PROPOLIS_BOOTROM to its path in the zone ({} is "
                        "{} there)",
                        util::printable(layout.propolis_dir), kPropolisZoneDir));
  }
}

}  // namespace vm_manager::propolis

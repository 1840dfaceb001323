#include "image/image_file_info.hpp"

#include <chrono>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "os/process.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace fs = std::filesystem;

ImageFileDetails image_file_details(const std::string& qemu_img, const fs::path& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec).lexically_normal();
  if (ec || !fs::is_regular_file(absolute, ec)) {
    throw Error(errc::image_not_found, fmt::format("image file {} does not exist or is not a file", path.string()),
                "check the path");
  }
  // Only this file is described (no --backing-chain): a backing file that
  // is gone does not stop it.
  os::ProcessOutput out = os::run_process(
      {qemu_img, "info", "--force-share", "--output=json", "--", absolute.string()}, std::chrono::seconds(60));
  if (!out.ok()) {
    std::string first = util::printable(out.err.substr(0, out.err.find('\n')));
    throw Error(errc::image_bad_image, fmt::format("qemu-img cannot read {}: {}", absolute.string(), first),
                "the file is not a disk image qemu understands, or its backing file is missing");
  }
  try {
    const auto json = nlohmann::json::parse(out.out);
    ImageFileDetails details;
    details.path = absolute;
    details.format = json.at("format").get<std::string>();
    details.virtual_size = json.at("virtual-size").get<std::uint64_t>();
    details.actual_size = json.value("actual-size", std::uint64_t{0});
    details.backing_file = json.value("backing-filename", std::string());
    details.backing_format = json.value("backing-filename-format", std::string());
    return details;
  } catch (const nlohmann::json::exception& e) {
    throw Error(errc::image_bad_image,
                fmt::format("unexpected qemu-img info output for {}: {}", absolute.string(), e.what()),
                "check the installed qemu-img (package qemu-utils)");
  }
}

}  // namespace vm_manager::image

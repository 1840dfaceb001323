#include "backends/qemu/disk.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "os/files.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

std::string first_line(const std::string& text) {
  auto end = text.find('\n');
  return text.substr(0, end);
}

os::ProcessOutput run_qemu_img(const std::vector<std::string>& args, const QemuConfig& config, Host& host) {
  os::ProcessSpec spec;
  spec.argv = {config.qemu_img};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  return host.run(spec, 120s);
}

}  // namespace

ImageInfo inspect_image(const fs::path& image, const QemuConfig& config, Host& host) {
  if (!fs::is_regular_file(image)) {
    throw Error(errc::spec_invalid, fmt::format("image {} does not exist or is not a file", image.string()),
                "give the path of a disk image");
  }
  os::ProcessOutput out = run_qemu_img({"info", "--output=json", image.string()}, config, host);
  if (!out.ok()) {
    throw Error(errc::spec_invalid,
                fmt::format("qemu-img cannot read {}: {}", image.string(), first_line(out.err)),
                "check that the file is a disk image (qcow2, raw, …)");
  }
  try {
    auto j = nlohmann::json::parse(out.out);
    return {j.at("format").get<std::string>(), j.at("virtual-size").get<std::uint64_t>()};
  } catch (const nlohmann::json::exception& e) {
    throw Error(errc::spec_invalid, fmt::format("unexpected qemu-img info output for {}: {}", image.string(), e.what()),
                "check the installed qemu-img (package qemu-utils)");
  }
}

void create_overlay(const fs::path& base, const fs::path& overlay, std::optional<std::uint64_t> disk_gb,
                    const QemuConfig& config, Host& host, UnrecognisedRaw unrecognised_raw) {
  fs::path absolute_base = fs::absolute(base).lexically_normal();
  ImageInfo info = inspect_image(absolute_base, config, host);
  if (info.format == "raw") check_raw_image(absolute_base, unrecognised_raw, config.log);
  if (disk_gb && *disk_gb * kGiB < info.virtual_size) {
    throw Error(errc::spec_invalid,
                fmt::format("a disk of {} GB is smaller than the image ({:.1f} GB)", *disk_gb,
                            double(info.virtual_size) / double(kGiB)),
                "leave the disk size out to keep the image's size, or give a larger one");
  }
  if (fs::exists(fs::symlink_status(overlay))) {
    throw Error(errc::vm_already_exists, fmt::format("{} already exists", overlay.string()),
                "destroy the VM first; an existing disk is never overwritten");
  }
  // The guest writes its secrets (its host key among them) to this disk.
  // qemu-img would create it by the umask; it keeps the mode of a file that
  // is there, so the file is made private first.
  os::create_private_file(overlay);
  std::vector<std::string> args{"create", "-q", "-f", "qcow2", "-F", info.format, "-b", absolute_base.string(),
                                overlay.string()};
  if (disk_gb) args.push_back(std::to_string(*disk_gb) + "G");
  os::ProcessOutput out = run_qemu_img(args, config, host);
  if (!out.ok()) {
    std::error_code ignored;  // the error below is what matters
    fs::remove(overlay, ignored);
    throw Error(errc::spec_invalid, fmt::format("qemu-img could not create the overlay: {}", first_line(out.err)),
                "check free space in the data dir and that the image is readable");
  }
}

}  // namespace vm_manager::qemu

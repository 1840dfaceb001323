#include "backends/qemu/snapshot_images.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "os/files.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string first_line(const std::string& text) { return util::printable(text.substr(0, text.find('\n'))); }

os::ProcessOutput run_qemu_img(std::vector<std::string> args, const QemuConfig& config, Host& host) {
  os::ProcessSpec spec;
  spec.argv = {config.qemu_img};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  return host.run(spec, 300s);  // a snapshot of a large image copies its tables
}

SnapshotInfo snapshot_from(const nlohmann::json& j) {
  SnapshotInfo s;
  s.name = j.at("name").get<std::string>();
  s.created_unix = j.at("date-sec").get<std::int64_t>();
  s.ram_bytes = j.value("vm-state-size", std::uint64_t{0});
  s.has_ram = s.ram_bytes > 0;
  if (s.has_ram) {
    s.vm_clock_ms = j.value("vm-clock-sec", std::uint64_t{0}) * 1000 + j.value("vm-clock-nsec", std::uint64_t{0}) / 1'000'000;
  }
  return s;
}

}  // namespace

SnapshotImage parse_snapshot_image(std::string_view text, const fs::path& image) {
  try {
    auto j = nlohmann::json::parse(text);
    SnapshotImage out;
    out.format = j.at("format").get<std::string>();
    out.virtual_size = j.at("virtual-size").get<std::uint64_t>();
    if (j.contains("full-backing-filename")) out.backing = j.at("full-backing-filename").get<std::string>();
    else if (j.contains("backing-filename")) out.backing = j.at("backing-filename").get<std::string>();
    if (j.contains("snapshots")) {
      for (const auto& s : j.at("snapshots")) out.snapshots.push_back(snapshot_from(s));
    }
    for (SnapshotInfo& s : out.snapshots) s.disk_bytes = out.virtual_size;
    return out;
  } catch (const nlohmann::json::exception& e) {
    throw Error(errc::snapshot_failed,
                fmt::format("unexpected qemu-img info output for {}: {}", image.string(), e.what()),
                "check the installed qemu-img (package qemu-utils)");
  }
}

SnapshotImage inspect_snapshot_image(const fs::path& image, const QemuConfig& config, Host& host) {
  // -U (force share): QEMU may have the image open; info only reads it.
  os::ProcessOutput out = run_qemu_img({"info", "-U", "--output=json", image.string()}, config, host);
  if (!out.ok()) {
    throw Error(errc::snapshot_failed, fmt::format("qemu-img cannot read {}: {}", image.string(), first_line(out.err)),
                "check that the VM's disk files are in its folder and readable");
  }
  return parse_snapshot_image(out.out, image);
}

std::vector<std::string> image_snapshot_args(ImageSnapshotOp op, const std::string& snapshot, const fs::path& image) {
  const char* flag = op == ImageSnapshotOp::create ? "-c" : op == ImageSnapshotOp::apply ? "-a" : "-d";
  return {"snapshot", "-q", flag, snapshot, image.string()};
}

void run_image_snapshot(ImageSnapshotOp op, const std::string& snapshot, const fs::path& image,
                        const QemuConfig& config, Host& host) {
  os::ProcessOutput out = run_qemu_img(image_snapshot_args(op, snapshot, image), config, host);
  if (out.ok()) return;
  const char* verb = op == ImageSnapshotOp::create ? "save" : op == ImageSnapshotOp::apply ? "restore" : "delete";
  throw Error(errc::snapshot_failed,
              fmt::format("qemu-img could not {} snapshot '{}' of {}: {}", verb, snapshot, image.string(),
                          first_line(out.err)),
              "check free space in the data dir and that no other program uses the VM's disks");
}

void create_uefi_vars(const fs::path& vars_template, const fs::path& vars, const QemuConfig& config, Host& host) {
  os::create_private_file(vars);  // qemu-img keeps the mode of a file that is there
  os::ProcessOutput out = run_qemu_img(
      {"convert", "-q", "-f", "raw", "-O", "qcow2", vars_template.string(), vars.string()}, config, host);
  if (!out.ok()) {
    std::error_code ignored;
    fs::remove(vars, ignored);
    throw Error(errc::spec_invalid,
                fmt::format("qemu-img could not copy the UEFI variables {}: {}", vars_template.string(),
                            first_line(out.err)),
                "check free space in the data dir and that the firmware files are readable");
  }
}

}  // namespace vm_manager::qemu

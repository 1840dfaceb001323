// `data-disk "NAME" size=20`: an extra, empty disk of 20 GB that the guest
// finds by its serial, NAME (/dev/disk/by-id/virtio-NAME).
#include <array>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"
#include "vmfile/vmfile_readers.hpp"

namespace vm_manager::vmfile {

namespace {
constexpr std::string_view kExample = "data-disk \"scratch\" size=20";
constexpr std::array<std::string_view, 1> kProperties = {"size"};
}  // namespace

std::optional<DataDisk> read_data_disk(const kdl::Node& node, ReadContext& ctx) {
  Problems& problems = ctx.problems;
  check_properties(node, kProperties, problems);
  reject_children(node, problems);
  reject_extra_arguments(node, 1, problems);
  const kdl::Value* name = first_argument(node, "a name", kExample, problems);
  std::optional<std::string> text = name ? read_string(*name, "data-disk", problems) : std::nullopt;
  const kdl::Value* size = node.property("size");
  if (size == nullptr) {
    problems.add(node.position, "data-disk needs size=GB", fmt::format("for example: {}", kExample));
  }
  std::optional<std::int64_t> gb = size ? read_integer(*size, "size", {1, kMaxDiskGb, "GB"}, problems) : std::nullopt;
  if (!text || !gb) return std::nullopt;
  DataDisk disk{*text, static_cast<std::uint64_t>(*gb)};
  try {
    validate_data_disks({disk});
  } catch (const Error& error) {
    problems.add(name->position, error.message(), error.help());
    return std::nullopt;
  }
  return disk;
}

}  // namespace vm_manager::vmfile

// `mount "HOST" "GUEST" readonly=#true`: a shared folder. The host folder is
// relative to the VMFile's folder; the guest path defaults to the host
// folder's absolute path, as `vmctl create --mount` does.
#include <array>

#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"
#include "vmfile/vmfile_readers.hpp"

namespace vm_manager::vmfile {

namespace {
constexpr std::string_view kExample = "mount \"./src\" \"/srv/src\" readonly=#true";
constexpr std::array<std::string_view, 1> kProperties = {"readonly"};
}  // namespace

std::optional<SharedFolder> read_mount(const kdl::Node& node, ReadContext& ctx) {
  check_properties(node, kProperties, ctx.problems);
  reject_children(node, ctx.problems);
  reject_extra_arguments(node, 2, ctx.problems);
  const kdl::Value* host = first_argument(node, "a host folder", kExample, ctx.problems);
  std::optional<std::string> raw = host ? read_string(*host, "mount", ctx.problems) : std::nullopt;
  if (!raw) return std::nullopt;
  std::optional<std::filesystem::path> path = ctx.paths.resolve(*raw, host->position, ctx.problems);
  if (!path) return std::nullopt;
  SharedFolder folder;
  folder.host_path = path->string();
  if (folder.host_path.size() > 1 && folder.host_path.back() == '/') folder.host_path.pop_back();
  folder.guest_path = folder.host_path;
  kdl::Position guest_at = host->position;
  if (node.arguments.size() > 1) {
    std::optional<std::string> guest = read_string(node.arguments[1], "mount", ctx.problems);
    if (!guest) return std::nullopt;
    folder.guest_path = *guest;
    guest_at = node.arguments[1].position;
  }
  if (const kdl::Value* readonly = node.property("readonly")) {
    std::optional<bool> value = read_bool(*readonly, "readonly", ctx.problems);
    if (!value) return std::nullopt;
    folder.read_only = *value;
  }
  try {
    validate_shared_folders({folder});
  } catch (const Error& error) {
    ctx.problems.add(error.code() == errc::mount_invalid_path ? guest_at : host->position, error.message(),
                     error.help());
    return std::nullopt;
  }
  return folder;
}

}  // namespace vm_manager::vmfile

// `vm "<name>" { … }`: the image, resources, boot options and the blocks,
// each child read once (provision many times), then the checks that need
// several children at once (exactly one image; initrd needs kernel).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "image/image_names.hpp"
#include "image/oci_reference.hpp"
#include "image/sha256.hpp"
#include "util/printable.hpp"
#include "vm_manager/backend_registry.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"
#include "vm_manager/spec_check.hpp"
#include "util/did_you_mean.hpp"
#include "vmfile/vmfile_readers.hpp"

namespace vm_manager::vmfile {

kdl::Position value_position(const kdl::Node& node) {
  return node.arguments.empty() ? node.position : node.arguments.front().position;
}

namespace {

namespace fs = std::filesystem;

constexpr std::array<std::string_view, 3> kAccels = {"auto", "kvm", "tcg"};
constexpr std::array<std::string_view, 2> kVncModes = {"unix", "tcp"};

// Nodes of inner blocks written at the vm level by mistake.
constexpr std::array<ElsewhereHint, 10> kInnerNodes = {
    ElsewhereHint{"hostname", "cloud-init { … }"},
    ElsewhereHint{"ssh-key", "cloud-init { … }"},
    ElsewhereHint{"user-data", "cloud-init { … }"},
    ElsewhereHint{"user", "ssh { … }"},
    ElsewhereHint{"private-key", "ssh { … }"},
    ElsewhereHint{"bridge", "network \"tap\" { … }"},
    ElsewhereHint{"inline", "provision \"shell\" { … }"},
    ElsewhereHint{"script", "provision \"shell\" { … }"},
    ElsewhereHint{"source", "provision \"file\" { … }"},
    ElsewhereHint{"destination", "provision \"file\" { … }"},
};

// What the children said, with the places the cross-checks point at.
struct VmDraft {
  VmDefinition def;
  AccessDraft access;
  std::optional<kdl::Position> image_at, image_url_at, image_sha256_at, kernel_at, initrd_at, cmdline_at;
  std::vector<kdl::Position> forwards_at;  // one per spec.port_forwards
  VmPlacement placement;
};

std::optional<std::string> read_name(const kdl::Node& node, Problems& problems) {
  check_properties(node, {}, problems);
  reject_extra_arguments(node, 1, problems);
  const kdl::Value* value = first_argument(node, "a name", "vm \"web\" { … }", problems);
  std::optional<std::string> name = value ? read_string(*value, "vm", problems) : std::nullopt;
  if (!name) return std::nullopt;
  try {
    validate_vm_name(*name);
  } catch (const Error& error) {
    problems.add(value->position, error.message(), error.help());
    return std::nullopt;
  }
  return name;
}

void read_image(const kdl::Node& node, ReadContext& ctx, VmDraft& draft) {
  draft.image_at = node.position;
  std::optional<std::string> raw = string_leaf(node, "image \"images/disk.qcow2\"", ctx.problems);
  if (!raw) return;
  if (auto path = ctx.paths.existing_file(*raw, value_position(node), "image", ctx.problems)) {
    draft.def.spec.image_path = path->string();
  }
}

bool has_scheme(std::string_view url, std::string_view scheme) {
  return url.size() > scheme.size() && url.starts_with(scheme);
}

// http(s) URLs and oci:// references are pulled into the image cache; a
// plain path is a local image (the cache hands those back as they are).
// `image-url "debian12"`: a name given to a cached image (image_names.hpp)
// when no file of that name sits beside the VMFile. Whether the name is
// known is up to the cache, when the VM is made.
bool names_an_image(const std::string& text, kdl::Position at, ReadContext& ctx) {
  if (!image::is_image_name(text)) return false;
  Problems ignored;
  std::optional<std::filesystem::path> path = ctx.paths.resolve(text, at, ignored);
  std::error_code ec;
  return path && !std::filesystem::exists(*path, ec);
}

void read_image_url(const kdl::Node& node, ReadContext& ctx, VmDraft& draft) {
  draft.image_url_at = node.position;
  std::optional<std::string> url = string_leaf(node, "image-url \"https://example.com/disk.qcow2\"", ctx.problems);
  if (!url) return;
  const kdl::Position at = value_position(node);
  if (has_scheme(*url, "http://") || has_scheme(*url, "https://")) {
    draft.def.image_url = *url;
  } else if (image::is_oci_source(*url)) {
    try {
      image::parse_oci_reference(*url);
      draft.def.image_url = *url;
    } catch (const Error& error) {
      ctx.problems.add(at, error.message(), error.help());
    }
  } else if (url->find("://") != std::string::npos || url->empty()) {
    ctx.problems.add(at, fmt::format("unsupported image URL '{}'", util::printable(*url)),
                     "use an http://, https:// or oci:// URL, or image \"…\" for a local file");
  } else if (names_an_image(*url, at, ctx)) {
    draft.def.image_url = *url;  // the image cache resolves it when the VM is made
  } else if (auto path = ctx.paths.existing_file(*url, at, "image", ctx.problems)) {
    draft.def.image_url = path->string();
  }
}

void read_image_sha256(const kdl::Node& node, ReadContext& ctx, VmDraft& draft) {
  draft.image_sha256_at = node.position;
  std::optional<std::string> hex = string_leaf(node, "image-sha256 \"<64 hex digits>\"", ctx.problems);
  if (!hex) return;
  if (!image::is_sha256_hex(*hex)) {
    ctx.problems.add(value_position(node), fmt::format("image-sha256 '{}' is not 64 hex digits", util::printable(*hex)),
                     hex->starts_with("sha256:") ? "leave out the sha256: prefix"
                                                 : "give the image's SHA-256 as 64 hex digits (sha256sum prints it)");
    return;
  }
  for (char& c : *hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  draft.def.image_sha256 = *hex;
}

// A string leaf whose value must be one of `names`.
template <typename T, typename Parse>
void read_choice(const kdl::Node& node, std::span<const std::string_view> names, std::string_view example, Parse parse,
                 ReadContext& ctx, T& out) {
  std::optional<std::string> text = string_leaf(node, example, ctx.problems);
  if (!text) return;
  if (auto parsed = parse(*text)) {
    out = *parsed;
    return;
  }
  std::string hint = util::did_you_mean(*text, names);
  std::string listed;
  for (std::string_view name : names) listed += fmt::format("{}\"{}\"", listed.empty() ? "" : ", ", name);
  ctx.problems.add(value_position(node), fmt::format("unknown {} \"{}\"", node.name, util::printable(*text)),
                   hint.empty() ? fmt::format("use one of {}", listed) : hint);
}

std::optional<std::string> existing_path_leaf(const kdl::Node& node, std::string_view example, std::string_view what,
                                              ReadContext& ctx) {
  std::optional<std::string> raw = string_leaf(node, example, ctx.problems);
  if (!raw) return std::nullopt;
  auto path = ctx.paths.existing_file(*raw, value_position(node), what, ctx.problems);
  return path ? std::optional<std::string>(path->string()) : std::nullopt;
}

// The rules outlive these helpers (they are returned), so they capture the
// objects they fill explicitly rather than these functions' parameters.
std::vector<ChildRule> resource_rules(ReadContext& ctx, VmDraft& draft) {
  return {
      {"vcpus",
       [&spec = draft.def.spec, &problems = ctx.problems](const kdl::Node& n) {
         auto v = integer_leaf(n, {1, kMaxVcpus, ""}, "vcpus 2", problems);
         if (v) spec.vcpus = static_cast<std::uint32_t>(*v);
       }},
      {"memory",
       [&spec = draft.def.spec, &problems = ctx.problems](const kdl::Node& n) {
         auto v = integer_leaf(n, {kMinMemoryMb, kMaxMemoryMb, "MB"}, "memory 2048", problems);
         if (v) spec.memory_mb = static_cast<std::uint64_t>(*v);
       }},
      {"disk",
       [&spec = draft.def.spec, &problems = ctx.problems](const kdl::Node& n) {
         auto v = integer_leaf(n, {1, kMaxDiskGb, "GB"}, "disk 20", problems);
         if (v) spec.disk_gb = static_cast<std::uint64_t>(*v);
       }},
  };
}

std::vector<ChildRule> boot_rules(ReadContext& ctx, VmDraft& draft) {
  return {
      {"uefi",
       [&spec = draft.def.spec, &problems = ctx.problems](const kdl::Node& n) {
         if (auto v = bool_leaf(n, "uefi #true", problems)) spec.uefi = *v;
       }},
      {"accel",
       [&spec = draft.def.spec, &ctx = ctx](const kdl::Node& n) {
         read_choice(
             n, kAccels, "accel \"kvm\"", [](std::string_view t) { return parse_accel(t); }, ctx, spec.accel);
       }},
      {"vnc",
       [&spec = draft.def.spec, &ctx = ctx](const kdl::Node& n) {
         read_choice(
             n, kVncModes, "vnc \"tcp\"", [](std::string_view t) { return parse_vnc_mode(t); }, ctx, spec.vnc);
       }},
      {"backend",
       [&spec = draft.def.spec, &ctx = ctx](const kdl::Node& n) {
         // The backends this build registers, also those it left out (a
         // VMFile naming one of those is told so when the VM is created).
         const std::vector<std::string> ids = BackendRegistry::builtin().ids();
         const std::vector<std::string_view> names(ids.begin(), ids.end());
         auto registered = [&](std::string_view t) {
           return std::find(ids.begin(), ids.end(), t) != ids.end() ? std::optional<std::string>(t) : std::nullopt;
         };
         read_choice(n, names, "backend \"qemu\"", registered, ctx, spec.backend);
       }},
      {"kernel",
       [&draft = draft, &ctx = ctx](const kdl::Node& n) {
         draft.kernel_at = n.position;
         draft.def.spec.kernel = existing_path_leaf(n, "kernel \"boot/vmlinuz\"", "kernel", ctx);
       }},
      {"initrd",
       [&draft = draft, &ctx = ctx](const kdl::Node& n) {
         draft.initrd_at = n.position;
         draft.def.spec.initrd = existing_path_leaf(n, "initrd \"boot/initrd.img\"", "initrd", ctx);
       }},
      {"cmdline",
       [&draft = draft, &ctx = ctx](const kdl::Node& n) {
         draft.cmdline_at = n.position;
         draft.def.spec.cmdline = string_leaf(n, "cmdline \"console=ttyS0\"", ctx.problems);
       }},
  };
}

// Where the VM runs; resolved by place_vms once the file's hosts are known.
std::vector<ChildRule> placement_rules(ReadContext& ctx, VmDraft& draft) {
  return {
      {"host",
       [&placement = draft.placement, &problems = ctx.problems](const kdl::Node& n) {
         placement.host_at = value_position(n);
         placement.host = string_leaf(n, "host \"build1\"", problems);
       }},
      {"connect",
       [&placement = draft.placement, &ctx = ctx](const kdl::Node& n) {
         placement.connect_at = value_position(n);
         placement.connect = read_connect(n, ctx);
       }},
  };
}

std::vector<ChildRule> vm_rules(ReadContext& ctx, VmDraft& draft) {
  std::vector<ChildRule> rules = {
      {"image", [&draft = draft, &ctx = ctx](const kdl::Node& n) { read_image(n, ctx, draft); }},
      {"image-url", [&draft = draft, &ctx = ctx](const kdl::Node& n) { read_image_url(n, ctx, draft); }},
      {"image-sha256", [&draft = draft, &ctx = ctx](const kdl::Node& n) { read_image_sha256(n, ctx, draft); }},
  };
  for (ChildRule& rule : resource_rules(ctx, draft)) rules.push_back(std::move(rule));
  rules.push_back({"network", [&draft = draft, &ctx = ctx](const kdl::Node& n) {
                     if (auto network = read_network(n, ctx)) draft.def.spec.network = *network;
                   }});
  rules.push_back({"forward",
                   [&draft = draft, &ctx = ctx](const kdl::Node& n) {
                     if (auto forward = read_forward(n, ctx)) {
                       draft.def.spec.port_forwards.push_back(*forward);
                       draft.forwards_at.push_back(n.position);
                     }
                   },
                   true});
  rules.push_back(
      {"cloud-init", [&draft = draft, &ctx = ctx](const kdl::Node& n) { read_cloud_init(n, ctx, draft.access); }});
  rules.push_back({"ssh", [&draft = draft, &ctx = ctx](const kdl::Node& n) { read_ssh(n, ctx, draft.access); }});
  rules.push_back({"mount",
                   [&draft = draft, &ctx = ctx](const kdl::Node& n) {
                     if (auto folder = read_mount(n, ctx)) draft.def.spec.shared_folders.push_back(std::move(*folder));
                   },
                   true});
  rules.push_back({"data-disk",
                   [&draft = draft, &ctx = ctx](const kdl::Node& n) {
                     if (auto disk = read_data_disk(n, ctx)) draft.def.spec.data_disks.push_back(std::move(*disk));
                   },
                   true});
  rules.push_back({"provision",
                   [&draft = draft, &ctx = ctx](const kdl::Node& n) {
                     if (auto step = read_provision(n, ctx)) draft.def.provisioners.push_back(std::move(*step));
                   },
                   true});
  for (ChildRule& rule : boot_rules(ctx, draft)) rules.push_back(std::move(rule));
  for (ChildRule& rule : placement_rules(ctx, draft)) rules.push_back(std::move(rule));
  return rules;
}

void check_image_given_once(const kdl::Node& node, const VmDraft& draft, Problems& problems) {
  if (draft.image_at && draft.image_url_at) {
    problems.add(later_of(*draft.image_at, *draft.image_url_at), "give either image or image-url, not both",
                 "image names a local file; image-url a file to download or an oci:// reference");
  } else if (!draft.image_at && !draft.image_url_at) {
    problems.add(node.position, fmt::format("vm \"{}\" has no image", util::printable(draft.def.spec.name)),
                 "add image \"path/to/disk.qcow2\" or image-url \"https://…\"");
  }
}

// The checksum is verified where images are pulled (the image cache), which
// a local `image` never goes through; accepting it there would promise a
// check nothing makes. `vmctl create --sha256` has the same rule. The cache
// does check local paths it is given, hence the hint.
void check_sha256_has_url(const VmDraft& draft, Problems& problems) {
  if (draft.image_sha256_at && draft.image_at && !draft.image_url_at) {
    problems.add(*draft.image_sha256_at, "image-sha256 needs image-url",
                 "to check a local file, name it with image-url \"<path>\" instead of image");
  }
}

void check_kernel_boot(const VmDraft& draft, Problems& problems) {
  if (draft.kernel_at) return;
  for (const auto& at : {draft.initrd_at, draft.cmdline_at}) {
    if (at) problems.add(*at, "initrd and cmdline need kernel", "add kernel \"…\" for direct kernel boot");
  }
}

// Each mount was checked alone; two on one guest path only show together.
void check_mounts(const kdl::Node& node, const VmDraft& draft, Problems& problems) {
  try {
    validate_shared_folders(draft.def.spec.shared_folders);
  } catch (const Error& error) {
    problems.add(node.position, error.message(), error.help());
  }
}

// Each data disk was checked alone; two of one name only show together.
void check_data_disks(const kdl::Node& node, const VmDraft& draft, Problems& problems) {
  try {
    validate_data_disks(draft.def.spec.data_disks);
  } catch (const Error& error) {
    problems.add(node.position, error.message(), error.help());
  }
}

}  // namespace

VmDefinition read_vm(const kdl::Node& node, ReadContext& ctx, VmPlacement& placement) {
  VmDraft draft;
  draft.def.position = node.position;
  draft.def.spec.name = read_name(node, ctx.problems).value_or("");
  const std::vector<ChildRule> rules = vm_rules(ctx, draft);
  read_children(node.children, fmt::format("vm \"{}\"", util::printable(draft.def.spec.name)), rules, kInnerNodes,
                ctx.problems);
  check_image_given_once(node, draft, ctx.problems);
  check_sha256_has_url(draft, ctx.problems);
  check_kernel_boot(draft, ctx.problems);
  check_forwards(draft.def, draft.forwards_at, ctx.problems);
  check_mounts(node, draft, ctx.problems);
  check_data_disks(node, draft, ctx.problems);
  draft.def.spec.cloud_init = draft.access.cloud_init;
  draft.def.spec.ssh = finish_ssh(draft.access, ctx);
  placement = std::move(draft.placement);
  return std::move(draft.def);
}

}  // namespace vm_manager::vmfile

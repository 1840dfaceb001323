// The machines a VMFile places its VMs on: top-level `host "NAME"
// connect="URI" [pool="…"] [network="…"]` and `connect "URI"`, and a VM's
// own `host "NAME"` or `connect "URI"`. They become the VM's
// spec.backend_options (connect, host, pool, network), which the libvirt
// backend reads (docs/vmfile.md).
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "core/host_uri.hpp"
#include "util/did_you_mean.hpp"
#include "util/printable.hpp"
#include "vm_manager/names.hpp"
#include "vmfile/vmfile_readers.hpp"

namespace vm_manager::vmfile {
namespace {

constexpr std::string_view kLibvirt = "libvirt";
constexpr std::string_view kHostExample = "host \"build1\" connect=\"qemu+ssh://ci@build1/system\"";
constexpr std::array<std::string_view, 3> kHostProperties = {"connect", "pool", "network"};
// The backends a VM on a host may name: libvirt, which runs it there, and
// noop, which runs nothing but records the host (to try a VMFile out).
// Any other would run the VM on this machine while the file says otherwise.
constexpr std::array<std::string_view, 2> kPlacingBackends = {"libvirt", "noop"};
constexpr std::size_t kMaxLibvirtNameLength = 255;

std::optional<std::string> read_uri(const kdl::Value& value, std::string_view node_name, Problems& problems) {
  std::optional<std::string> uri = read_string(value, node_name, problems);
  if (!uri) return std::nullopt;
  if (std::string problem = host_uri_problem(*uri); !problem.empty()) {
    problems.add(value.position, fmt::format("invalid libvirt URI \"{}\": {}", util::printable(*uri), problem),
                 "write it as \"qemu:///system\" (this machine) or \"qemu+ssh://USER@HOST/system\" (another one)");
    return std::nullopt;
  }
  return uri;
}

// A storage pool's or network's name on the host: libvirt's own rules,
// lightly (it refuses '/' in a pool's name).
std::optional<std::string> read_libvirt_name(const kdl::Value& value, std::string_view property, Problems& problems) {
  std::optional<std::string> name = read_string(value, property, problems);
  if (!name) return std::nullopt;
  const bool bad_character = std::any_of(name->begin(), name->end(), [](char c) {
    return static_cast<unsigned char>(c) < ' ' || c == '\x7f' || c == '/';
  });
  if (name->empty() || name->size() > kMaxLibvirtNameLength || bad_character) {
    problems.add(value.position,
                 fmt::format("invalid libvirt {} name \"{}\"", property, util::printable(*name)),
                 fmt::format("name an existing {} on the host: 1-{} characters, no '/' and no control characters",
                             property == "pool" ? "storage pool" : "libvirt network", kMaxLibvirtNameLength));
    return std::nullopt;
  }
  return name;
}

std::optional<std::string> read_host_name(const kdl::Node& node, Problems& problems) {
  const kdl::Value* value = first_argument(node, "a name", kHostExample, problems);
  std::optional<std::string> name = value ? read_string(*value, "host", problems) : std::nullopt;
  if (!name) return std::nullopt;
  if (!is_valid_vm_name(*name)) {
    problems.add(value->position, fmt::format("invalid host name \"{}\"", util::printable(*name)),
                 "use 1-63 characters of A-Z a-z 0-9 _ . -, beginning with a letter or digit");
    return std::nullopt;
  }
  return name;
}

// Reports a name declared before; true when it is new.
bool check_new_host(const kdl::Node& node, const std::string& name, FileHosts& hosts, Problems& problems) {
  auto [first, inserted] = hosts.declared_at.try_emplace(name, node.position);
  if (inserted) return true;
  problems.add(value_position(node),
               fmt::format("host \"{}\" is declared twice (first at {})", util::printable(name),
                           describe_position(first->second)),
               "give every host a different name");
  return false;
}

std::string unknown_host_help(const std::string& name, const FileHosts& hosts) {
  std::vector<std::string_view> names;
  for (const HostSpec& host : hosts.declared) names.push_back(host.name);
  if (std::string hint = util::did_you_mean(name, names); !hint.empty()) return hint;
  return fmt::format("declare it at the top of the file: host \"{}\" connect=\"qemu+ssh://USER@HOST/system\"",
                     util::printable(name));
}

bool is_placing_backend(std::string_view backend) {
  return std::find(kPlacingBackends.begin(), kPlacingBackends.end(), backend) != kPlacingBackends.end();
}

// Gives `spec` a place: its backend becomes libvirt unless it names one
// that places VMs; another backend is reported at `at`.
void place(VmSpec& spec, const std::map<std::string, std::string>& options, std::string_view node, kdl::Position at,
           Problems& problems) {
  if (!spec.backend) spec.backend = std::string(kLibvirt);
  if (!is_placing_backend(*spec.backend)) {
    problems.add(at,
                 fmt::format("vm \"{}\" runs on backend \"{}\", which runs VMs on this machine: `{}` needs backend "
                             "\"libvirt\"",
                             util::printable(spec.name), util::printable(*spec.backend), node),
                 fmt::format("drop its backend (a VM with `{}` is a libvirt VM), or drop `{}`", node, node));
    return;
  }
  for (const auto& [key, value] : options) spec.backend_options[key] = value;
}

void place_vm(VmDefinition& vm, const VmPlacement& placement, const FileHosts& hosts, Problems& problems) {
  VmSpec& spec = vm.spec;
  if (placement.host && placement.connect) {
    problems.add(later_of(placement.host_at, placement.connect_at), "give either host or connect, not both",
                 "host names a host declared at the top (with its URI); connect gives the URI itself");
    return;
  }
  if (placement.host) {
    auto found = std::find_if(hosts.declared.begin(), hosts.declared.end(),
                              [&](const HostSpec& host) { return host.name == *placement.host; });
    if (found == hosts.declared.end()) {
      problems.add(placement.host_at, fmt::format("unknown host \"{}\"", util::printable(*placement.host)),
                   unknown_host_help(*placement.host, hosts));
      return;
    }
    std::map<std::string, std::string> options = found->options;
    options["host"] = found->name;
    place(spec, options, "host", placement.host_at, problems);
  } else if (placement.connect) {
    place(spec, {{"connect", *placement.connect}}, "connect", placement.connect_at, problems);
  } else if (spec.backend == kLibvirt && hosts.connect) {
    spec.backend_options["connect"] = *hosts.connect;
  }
}

// The declared hosts, then each URI used without a host that none of them has.
std::vector<HostSpec> hosts_to_describe(const VmFile& file, const FileHosts& hosts) {
  std::vector<HostSpec> all = hosts.declared;
  auto add_uri = [&all](const std::string& uri) {
    bool known = std::any_of(all.begin(), all.end(), [&](const HostSpec& host) {
      auto it = host.options.find("connect");
      return it != host.options.end() && it->second == uri;
    });
    if (!known) all.push_back(HostSpec{uri, std::string(kLibvirt), {{"connect", uri}}});
  };
  if (hosts.connect) add_uri(*hosts.connect);
  for (const VmDefinition& vm : file.vms) {
    const auto& options = vm.spec.backend_options;
    auto uri = options.find("connect");
    if (uri != options.end() && !options.contains("host")) add_uri(uri->second);
  }
  return all;
}

}  // namespace

// A host whose settings have problems is still declared, so that its VMs
// are not also reported as naming an unknown host.
void read_host(const kdl::Node& node, ReadContext& ctx, FileHosts& hosts) {
  check_properties(node, kHostProperties, ctx.problems);
  reject_children(node, ctx.problems);
  reject_extra_arguments(node, 1, ctx.problems);
  std::optional<std::string> name = read_host_name(node, ctx.problems);
  HostSpec host{name.value_or(""), std::string(kLibvirt), {}};
  if (const kdl::Value* connect = node.property("connect")) {
    if (auto uri = read_uri(*connect, "connect", ctx.problems)) host.options["connect"] = *uri;
  } else {
    ctx.problems.add(node.position, "`host` needs connect=\"URI\", the libvirt URI it is reached at",
                     fmt::format("for example: {}", kHostExample));
  }
  for (std::string_view property : {"pool", "network"}) {
    const kdl::Value* value = node.property(property);
    if (value == nullptr) continue;
    if (auto text = read_libvirt_name(*value, property, ctx.problems)) host.options[std::string(property)] = *text;
  }
  if (name && check_new_host(node, *name, hosts, ctx.problems)) hosts.declared.push_back(std::move(host));
}

std::optional<std::string> read_connect(const kdl::Node& node, ReadContext& ctx) {
  check_properties(node, {}, ctx.problems);
  reject_children(node, ctx.problems);
  reject_extra_arguments(node, 1, ctx.problems);
  const kdl::Value* value = first_argument(node, "a libvirt URI", "connect \"qemu+ssh://ci@build1/system\"",
                                           ctx.problems);
  return value ? read_uri(*value, "connect", ctx.problems) : std::nullopt;
}

void place_vms(VmFile& file, const std::vector<VmPlacement>& placements, const FileHosts& hosts,
               Problems& problems) {
  for (std::size_t i = 0; i < file.vms.size() && i < placements.size(); ++i) {
    place_vm(file.vms[i], placements[i], hosts, problems);
  }
  file.connect = hosts.connect;
  file.hosts = hosts_to_describe(file, hosts);
}

}  // namespace vm_manager::vmfile

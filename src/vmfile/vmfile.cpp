// Reading a VMFile: KDL syntax first (kdl::parse), then the schema, which
// collects every problem before raising them together, so one run of
// vmctl shows everything there is to fix.
#include "vmfile/vmfile.hpp"

#include <fmt/format.h>

#include <array>
#include <map>
#include <system_error>

#include "os/files.hpp"
#include "util/printable.hpp"
#include "vmfile/vmfile_paths.hpp"
#include "vmfile/vmfile_readers.hpp"
#include "vmfile/vmfile_schema.hpp"

namespace vm_manager::vmfile {
namespace {

namespace fs = std::filesystem;

// Nodes that belong inside `vm "…" { }` but were written at the top.
// A VMFile is a few KiB of text; the cap keeps a FIFO, a device or a huge
// file named by mistake from hanging or exhausting the reader.
constexpr std::size_t kMaxVmFileBytes = 1024 * 1024;
constexpr std::string_view kInsideVm = "vm \"…\" { … }";
constexpr std::array<ElsewhereHint, 17> kVmNodes = {
    ElsewhereHint{"image", kInsideVm},        ElsewhereHint{"image-url", kInsideVm},
    ElsewhereHint{"image-sha256", kInsideVm}, ElsewhereHint{"vcpus", kInsideVm},
    ElsewhereHint{"memory", kInsideVm},       ElsewhereHint{"disk", kInsideVm},
    ElsewhereHint{"network", kInsideVm},      ElsewhereHint{"cloud-init", kInsideVm},
    ElsewhereHint{"ssh", kInsideVm},          ElsewhereHint{"provision", kInsideVm},
    ElsewhereHint{"uefi", kInsideVm},         ElsewhereHint{"accel", kInsideVm},
    ElsewhereHint{"kernel", kInsideVm},       ElsewhereHint{"initrd", kInsideVm},
    ElsewhereHint{"cmdline", kInsideVm},      ElsewhereHint{"backend", kInsideVm},
    ElsewhereHint{"vnc", kInsideVm},
};

std::string summary(const fs::path& file, const std::vector<Problem>& problems) {
  if (problems.empty()) return fmt::format("{}: invalid VMFile", file.string());
  const Problem& first = problems.front();
  std::string text =
      fmt::format("{}:{}:{}: {}", file.string(), first.position.line, first.position.column, first.message);
  if (problems.size() > 1) text += fmt::format(" (and {} more)", problems.size() - 1);
  return text;
}

std::string first_help(const std::vector<Problem>& problems) {
  return problems.empty() ? std::string() : problems.front().help;
}

// Names must be unique: they name the VMs' folders and vmctl's --name.
void check_unique_name(const VmDefinition& vm, const kdl::Node& node, std::map<std::string, kdl::Position>& seen,
                       Problems& problems) {
  if (vm.spec.name.empty()) return;  // an invalid name, already reported
  auto [first, inserted] = seen.try_emplace(vm.spec.name, node.position);
  if (inserted) return;
  problems.add(value_position(node),
               fmt::format("VM name \"{}\" is used twice (first at {})", util::printable(vm.spec.name),
                           describe_position(first->second)),
               "give every vm a different name");
}

}  // namespace

ValidationError::ValidationError(fs::path file, std::vector<Problem> problems)
    : Error(errc::vmfile_invalid, summary(file, problems), first_help(problems)),
      file_(std::move(file)),
      problems_(std::move(problems)) {}

std::string ValidationError::details() const {
  std::string text;
  for (std::size_t i = 1; i < problems_.size(); ++i) {
    const Problem& p = problems_[i];
    text += fmt::format("error[{}]: {}:{}:{}: {}\n", code(), file_.string(), p.position.line, p.position.column,
                        p.message);
    if (!p.help.empty()) text += fmt::format("  help: {}\n", p.help);
  }
  return text;
}

VmFile parse(std::string_view text, const fs::path& path, const LoadOptions& options) {
  kdl::ParseOptions parse_options;
  parse_options.source_name = path.string();
  const kdl::Document document = kdl::parse(text, parse_options);

  VmFile file;
  file.path = fs::absolute(path).lexically_normal();
  file.kdl_version = document.version;

  Problems problems;
  const PathResolver paths(file.path.parent_path(), options.home);
  ReadContext ctx{problems, paths};
  std::map<std::string, kdl::Position> names;
  std::vector<VmPlacement> placements;
  FileHosts hosts;
  const std::array<ChildRule, 3> rules = {
      ChildRule{"vm",
                [&](const kdl::Node& node) {
                  VmDefinition vm = read_vm(node, ctx, placements.emplace_back());
                  check_unique_name(vm, node, names, problems);
                  file.vms.push_back(std::move(vm));
                },
                true},
      ChildRule{"host", [&](const kdl::Node& node) { read_host(node, ctx, hosts); }, true},
      ChildRule{"connect", [&](const kdl::Node& node) { hosts.connect = read_connect(node, ctx); }},
  };
  read_children(document.nodes, "the VMFile", rules, kVmNodes, problems);
  place_vms(file, placements, hosts, problems);
  if (file.vms.empty() && problems.empty()) {
    problems.add(kdl::Position{}, "the VMFile defines no VM", "add one: vm \"web\" { image-url \"https://…\" }");
  }
  if (!problems.empty()) throw ValidationError(path, problems.take());
  return file;
}

VmFile load(const fs::path& path, const LoadOptions& options) {
  std::error_code error;
  if (fs::is_directory(path, error)) {
    throw Error(errc::vmfile_not_found, fmt::format("{} is a folder, not a VMFile", path.string()),
                fmt::format("pass the file itself, e.g. {}", default_path(path).string()));
  }
  std::string text;
  try {
    text = os::read_regular_file(path, kMaxVmFileBytes, "VMFile");
  } catch (const Error& e) {
    if (e.code() != errc::input_not_found) throw;
    throw Error(errc::vmfile_not_found, fmt::format("no VMFile at {}", path.string()),
                "create VMFile.kdl (see docs/vmfile.md) or name another file");
  }
  return parse(text, path, options);
}

fs::path default_path(const fs::path& folder) { return folder / "VMFile.kdl"; }

}  // namespace vm_manager::vmfile

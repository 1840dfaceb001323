// The public VMFile API (vm_manager/vmfile.hpp): loading, and applying a
// file's selected VMs in parallel through apply.cpp.
#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vm_manager/vmfile.hpp"
#include "vmfile/apply.hpp"
#include "vmfile/vmfile.hpp"

namespace vm_manager {
namespace fs = std::filesystem;
namespace {

std::vector<const VmDefinition*> selected_vms(const VmFile& file, const std::string& name) {
  std::vector<const VmDefinition*> vms;
  for (const auto& vm : file.vms) {
    if (name.empty() || vm.spec.name == name) vms.push_back(&vm);
  }
  if (!name.empty() && vms.empty()) {
    std::vector<std::string> names;
    for (const auto& vm : file.vms) names.push_back(vm.spec.name);
    throw Error(errc::vm_not_found, fmt::format("{} defines no VM named '{}'", file.path.string(), name),
                names.empty() ? "the file defines no VMs" : fmt::format("it defines: {}", fmt::join(names, ", ")));
  }
  return vms;
}

vmfile::ApplyContext context_for(VmManager& manager, const ApplyOptions& options) {
  vmfile::ApplyContext ctx;
  ctx.manager = &manager;
  ctx.on_event = options.on_event;
  ctx.ready_timeout = options.ready_timeout;
  ctx.stop_timeout = options.stop_timeout;
  ctx.provision = options.provision;
  return ctx;
}

template <typename Action>
std::vector<VmOutcome> apply_each(VmManager& manager, const VmFile& file, const ApplyOptions& options, Action action) {
  vmfile::ApplyContext ctx = context_for(manager, options);
  return vmfile::apply_parallel(selected_vms(file, options.only), options.jobs,
                                [&](const VmDefinition& vm) { return action(ctx, vm); });
}

}  // namespace

const VmDefinition* VmFile::find(std::string_view name) const {
  for (const VmDefinition& vm : vms) {
    if (vm.spec.name == name) return &vm;
  }
  return nullptr;
}

VmFile load_vmfile(const fs::path& path, const VmFileOptions& options) { return vmfile::load(path, options); }

VmFile parse_vmfile(std::string_view text, const fs::path& path, const VmFileOptions& options) {
  return vmfile::parse(text, path, options);
}

fs::path default_vmfile_path(const fs::path& folder) { return vmfile::default_path(folder); }

std::vector<VmOutcome> apply_up(VmManager& manager, const VmFile& file, const ApplyOptions& options) {
  return apply_each(manager, file, options, vmfile::up);
}

std::vector<VmOutcome> apply_down(VmManager& manager, const VmFile& file, bool destroy, const ApplyOptions& options) {
  return apply_each(manager, file, options,
                    [destroy](const vmfile::ApplyContext& ctx, const VmDefinition& vm) { return vmfile::down(ctx, vm, destroy); });
}

std::vector<VmOutcome> apply_reload(VmManager& manager, const VmFile& file, const ApplyOptions& options) {
  return apply_each(manager, file, options, vmfile::reload);
}

std::vector<VmOutcome> apply_provision(VmManager& manager, const VmFile& file, const ApplyOptions& options) {
  return apply_each(manager, file, options, vmfile::provision);
}

}  // namespace vm_manager

// What the VMFile commands (validate, up, down, reload, provision) share:
// --file/--name/--jobs, loading the file, running one action per VM in
// parallel with name-prefixed output, and the summary table.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "vmctl/context.hpp"
#include "vmfile/apply.hpp"

namespace vmctl {

struct VmfileFlags {
  std::string file;  // empty: VMFile.kdl in the current folder
  std::string name;  // empty: every VM in the file
  unsigned jobs = 0;  // 0: all VMs at once
};

// --file, and with `per_vm` also --name and --jobs.
void add_vmfile_options(CLI::App& command, VmfileFlags& flags, bool per_vm = true);

// The options of the commands that bring VMs up (up, reload).
struct BringUpFlags {
  VmfileFlags vmfile;
  bool no_provision = false;
  unsigned timeout_s = 300;
};
void add_bring_up_options(CLI::App& command, BringUpFlags& flags);
// An ApplyContext adjusted to the flags.
vm_manager::vmfile::ApplyContext with_bring_up_flags(vm_manager::vmfile::ApplyContext apply, const BringUpFlags& flags);

vm_manager::vmfile::VmFile load_vmfile(Context& ctx, const VmfileFlags& flags);

// Library context for the actions, printing through ctx with padded names.
vm_manager::vmfile::ApplyContext apply_context(Context& ctx, const vm_manager::vmfile::VmFile& file);

// Runs `action` on the selected VMs, prints the summary table, and raises
// vmfile::apply_failed when any VM failed (after all of them finished).
void run_for_each_vm(Context& ctx, const vm_manager::vmfile::VmFile& file, const VmfileFlags& flags,
                     const std::function<vm_manager::vmfile::VmOutcome(const vm_manager::vmfile::ApplyContext&,
                                                                       const vm_manager::vmfile::VmDefinition&)>& action);

}  // namespace vmctl

// What the VMFile commands (validate, up, down, reload, provision) share:
// --file/--name/--jobs, loading the file, printing each VM's events with
// its name as a prefix, and the summary table.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "vm_manager/vmfile.hpp"
#include "vmctl/context.hpp"

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

vm_manager::VmFile load_vmfile(Context& ctx, const VmfileFlags& flags);

// ApplyOptions for the flags, printing each VM's events through ctx as
// "<name, padded to the file's longest> | <line>".
vm_manager::ApplyOptions apply_options(Context& ctx, const vm_manager::VmFile& file, const VmfileFlags& flags);
vm_manager::ApplyOptions apply_options(Context& ctx, const vm_manager::VmFile& file, const BringUpFlags& flags);

// Prints the summary table, and raises vmfile::apply_failed when any VM
// failed (all of them have finished by then).
void report(Context& ctx, const std::vector<vm_manager::VmOutcome>& outcomes);

}  // namespace vmctl

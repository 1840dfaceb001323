#include "vmctl/vmfile_cli.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "vm_manager/error.hpp"
#include "vmctl/vm_view.hpp"

namespace vmctl {
using namespace vm_manager;
namespace fs = std::filesystem;

namespace {

std::string live_state(Context& ctx, const std::string& name) {
  try {
    if (!ctx.manager().exists(name)) return "-";
    return std::string(to_string(ctx.manager().state(ctx.manager().get(name).handle)));
  } catch (const Error&) {
    return "unknown";
  }
}

std::string detail_of(const VmOutcome& outcome) {
  if (!outcome.ok) return outcome.error;
  return outcome.drift.empty() ? "" : "drift: " + fmt::format("{}", fmt::join(outcome.drift, ", "));
}

void print_summary(Context& ctx, const std::vector<VmOutcome>& outcomes) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& outcome : outcomes) {
    rows.push_back({outcome.name, outcome.result, live_state(ctx, outcome.name), detail_of(outcome)});
  }
  ctx.say("");
  std::string table = render_table({"VM", "RESULT", "STATE", "DETAIL"}, rows);
  if (!ctx.options.quiet) std::fputs(table.c_str(), stdout);
}

}  // namespace

void add_vmfile_options(CLI::App& command, VmfileFlags& flags, bool per_vm) {
  command.add_option("-f,--file", flags.file, "The VMFile (default: VMFile.kdl in the current folder)");
  if (!per_vm) return;
  command.add_option("--name", flags.name, "Only this VM of the file");
  command.add_option("-j,--jobs", flags.jobs, "VMs handled at once (default: all)")->check(CLI::Range(1u, 1024u));
}

void add_bring_up_options(CLI::App& command, BringUpFlags& flags) {
  add_vmfile_options(command, flags.vmfile);
  command.add_flag("--no-provision", flags.no_provision, "Do not run the provisioners");
  command.add_option("--timeout", flags.timeout_s, "Seconds each VM may take to accept SSH and finish cloud-init")
      ->capture_default_str()
      ->check(CLI::Range(1u, 86400u));
}

VmFile load_vmfile(Context& ctx, const VmfileFlags& flags) {
  VmFileOptions options;
  if (auto home = ctx.environment().get("HOME")) options.home = fs::path(*home);
  return vm_manager::load_vmfile(flags.file.empty() ? default_vmfile_path(fs::current_path()) : fs::path(flags.file),
                                 options);
}

ApplyOptions apply_options(Context& ctx, const VmFile& file, const VmfileFlags& flags) {
  std::size_t width = 0;
  for (const auto& vm : file.vms) width = std::max(width, vm.spec.name.size());
  auto output = std::make_shared<std::mutex>();
  // Parallel bars would garble; each VM's lines say what happens.
  ctx.pull_output = PullOutput::hidden;
  ApplyOptions options;
  options.only = flags.name;
  options.jobs = flags.jobs;
  options.on_event = [&ctx, output, width](const std::string& vm, const std::string& line) {
    std::string text = fmt::format("{:<{}} | {}", vm, width, line);
    std::lock_guard<std::mutex> hold(*output);
    ctx.say(text);
    std::fflush(stdout);
  };
  return options;
}

ApplyOptions apply_options(Context& ctx, const VmFile& file, const BringUpFlags& flags) {
  ApplyOptions options = apply_options(ctx, file, flags.vmfile);
  options.provision = !flags.no_provision;
  options.ready_timeout = std::chrono::seconds(flags.timeout_s);
  return options;
}

void report(Context& ctx, const std::vector<VmOutcome>& outcomes) {
  print_summary(ctx, outcomes);
  std::vector<std::string> failed;
  for (const auto& outcome : outcomes) {
    if (!outcome.ok) failed.push_back(outcome.name);
  }
  if (failed.empty()) return;
  throw Error(errc::vmfile_apply_failed,
              fmt::format("{} of {} VMs failed: {}", failed.size(), outcomes.size(), fmt::join(failed, ", ")),
              "see each VM's lines above; the other VMs finished");
}

}  // namespace vmctl

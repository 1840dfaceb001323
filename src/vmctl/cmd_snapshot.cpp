// vmctl snapshot create|list|restore|rm NAME …: saved states of a VM that
// it can go back to (VmManager::create_snapshot and the rest).
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "vm_manager/json.hpp"
#include "vmctl/commands.hpp"
#include "vmctl/vm_view.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

struct SnapshotFlags {
  std::string name;
  std::string snapshot;
  bool no_memory = false;
  bool json = false;
};

// UTC, so that the listing reads the same wherever it is run.
std::string date_text(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return "-";
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

// How long the guest had run: h:mm:ss.
std::string clock_text(const SnapshotInfo& s) {
  if (!s.has_ram) return "-";
  std::uint64_t seconds = s.vm_clock_ms / 1000;
  return fmt::format("{}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
}

void create_snapshot(Context& ctx, const SnapshotFlags& o) {
  SnapshotMemory memory = o.no_memory ? SnapshotMemory::exclude : SnapshotMemory::include;
  ctx.manager().create_snapshot(o.name, o.snapshot, memory);
  bool with_ram = false;
  for (const SnapshotInfo& s : ctx.manager().list_snapshots(o.name)) {
    if (s.name == o.snapshot) with_ram = s.has_ram;
  }
  ctx.say(fmt::format("Created snapshot '{}' of VM '{}' ({})", o.snapshot, o.name,
                      with_ram ? "disks, RAM and device state" : "disks only"));
}

void list_snapshots(Context& ctx, const SnapshotFlags& o) {
  const std::vector<SnapshotInfo> all = ctx.manager().list_snapshots(o.name);
  std::string out;
  if (o.json) {
    out = nlohmann::json(all).dump(2) + "\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const SnapshotInfo& s : all) {
      rows.push_back({s.name, date_text(s.created_unix) + " UTC", human_size(s.disk_bytes),
                      s.has_ram ? "yes (" + human_size(s.ram_bytes) + ")" : "no", clock_text(s)});
    }
    out = render_table({"NAME", "CREATED", "DISK", "RAM", "VM CLOCK"}, rows);
  }
  std::fputs(out.c_str(), stdout);
}

void restore_snapshot(Context& ctx, const SnapshotFlags& o) {
  VmRecord record = ctx.manager().restore_snapshot(o.name, o.snapshot);
  VmState state = ctx.manager().state(record.handle);
  ctx.say(fmt::format("Restored VM '{}' to snapshot '{}'; it is {}", o.name, o.snapshot, to_string(state)));
  show_vnc_password(record.handle);  // a stopped VM started into the snapshot got a new one
}

void delete_snapshot(Context& ctx, const SnapshotFlags& o) {
  ctx.manager().delete_snapshot(o.name, o.snapshot);
  ctx.say(fmt::format("Deleted snapshot '{}' of VM '{}'", o.snapshot, o.name));
}

}  // namespace

void add_snapshot_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<SnapshotFlags>();
  auto* cmd = app.add_subcommand("snapshot", "Save a VM's state and go back to it");
  cmd->require_subcommand(1);
  auto* create = cmd->add_subcommand(
      "create", "Snapshot the VM: a running one with its RAM (it resumes where it was), a stopped one its disks");
  add_name_argument(*create, o->name);
  create->add_option("snapshot", o->snapshot, "The snapshot's name (VM-name rules)")->required();
  create->add_flag("--no-memory", o->no_memory, "Leave out the RAM and device state of a running VM (disks only)");
  create->callback([&ctx, o] { create_snapshot(ctx, *o); });
  auto* list = cmd->add_subcommand("list", "List the VM's snapshots, oldest first");
  add_name_argument(*list, o->name);
  list->add_flag("--json", o->json, "Print a JSON array");
  list->callback([&ctx, o] { list_snapshots(ctx, *o); });
  auto* restore = cmd->add_subcommand(
      "restore", "Put the VM back to a snapshot: one with RAM leaves it running, one without needs it stopped");
  add_name_argument(*restore, o->name);
  restore->add_option("snapshot", o->snapshot, "The snapshot's name")->required();
  restore->callback([&ctx, o] { restore_snapshot(ctx, *o); });
  auto* rm = cmd->add_subcommand("rm", "Delete a snapshot");
  add_name_argument(*rm, o->name);
  rm->add_option("snapshot", o->snapshot, "The snapshot's name")->required();
  rm->callback([&ctx, o] { delete_snapshot(ctx, *o); });
}

}  // namespace vmctl

#include <filesystem>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"
#include "vmctl/commands.hpp"

namespace vmctl {
using namespace vm_manager;
namespace fs = std::filesystem;
namespace {

struct CreateOptions {
  std::string name;
  std::string backend;
  std::string image;
  std::uint32_t vcpus = 1;
  std::uint64_t memory_mb = 1024;
  std::optional<std::uint64_t> disk_gb;
  std::string network = "user";
  std::string bridge;
  std::string vnic;
  std::string accel = "auto";
  bool uefi = false;
  std::string kernel;
  std::string initrd;
  std::optional<std::string> append;
  bool start = false;
};

std::optional<std::string> existing_path(const std::string& path, std::string_view what) {
  if (path.empty()) return std::nullopt;
  fs::path absolute = fs::absolute(path);
  if (!fs::is_regular_file(absolute)) {
    throw Error(errc::spec_invalid, fmt::format("{} {} does not exist or is not a file", what, absolute.string()),
                fmt::format("pass the path of an existing {}", what));
  }
  return absolute.string();
}

NetworkConfig network_from(const CreateOptions& o) {
  if (!o.bridge.empty() && o.network != "tap") {
    throw Error(errc::spec_invalid, "--bridge only applies to --network tap", "add --network tap, or drop --bridge");
  }
  if (!o.vnic.empty() && o.network != "vnic") {
    throw Error(errc::spec_invalid, "--vnic only applies to --network vnic", "add --network vnic, or drop --vnic");
  }
  if (o.network == "tap") return TapNetwork{o.bridge};
  if (o.network == "vnic") return VnicNetwork{o.vnic};
  if (o.network == "none") return NoNetwork{};
  return UserNetwork{};
}

VmSpec spec_from(const CreateOptions& o) {
  VmSpec spec;
  spec.name = o.name;
  if (!o.backend.empty()) spec.backend = parse_backend_tag(o.backend);
  spec.image_path = existing_path(o.image, "image").value_or("");
  spec.kernel = existing_path(o.kernel, "kernel");
  spec.initrd = existing_path(o.initrd, "initrd");
  spec.cmdline = o.append;
  if ((spec.initrd || spec.cmdline) && !spec.kernel) {
    throw Error(errc::spec_invalid, "--initrd and --append need --kernel", "add --kernel FILE for direct kernel boot");
  }
  spec.accel = parse_accel(o.accel).value_or(Accel::automatic);
  spec.uefi = o.uefi;
  spec.vcpus = o.vcpus;
  spec.memory_mb = o.memory_mb;
  spec.disk_gb = o.disk_gb;
  spec.network = network_from(o);
  return spec;
}

void run_create(Context& ctx, const CreateOptions& o) {
  validate_vm_name(o.name);  // before anything touches the disk
  VmSpec spec = spec_from(o);
  VmStore& store = ctx.store();
  VmLock lock = store.lock(spec.name);
  VmRecord record;
  try {
    record = store.create(lock, spec, [&](const VmSpec& s) { return ctx.hypervisor().prepare(s); });
  } catch (...) {
    if (!store.exists(spec.name)) store.remove(std::move(lock));  // leave no lock file behind
    throw;
  }
  BackendTag backend = record.handle.backend;
  ctx.say(fmt::format("Created VM '{}' ({} backend)", spec.name, to_string(backend)));
  if (o.start) {
    record.handle = ctx.hypervisor().start(record.handle);
    store.save(lock, record);
    ctx.say(fmt::format("Started VM '{}'", spec.name));
  }
}

}  // namespace

void add_create_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<CreateOptions>();
  auto* cmd = app.add_subcommand("create", "Create a VM (and start it with --start)");
  cmd->add_option("--name", o->name, "VM name: 1-63 of [A-Za-z0-9_.-], starting alphanumeric")->required();
  cmd->add_option("--backend", o->backend, "Backend to run it on (default: this platform's)")
      ->check(CLI::IsMember({"noop", "qemu", "propolis"}));
  cmd->add_option("--image", o->image, "Base disk image");
  cmd->add_option("--vcpus", o->vcpus, "Virtual CPUs")->capture_default_str()->check(CLI::Range(1u, 512u));
  cmd->add_option("--memory", o->memory_mb, "Memory in MB")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{16}, std::uint64_t{16} * 1024 * 1024));
  cmd->add_option("--disk", o->disk_gb, "Disk size in GB (default: the image's size)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{64} * 1024));
  cmd->add_option("--network", o->network, "Networking")
      ->capture_default_str()
      ->check(CLI::IsMember({"user", "tap", "vnic", "none"}));
  cmd->add_option("--bridge", o->bridge, "Bridge for --network tap");
  cmd->add_option("--vnic", o->vnic, "VNIC for --network vnic");
  cmd->add_option("--accel", o->accel, "Accelerator: auto uses KVM when it works, else TCG")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  cmd->add_flag("--uefi", o->uefi, "Boot with UEFI firmware (OVMF) instead of BIOS");
  cmd->add_option("--kernel", o->kernel, "Boot this kernel directly");
  cmd->add_option("--initrd", o->initrd, "Initial ramdisk for --kernel");
  cmd->add_option("--append", o->append, "Kernel command line for --kernel");
  cmd->add_flag("--start", o->start, "Start the VM once created");
  cmd->callback([&ctx, o] { run_create(ctx, *o); });
}

}  // namespace vmctl

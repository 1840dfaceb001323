// One table from error code (narrowed by command or text where one code
// covers several situations) to the vmctl command or flag that applies the
// library's remedy. First match wins, so narrow rows come before broad ones.
#include "vmctl/hints.hpp"

#include <array>

#include <fmt/format.h>

namespace vmctl {

namespace {

namespace errc = vm_manager::errc;

struct Hint {
  std::string_view code;
  std::string_view commands;  // space-separated subcommands it applies to; empty: any
  std::string_view contains;  // text the message or help must hold; empty: any. Codes first, text
                              // only where a code alone is ambiguous (spec::invalid mostly).
  std::string_view text;      // {name} is the VM's name
};

constexpr std::string_view kStatus = "'vmctl status {name}' shows its state";
constexpr std::string_view kStart = "start it with 'vmctl start {name}'";
constexpr std::string_view kConsole = "'vmctl log {name}' shows its console, 'vmctl status {name}' its state";

constexpr std::array kHints{
    Hint{errc::vm_not_found, "", "", "'vmctl list' shows the VMs that exist; 'vmctl create --name {name}' makes one"},
    Hint{errc::vm_already_exists, "", "", "choose another --name, or 'vmctl destroy {name}' first"},
    Hint{errc::vm_locked, "", "", "raise VMCTL_LOCK_TIMEOUT (seconds) to wait longer"},
    Hint{errc::vm_invalid_state, "", "has no network",
         "'vmctl destroy {name}', then create it with --network user or tap"},
    Hint{errc::vm_invalid_state, "start restart", "suspended", "resume it with 'vmctl resume {name}'"},
    Hint{errc::vm_invalid_state, "suspend resume restart", "it is prepared", kStart},
    Hint{errc::vm_invalid_state, "suspend resume restart", "it is stopped", kStart},
    Hint{errc::vm_invalid_state, "ssh ssh-config cp console log vnc", "", kStart},
    Hint{errc::vm_invalid_state, "provision", "", "bring it up with 'vmctl up --name {name}'"},
    Hint{errc::vm_invalid_state, "", "", kStatus},
    Hint{errc::vm_start_failed, "", "KVM may not work", "create the VM with --accel tcg, or set VMCTL_ACCEL=tcg"},
    Hint{errc::vm_start_failed, "", "cloud-init", "'vmctl ssh {name}' logs in to look"},
    Hint{errc::store_corrupt, "", "", "'vmctl destroy {name}' removes it"},
    Hint{errc::store_io, "", "outside", "pass the right --data-dir"},
    Hint{errc::data_dir_invalid, "", "", "pass --data-dir DIR or set VMCTL_DATA_DIR"},
    Hint{errc::data_dir_not_private, "", "foreign owner",
         "pass --allow-foreign-owner if you trust that user (docs/cli.md says what it risks)"},
    Hint{errc::backend_not_available, "", "", "choose another --backend"},
    Hint{errc::backend_unsupported, "", "address of VM",
         "'vmctl destroy {name}', then create it with --ip ADDR/PREFIX (with --gateway and --dns); "
         "'vmctl console {name}' shows the guest meanwhile"},
    Hint{errc::mount_needs_root, "", "",
         "run vmctl as root (sudo), enable unprivileged user namespaces, or 'vmctl destroy {name}' and create it "
         "without --mount"},
    Hint{errc::mount_host_dir_missing, "create", "", "correct the --mount path, or create the folder first"},
    Hint{errc::mount_host_dir_missing, "", "", "create the folder again, or 'vmctl destroy {name}' and create the VM without it"},
    Hint{errc::mount_virtiofsd_unavailable, "", "", "install it with 'apt-get install qemu-system-common', or set VMCTL_VIRTIOFSD"},
    Hint{errc::mount_virtiofsd_failed, "", "", "'vmctl log {name}' shows the console; virtiofsd.log is in its folder"},
    // spec::invalid covers every refused create option: the message says which.
    Hint{errc::spec_invalid, "", "TAP networking needs a bridge", "pass --bridge BRIDGE with --network tap"},
    Hint{errc::spec_invalid, "", "bridge '", "pass another --bridge"},
    Hint{errc::spec_invalid, "", "cannot create TAP", "'vmctl destroy {name}', then create it with --network user"},
    Hint{errc::spec_invalid, "", "has no VNIC networking", "pass --network user or --network tap"},
    Hint{errc::spec_invalid, "", "needs a disk image", "pass --image PATH"},
    Hint{errc::spec_invalid, "", "does not exist or is not a file", "pass --image with the path of a disk image"},
    Hint{errc::spec_invalid, "", "static address", "pass --ip ADDR/PREFIX, e.g. --ip 192.168.10.5/24"},
    Hint{errc::spec_invalid, "", "the gateway", "pass --gateway with a plain IP of the --ip address's version"},
    Hint{errc::spec_invalid, "", "name server", "pass each --dns as a plain IP, at most 3"},
    Hint{errc::spec_invalid, "", "vcpus must be", "pass --vcpus N"},
    Hint{errc::spec_invalid, "", "memory must be", "pass --memory in megabytes, e.g. --memory 2048"},
    Hint{errc::spec_invalid, "", "disk must be", "pass --disk in gigabytes, e.g. --disk 20"},
    Hint{errc::spec_invalid, "", "smaller than the image", "leave --disk out, or pass a larger --disk"},
    Hint{errc::spec_invalid, "", "UEFI firmware", "create the VM without --uefi"},
    Hint{errc::spec_invalid, "", "takes an image snapshot", "pass --image <image>@<snapshot>"},
    Hint{errc::spec_invalid, "", "propolis backend has no", "pass --network vnic"},
    Hint{errc::spec_invalid, "", "gives every VM a NIC", "pass --network vnic"},
    Hint{errc::spec_invalid, "", "no link to create", "pass --vnic LINK or set VMCTL_PROPOLIS_LINK"},
    Hint{errc::spec_invalid, "", "not a kernel", "drop --kernel, --initrd and --append"},
    Hint{errc::spec_invalid, "", "address of the VM's propolis-server", "pass --propolis-api IP/PREFIX"},
    Hint{errc::port_unsupported, "create", "", "drop --publish, or create the VM with --network user"},
    Hint{errc::port_unsupported, "", "", "destroy the VM and create it with --network user (or reach the guest at its address)"},
    Hint{errc::port_not_found, "", "", "'vmctl port list {name}' shows what the VM publishes"},
    Hint{errc::port_in_use, "create", "", "publish the guest port on another host port, e.g. --publish 18080:80"},
    Hint{errc::port_in_use, "port", "", "publish the guest port on another host port, e.g. 18080:80"},
    Hint{errc::port_in_use, "", "",
         "or move the forward: 'vmctl port rm {name} PORT', then 'vmctl port add {name} OTHER:GUEST'"},
    Hint{errc::resize_running, "", "", "stop it with 'vmctl stop {name}', then 'vmctl set {name}' again"},
    Hint{errc::resize_shrink, "", "",
         "pass a --disk at least that large; for a smaller disk, 'vmctl destroy {name}' and create it again"},
    Hint{errc::snapshot_not_found, "", "", "'vmctl snapshot list {name}' shows the VM's snapshots"},
    Hint{errc::snapshot_already_exists, "", "", "choose another name, or 'vmctl snapshot rm {name} SNAP' first"},
    Hint{errc::snapshot_needs_stopped, "", "take a snapshot", "'vmctl stop {name}', then take the snapshot"},
    Hint{errc::snapshot_needs_stopped, "", "", "'vmctl stop {name}', then restore the snapshot"},
    Hint{errc::snapshot_blocked, "", "virtiofs", "'vmctl snapshot create {name} SNAP --no-memory' saves its disks"},
    Hint{errc::image_unrecognised_raw, "", "", "pass another --image, or add --force to use this one as it is"},
    Hint{errc::cp_not_a_folder, "cp", "", "copy a single file without -r"},
    Hint{errc::ssh_not_configured, "", "", "'vmctl destroy {name}', then create it with --ssh-user (and --ssh-key)"},
    Hint{errc::ssh_timeout, "", "cloud-init", "raise --wait-timeout, or look inside with 'vmctl ssh {name}'"},
    Hint{errc::ssh_timeout, "", "", kConsole},
    Hint{errc::ssh_auth_failed, "", "", kConsole},
    Hint{errc::ssh_exec_failed, "", "keepalives", kConsole},
    Hint{errc::ssh_connect_failed, "", "", kStatus},
    Hint{errc::qmp_timeout, "", "", "'vmctl stop --force {name}' stops a hung QEMU"},
    Hint{errc::qmp_connect_failed, "", "", kStatus},
    Hint{errc::qmp_closed, "", "", kStatus},
    Hint{errc::qmp_command_failed, "", "", kStatus},
    Hint{errc::console_unavailable, "", "raw mode", "run 'vmctl console' from an interactive terminal"},
    Hint{errc::console_unavailable, "", "", kStatus},
    Hint{errc::console_websocket_failed, "", "", kStatus},
    Hint{errc::image_ambiguous, "", "", "'vmctl image list' shows the keys"},
    Hint{errc::vmfile_not_found, "", "", "pass --file PATH"},
    Hint{errc::provision_no_log, "", "", "'vmctl provision --name {name}' runs its VMFile's steps"},
};

// Errors vmctl raises itself already name its commands and flags.
bool names_vmctl_syntax(std::string_view help) {
  return help.find("vmctl ") != std::string_view::npos || help.find("--") != std::string_view::npos;
}

bool names_command(std::string_view commands, std::string_view command) {
  if (commands.empty()) return true;
  if (command.empty()) return false;
  for (std::size_t at = commands.find(command); at != std::string_view::npos; at = commands.find(command, at + 1)) {
    std::size_t end = at + command.size();
    if ((at == 0 || commands[at - 1] == ' ') && (end == commands.size() || commands[end] == ' ')) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> hint_for(const vm_manager::Error& error, const ErrorContext& context) {
  if (names_vmctl_syntax(error.help())) return std::nullopt;
  for (const Hint& hint : kHints) {
    if (hint.code != error.code() || !names_command(hint.commands, context.command)) continue;
    if (!hint.contains.empty() && error.message().find(hint.contains) == std::string::npos &&
        error.help().find(hint.contains) == std::string::npos) {
      continue;
    }
    // A VM found without being named (vmctl ssh in a VMFile's folder) is
    // shown as the placeholder, not as an empty word.
    return fmt::format(fmt::runtime(hint.text), fmt::arg("name", context.vm_name.empty() ? "NAME" : context.vm_name));
  }
  return std::nullopt;
}

}  // namespace vmctl

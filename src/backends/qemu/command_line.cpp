#include "backends/qemu/command_line.hpp"

#include <fmt/format.h>

#include "backends/qemu/options.hpp"
#include "backends/qemu/port_forwards.hpp"
#include "backends/qemu/virtiofs.hpp"
#include "backends/qemu/work_dir_layout.hpp"

namespace vm_manager::qemu {
namespace {

using Args = std::vector<std::string>;

void add(Args& args, std::initializer_list<std::string> more) { args.insert(args.end(), more); }

std::string path_value(const std::string& path, std::string_view what) { return escape_option_value(path, what); }

void add_machine(Args& args, const QemuVm& h, const LaunchPlan& plan) {
  std::string accel = plan.accel == Accel::kvm ? "kvm" : "tcg";
  // vhost-user devices (virtiofsd) map the guest's RAM: it must be shared
  // memory they can see, a memfd with share=on.
  std::string memory = h.shared_folders.empty() ? "" : ",memory-backend=mem0";
  if (!memory.empty()) {
    add(args, {"-object", fmt::format("memory-backend-memfd,id=mem0,size={}M,share=on", h.memory_mb)});
  }
  add(args, {"-machine", "q35,accel=" + accel + memory,
             // -cpu host aborts without KVM; "max" gives TCG every feature it emulates.
             "-cpu", plan.accel == Accel::kvm ? "host" : "max",
             "-smp", std::to_string(h.vcpus),
             "-m", std::to_string(h.memory_mb),
             "-name", "guest=" + escape_option_value(h.name, "VM name") + ",debug-threads=on",
             "-nodefaults", "-no-user-config"});
}

void add_firmware(Args& args, const LaunchPlan& plan) {
  if (!plan.firmware) return;
  add(args, {"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" +
                           path_value(plan.firmware->code.string(), "firmware path"),
             "-drive", "if=pflash,format=" + std::string(plan.uefi_vars.extension() == ".qcow2" ? "qcow2" : "raw") +
                           ",unit=1,node-name=" + layout::kUefiVarsNode +
                           ",file=" + path_value(plan.uefi_vars.string(), "UEFI vars path")});
}

void add_kernel(Args& args, const QemuVm& h) {
  // -kernel and friends take a plain file name, not an option list.
  if (h.kernel) add(args, {"-kernel", *h.kernel});
  if (h.initrd) add(args, {"-initrd", *h.initrd});
  if (h.cmdline) add(args, {"-append", *h.cmdline});
}

void add_disks(Args& args, const QemuVm& h) {
  add(args, {"-drive", "file=" + path_value(h.overlay_path, "disk path") + ",format=qcow2,if=none,id=disk0,node-name=" + layout::kRootDiskNode + ",discard=unmap",
             "-device", "virtio-blk-pci,drive=disk0,bootindex=1"});
  if (!h.seed_iso_path.empty()) {
    // The seed as a read-only virtio disk: Debian's cloud kernels have no AHCI
    // driver and cannot see an IDE/SATA cdrom on q35, while virtio-blk is in
    // every cloud kernel; cloud-init finds the seed by its label "cidata" on
    // any block device.
    add(args, {"-drive", "file=" + path_value(h.seed_iso_path, "seed path") + ",format=raw,if=none,id=seed0,readonly=on",
               "-device", "virtio-blk-pci,drive=seed0"});
  }
  // Data disks after the seed, so the root disk and the seed keep the guest
  // device names they had before data disks existed. validate_data_disks
  // let through only names without QEMU's separators; the serial is how
  // the guest tells them apart (/dev/disk/by-id/virtio-NAME).
  for (const DataDisk& disk : h.data_disks) {
    const std::string drive = layout::data_disk_drive(disk.name);
    add(args, {"-drive", "file=" + path_value(layout::data_disk(h.work_dir, disk.name).string(), "data disk path") +
                             ",format=qcow2,if=none,id=" + drive + ",node-name=" + layout::data_disk_node(disk.name) +
                             ",discard=unmap",
               "-device", "virtio-blk-pci,drive=" + drive + ",serial=" + disk.name});
  }
}

void add_network(Args& args, const QemuVm& h, const LaunchPlan& plan) {
  std::string device = "virtio-net-pci,netdev=net0,mac=" + h.mac;
  if (std::holds_alternative<UserNetwork>(h.network)) {
    std::string netdev = fmt::format("user,id={},hostfwd=tcp:127.0.0.1:{}-:22", kNetdevId, plan.ssh_host_port);
    // Published ports; validate_port_forwards let through only IPv4
    // addresses and numbers, nothing QEMU's option syntax reads as a separator.
    for (const PortForward& forward : h.port_forwards) netdev += ",hostfwd=" + hostfwd_rule(forward);
    add(args, {"-netdev", netdev, "-device", device});
  } else if (std::holds_alternative<TapNetwork>(h.network)) {
    add(args, {"-netdev", fmt::format("tap,id={},ifname=", kNetdevId) + escape_option_value(plan.tap, "TAP name") +
                              ",script=no,downscript=no",
               "-device", device});
  }
}

// One vhost-user-fs device per shared folder, connected to its virtiofsd's
// socket (virtiofs.hpp), which start launched before QEMU.
void add_shared_folders(Args& args, const QemuVm& h) {
  for (std::size_t i = 0; i < h.shared_folders.size(); ++i) {
    std::string id = fmt::format("fs{}", i);
    add(args, {"-chardev", "socket,id=" + id + ",path=" + path_value(virtiofs_socket(h, i).string(), "virtiofs socket"),
               "-device", "vhost-user-fs-pci,chardev=" + id + ",tag=" + virtiofs_tag(i)});
  }
}

// Whoever can connect to QEMU's VNC without a password watches and types.
// By default it listens on a unix socket in the VM's private socket dir. A
// TCP port on loopback is open to every local user, so it asks for a
// password, which start sets over QMP before anyone can know it (until
// then none is accepted).
std::string vnc_option(const QemuVm& h) {
  if (h.vnc_mode == VncMode::tcp) return "127.0.0.1:0,to=99,password=on";
  return "unix:" + path_value(layout::vnc_socket(h.qmp_socket).string(), "VNC socket");
}

void add_devices(Args& args, const QemuVm& h) {
  add(args, {"-object", "rng-random,id=rng0,filename=/dev/urandom", "-device", "virtio-rng-pci,rng=rng0",
             // The serial console: a socket to attach to, and everything it
             // prints appended to console.log, so no output is ever lost;
             // the log is the fd vmctl opened (launch.cpp).
             "-add-fd", fmt::format("fd={},set={}", kConsoleLogFd, kConsoleLogFdSet),
             "-chardev", "socket,id=serial0,path=" + path_value(h.console_socket, "console socket") +
                             fmt::format(",server=on,wait=off,logfile=/dev/fdset/{},logappend=on", kConsoleLogFdSet),
             "-serial", "chardev:serial0",
             // A display so VNC shows something.
             "-device", "VGA", "-display", "none", "-vnc", vnc_option(h)});
}

void add_control(Args& args, const QemuVm& h, const LaunchPlan& plan) {
  add(args, {"-qmp", "unix:" + path_value(h.qmp_socket, "QMP socket") + ",server=on,wait=off",
             "-pidfile", plan.pidfile.string(), "-daemonize"});
}

}  // namespace

std::vector<std::string> qemu_command_line(const QemuVm& handle, const LaunchPlan& plan,
                                           const QemuConfig& config) {
  Args args{config.qemu_binary};
  add_machine(args, handle, plan);
  add_firmware(args, plan);
  add_kernel(args, handle);
  add_disks(args, handle);
  add_network(args, handle, plan);
  add_shared_folders(args, handle);
  add_devices(args, handle);
  add_control(args, handle, plan);
  return args;
}

}  // namespace vm_manager::qemu

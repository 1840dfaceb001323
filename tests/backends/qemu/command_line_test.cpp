// qemu_command_line: the argv handed to qemu-system-x86_64, checked option by
// option without running QEMU.
#include "backends/qemu/command_line.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Args = std::vector<std::string>;

// One "key=value" item of a QEMU option list; key is empty for the implied
// first item ("q35" in "q35,accel=tcg").
using Option = std::pair<std::string, std::string>;

// Splits a QEMU option list the way QEMU does: "," separates items, ",,"
// stands for a literal comma.
std::vector<Option> parse_options(const std::string& text) {
  std::vector<std::string> items{""};
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ',') {
      if (i + 1 < text.size() && text[i + 1] == ',') {
        items.back() += ',';
        ++i;
      } else {
        items.emplace_back();
      }
    } else {
      items.back() += text[i];
    }
  }
  std::vector<Option> options;
  for (const auto& item : items) {
    auto eq = item.find('=');
    if (eq == std::string::npos) {
      options.emplace_back("", item);
    } else {
      options.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
  }
  return options;
}

// The value of `key` in an option list, or "<absent>".
std::string option(const std::string& list, const std::string& key) {
  for (const auto& [k, v] : parse_options(list)) {
    if (k == key) return v;
  }
  return "<absent>";
}

bool has_option(const std::string& list, const std::string& key) { return option(list, key) != "<absent>"; }

// Every argument that follows `flag`.
std::vector<std::string> values_of(const Args& args, const std::string& flag) {
  std::vector<std::string> values;
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag) values.push_back(args[i + 1]);
  }
  return values;
}

// The single argument after `flag`; fails the test when there is not exactly one.
std::string value_of(const Args& args, const std::string& flag) {
  auto values = values_of(args, flag);
  EXPECT_EQ(values.size(), 1u) << flag << " given " << values.size() << " times";
  return values.empty() ? std::string("<absent>") : values.front();
}

// The -device whose driver (implied first item) is `driver` and whose
// `key` is `value`.
std::vector<std::string> devices(const Args& args, const std::string& driver) {
  std::vector<std::string> found;
  for (const auto& d : values_of(args, "-device")) {
    if (option(d, "") == driver) found.push_back(d);
  }
  return found;
}

// The -drive whose `file` is `path` (after unescaping).
std::string drive_for(const Args& args, const std::string& path) {
  for (const auto& d : values_of(args, "-drive")) {
    if (option(d, "file") == path) return d;
  }
  ADD_FAILURE() << "no -drive with file=" << path;
  return {};
}

QemuVm handle() {
  QemuVm h;
  h.id = "3f2a9c1e-1111-4222-8333-444455556666";
  h.name = "web";
  h.backend = std::string("qemu");
  h.work_dir = "/data/vms/web";
  h.overlay_path = "/data/vms/web/disk.qcow2";
  h.console_log = "/data/vms/web/console.log";
  h.console_socket = "/data/vms/web/console.sock";
  h.qmp_socket = "/data/vms/web/qmp.sock";
  h.vcpus = 3;
  h.memory_mb = 1536;
  h.mac = "02:a1:b2:c3:d4:e5";
  h.network = UserNetwork{};
  return h;
}

LaunchPlan plan(Accel accel = Accel::tcg) {
  LaunchPlan p;
  p.accel = accel;
  p.ssh_host_port = 10042;
  p.pidfile = "/data/vms/web/qemu.pid";
  return p;
}

Args command_line(const QemuVm& h, const LaunchPlan& p = plan()) { return qemu_command_line(h, p, QemuConfig{}); }

TEST(QemuCommandLine, StartsWithTheConfiguredBinary) {
  QemuConfig config;
  config.qemu_binary = "/opt/qemu/bin/qemu-system-x86_64";
  Args args = qemu_command_line(handle(), plan(), config);
  ASSERT_FALSE(args.empty());
  EXPECT_EQ(args.front(), "/opt/qemu/bin/qemu-system-x86_64");
}

TEST(QemuCommandLine, TcgUsesQ35AndCpuMax) {
  Args args = command_line(handle(), plan(Accel::tcg));
  std::string machine = value_of(args, "-machine");
  EXPECT_EQ(option(machine, ""), "q35");
  EXPECT_EQ(option(machine, "accel"), "tcg");
  EXPECT_EQ(value_of(args, "-cpu"), "max");
}

TEST(QemuCommandLine, KvmUsesQ35AndCpuHost) {
  Args args = command_line(handle(), plan(Accel::kvm));
  std::string machine = value_of(args, "-machine");
  EXPECT_EQ(option(machine, ""), "q35");
  EXPECT_EQ(option(machine, "accel"), "kvm");
  EXPECT_EQ(value_of(args, "-cpu"), "host");
}

TEST(QemuCommandLine, CpusAndMemoryComeFromTheHandle) {
  QemuVm h = handle();
  h.vcpus = 7;
  h.memory_mb = 4096;
  Args args = command_line(h);
  EXPECT_EQ(value_of(args, "-smp"), "7");
  EXPECT_EQ(value_of(args, "-m"), "4096");
}

TEST(QemuCommandLine, NoDefaultDevices) {
  Args args = command_line(handle());
  EXPECT_THAT(args, Contains("-nodefaults"));
  EXPECT_THAT(args, Contains("-no-user-config"));
}

TEST(QemuCommandLine, OverlayIsAVirtioBlkBootDisk) {
  Args args = command_line(handle());
  std::string drive = drive_for(args, "/data/vms/web/disk.qcow2");
  EXPECT_EQ(option(drive, "format"), "qcow2");
  EXPECT_EQ(option(drive, "if"), "none");
  EXPECT_FALSE(has_option(drive, "readonly"));
  std::string id = option(drive, "id");
  ASSERT_NE(id, "<absent>");

  auto blk = devices(args, "virtio-blk-pci");
  ASSERT_EQ(blk.size(), 1u);
  EXPECT_EQ(option(blk[0], "drive"), id);
  EXPECT_EQ(option(blk[0], "bootindex"), "1");
}

TEST(QemuCommandLine, NoSeedDriveWithoutASeed) {
  Args args = command_line(handle());
  EXPECT_EQ(values_of(args, "-drive").size(), 1u);
  EXPECT_EQ(devices(args, "virtio-blk-pci").size(), 1u);
  for (const auto& d : values_of(args, "-drive")) EXPECT_FALSE(has_option(d, "readonly")) << d;
}

TEST(QemuCommandLine, SeedIsAReadOnlyVirtioBlkDrive) {
  QemuVm h = handle();
  h.seed_iso_path = "/data/vms/web/seed.iso";
  Args args = command_line(h);
  ASSERT_EQ(values_of(args, "-drive").size(), 2u);
  std::string seed = drive_for(args, "/data/vms/web/seed.iso");
  EXPECT_EQ(option(seed, "format"), "raw");
  EXPECT_EQ(option(seed, "if"), "none");
  EXPECT_EQ(option(seed, "readonly"), "on");
  std::string seed_id = option(seed, "id");
  EXPECT_NE(seed_id, option(drive_for(args, "/data/vms/web/disk.qcow2"), "id"));

  auto blk = devices(args, "virtio-blk-pci");
  ASSERT_EQ(blk.size(), 2u);
  int seed_devices = 0;
  for (const auto& d : blk) {
    if (option(d, "drive") != seed_id) continue;
    ++seed_devices;
    EXPECT_FALSE(has_option(d, "bootindex")) << "the seed is not a boot disk: " << d;
  }
  EXPECT_EQ(seed_devices, 1);
}

TEST(QemuCommandLine, DataDisksAreQcow2VirtioBlkDrivesWithTheirNameAsSerial) {
  QemuVm h = handle();
  h.seed_iso_path = "/data/vms/web/seed.iso";
  h.data_disks = {{"scratch", 20}, {"logs.1", 5}};
  Args args = command_line(h);
  ASSERT_EQ(values_of(args, "-drive").size(), 4u);
  for (const std::string name : {"scratch", "logs.1"}) {
    std::string drive = drive_for(args, "/data/vms/web/data-" + name + ".qcow2");
    EXPECT_EQ(option(drive, "format"), "qcow2");
    EXPECT_EQ(option(drive, "if"), "none");
    // QEMU refuses a drive id equal to a node name.
    EXPECT_EQ(option(drive, "id"), "drive-data-" + name);
    EXPECT_EQ(option(drive, "node-name"), "data-" + name);  // what snapshots name it by
    EXPECT_EQ(option(drive, "discard"), "unmap");
    EXPECT_FALSE(has_option(drive, "readonly"));
    int attached = 0;
    for (const auto& d : devices(args, "virtio-blk-pci")) {
      if (option(d, "drive") != "drive-data-" + name) continue;
      ++attached;
      EXPECT_EQ(option(d, "serial"), name);
      EXPECT_FALSE(has_option(d, "bootindex")) << d;
    }
    EXPECT_EQ(attached, 1) << name;
  }
  // After the root disk and the seed: the guest's vda and vdb stay theirs.
  auto drives = values_of(args, "-drive");
  EXPECT_EQ(option(drives[0], "file"), "/data/vms/web/disk.qcow2");
  EXPECT_EQ(option(drives[1], "file"), "/data/vms/web/seed.iso");
  EXPECT_EQ(option(drives[2], "node-name"), "data-scratch");
  EXPECT_EQ(option(drives[3], "node-name"), "data-logs.1");
}

TEST(QemuCommandLine, AWorkDirWithACommaKeepsTheDataDiskPathWhole) {
  QemuVm h = handle();
  h.work_dir = "/data/vms,x/web";
  h.data_disks = {{"scratch", 1}};
  Args args = command_line(h);
  EXPECT_EQ(option(drive_for(args, "/data/vms,x/web/data-scratch.qcow2"), "node-name"), "data-scratch");
}

TEST(QemuCommandLine, UserNetworkForwardsSshOnLoopbackOnly) {
  Args args = command_line(handle());
  std::string netdev = value_of(args, "-netdev");
  EXPECT_EQ(option(netdev, ""), "user");
  EXPECT_EQ(option(netdev, "hostfwd"), "tcp:127.0.0.1:10042-:22");
  std::string id = option(netdev, "id");

  auto nics = devices(args, "virtio-net-pci");
  ASSERT_EQ(nics.size(), 1u);
  EXPECT_EQ(option(nics[0], "netdev"), id);
  EXPECT_EQ(option(nics[0], "mac"), "02:a1:b2:c3:d4:e5");
}

TEST(QemuCommandLine, UserNetworkWithPortZeroLetsTheHostPick) {
  LaunchPlan p = plan();
  p.ssh_host_port = 0;
  Args args = command_line(handle(), p);
  EXPECT_EQ(option(value_of(args, "-netdev"), "hostfwd"), "tcp:127.0.0.1:0-:22");
}

TEST(QemuCommandLine, PublishedPortsAreHostForwardsAfterSsh) {
  QemuVm h = handle();
  h.port_forwards = {PortForward{"127.0.0.1", 8080, 80, PortProtocol::tcp},
                     PortForward{"0.0.0.0", 5353, 53, PortProtocol::udp}};
  std::vector<std::string> rules;
  for (const auto& [key, value] : parse_options(value_of(command_line(h), "-netdev"))) {
    if (key == "hostfwd") rules.push_back(value);
  }
  EXPECT_THAT(rules, ElementsAre("tcp:127.0.0.1:10042-:22", "tcp:127.0.0.1:8080-:80", "udp:0.0.0.0:5353-:53"));
}

TEST(QemuCommandLine, TapNetworkUsesTheCreatedInterfaceWithoutScripts) {
  QemuVm h = handle();
  h.network = TapNetwork{"br0"};
  LaunchPlan p = plan();
  p.tap = "vmt3f2a9c1e";
  Args args = command_line(h, p);
  std::string netdev = value_of(args, "-netdev");
  EXPECT_EQ(option(netdev, ""), "tap");
  EXPECT_EQ(option(netdev, "ifname"), "vmt3f2a9c1e");
  EXPECT_EQ(option(netdev, "script"), "no");
  EXPECT_EQ(option(netdev, "downscript"), "no");
  EXPECT_FALSE(has_option(netdev, "hostfwd"));
  EXPECT_FALSE(has_option(netdev, "br")) << "QEMU's br= needs a helper; vmctl enslaves the tap itself";

  auto nics = devices(args, "virtio-net-pci");
  ASSERT_EQ(nics.size(), 1u);
  EXPECT_EQ(option(nics[0], "netdev"), option(netdev, "id"));
  EXPECT_EQ(option(nics[0], "mac"), "02:a1:b2:c3:d4:e5");
}

TEST(QemuCommandLine, NoNetworkMeansNoNetdevAndNoNic) {
  QemuVm h = handle();
  h.network = NoNetwork{};
  Args args = command_line(h);
  EXPECT_THAT(args, Not(Contains("-netdev")));
  EXPECT_TRUE(devices(args, "virtio-net-pci").empty());
  EXPECT_THAT(args, Not(Contains("-nic")));
  EXPECT_THAT(args, Not(Contains("-net")));
}

TEST(QemuCommandLine, SerialConsoleIsASocketLoggedToConsoleLog) {
  Args args = command_line(handle());
  std::string chardev = value_of(args, "-chardev");
  EXPECT_EQ(option(chardev, ""), "socket");
  EXPECT_EQ(option(chardev, "path"), "/data/vms/web/console.sock");
  EXPECT_EQ(option(chardev, "server"), "on");
  EXPECT_EQ(option(chardev, "wait"), "off");
  // The log is an fd vmctl opened, never a path QEMU opens.
  EXPECT_EQ(option(chardev, "logfile"), "/dev/fdset/" + std::to_string(kConsoleLogFdSet));
  EXPECT_EQ(option(chardev, "logappend"), "on");
  EXPECT_EQ(value_of(args, "-add-fd"),
            "fd=" + std::to_string(kConsoleLogFd) + ",set=" + std::to_string(kConsoleLogFdSet));
  for (const auto& arg : args) EXPECT_EQ(arg.find("console.log"), std::string::npos) << arg;
  EXPECT_EQ(value_of(args, "-serial"), "chardev:" + option(chardev, "id"));
  EXPECT_EQ(value_of(args, "-serial"), "chardev:serial0");
}

TEST(QemuCommandLine, VncOnAUnixSocketBesideQmpWithADisplayDevice) {
  QemuVm h = handle();
  Args args = command_line(h);
  EXPECT_EQ(value_of(args, "-vnc"), "unix:" + (std::filesystem::path(h.qmp_socket).parent_path() / "vnc.sock").string());
  for (const auto& arg : args) EXPECT_EQ(arg.find("127.0.0.1:0"), std::string::npos) << "no VNC on TCP";
  EXPECT_EQ(devices(args, "VGA").size(), 1u);
  EXPECT_EQ(value_of(args, "-display"), "none");
}

TEST(QemuCommandLine, VncOnTcpListensOnLoopbackOnlyAndAsksForAPassword) {
  QemuVm h = handle();
  h.vnc_mode = VncMode::tcp;
  Args args = command_line(h);
  std::string vnc = value_of(args, "-vnc");
  EXPECT_EQ(option(vnc, ""), "127.0.0.1:0");
  EXPECT_EQ(option(vnc, "to"), "99");
  EXPECT_EQ(option(vnc, "password"), "on");
  for (const auto& arg : args) EXPECT_EQ(arg.find("vnc.sock"), std::string::npos) << "no VNC socket as well";
  EXPECT_EQ(devices(args, "VGA").size(), 1u);
}

TEST(QemuCommandLine, VncOnAUnixSocketHasNoPassword) {
  Args args = command_line(handle());
  EXPECT_FALSE(has_option(value_of(args, "-vnc"), "password"));
}

TEST(QemuCommandLine, VirtioRngFromUrandom) {
  Args args = command_line(handle());
  std::string rng;
  for (const auto& o : values_of(args, "-object")) {
    if (option(o, "") == "rng-random") rng = o;
  }
  ASSERT_FALSE(rng.empty());
  EXPECT_EQ(option(rng, "filename"), "/dev/urandom");
  auto dev = devices(args, "virtio-rng-pci");
  ASSERT_EQ(dev.size(), 1u);
  EXPECT_EQ(option(dev[0], "rng"), option(rng, "id"));
}

TEST(QemuCommandLine, QmpIsAUnixSocketServerThatDoesNotWait) {
  Args args = command_line(handle());
  std::string qmp = value_of(args, "-qmp");
  EXPECT_EQ(option(qmp, ""), "unix:/data/vms/web/qmp.sock");
  EXPECT_EQ(option(qmp, "server"), "on");
  EXPECT_EQ(option(qmp, "wait"), "off");
}

TEST(QemuCommandLine, DaemonizesWithAPidfile) {
  Args args = command_line(handle());
  EXPECT_THAT(args, Contains("-daemonize"));
  EXPECT_EQ(value_of(args, "-pidfile"), "/data/vms/web/qemu.pid");
}

TEST(QemuCommandLine, NoKernelOptionsWithoutDirectKernelBoot) {
  Args args = command_line(handle());
  EXPECT_THAT(args, Not(Contains("-kernel")));
  EXPECT_THAT(args, Not(Contains("-initrd")));
  EXPECT_THAT(args, Not(Contains("-append")));
}

TEST(QemuCommandLine, DirectKernelBootPassesEachValueAsOneArgument) {
  QemuVm h = handle();
  h.kernel = "/boot/vmlinuz,v2";
  h.initrd = "/boot/initrd img";
  h.cmdline = "console=ttyS0 root=/dev/vda1 ro opts=a,b,,c quiet";
  Args args = command_line(h);
  // Plain file names and a plain string, not option lists: nothing escaped.
  EXPECT_EQ(value_of(args, "-kernel"), "/boot/vmlinuz,v2");
  EXPECT_EQ(value_of(args, "-initrd"), "/boot/initrd img");
  EXPECT_EQ(value_of(args, "-append"), "console=ttyS0 root=/dev/vda1 ro opts=a,b,,c quiet");
}

TEST(QemuCommandLine, KernelAloneWithoutInitrdOrCmdline) {
  QemuVm h = handle();
  h.kernel = "/boot/vmlinuz";
  Args args = command_line(h);
  EXPECT_EQ(value_of(args, "-kernel"), "/boot/vmlinuz");
  EXPECT_THAT(args, Not(Contains("-initrd")));
  EXPECT_THAT(args, Not(Contains("-append")));
}

TEST(QemuCommandLine, NoPflashWithoutUefi) {
  Args args = command_line(handle());
  for (const auto& d : values_of(args, "-drive")) EXPECT_NE(option(d, "if"), "pflash") << d;
}

TEST(QemuCommandLine, UefiUsesReadOnlyCodeAndPerVmVars) {
  LaunchPlan p = plan();
  p.firmware = Firmware{"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"};
  p.uefi_vars = "/data/vms/web/OVMF_VARS.fd";
  Args args = command_line(handle(), p);
  std::vector<std::string> pflash;
  for (const auto& d : values_of(args, "-drive")) {
    if (option(d, "if") == "pflash") pflash.push_back(d);
  }
  ASSERT_EQ(pflash.size(), 2u);
  std::string code = drive_for(args, "/usr/share/OVMF/OVMF_CODE_4M.fd");
  std::string vars = drive_for(args, "/data/vms/web/OVMF_VARS.fd");
  EXPECT_EQ(option(code, "if"), "pflash");
  EXPECT_EQ(option(code, "format"), "raw");
  EXPECT_EQ(option(code, "unit"), "0");
  EXPECT_EQ(option(code, "readonly"), "on");
  EXPECT_EQ(option(vars, "if"), "pflash");
  EXPECT_EQ(option(vars, "format"), "raw");
  EXPECT_EQ(option(vars, "unit"), "1");
  EXPECT_FALSE(has_option(vars, "readonly")) << "the guest writes its UEFI variables";
  // Never the shared template.
  for (const auto& d : values_of(args, "-drive")) EXPECT_THAT(d, Not(HasSubstr("OVMF_VARS_4M")));
}

// Snapshots name the writable block nodes over QMP: the disk is "root-disk",
// the UEFI variables "uefi-vars", in qcow2 when the VM has them so (a VM
// made before that keeps its raw vars).
TEST(QemuCommandLine, WritableNodesHaveNamesAndQcow2VarsSayTheirFormat) {
  LaunchPlan p = plan();
  p.firmware = Firmware{"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"};
  p.uefi_vars = "/data/vms/web/OVMF_VARS.qcow2";
  Args args = command_line(handle(), p);
  std::string vars = drive_for(args, "/data/vms/web/OVMF_VARS.qcow2");
  EXPECT_EQ(option(vars, "format"), "qcow2");
  EXPECT_EQ(option(vars, "node-name"), "uefi-vars");
  std::string disk;
  for (const auto& d : values_of(args, "-drive")) {
    if (has_option(d, "id") && option(d, "id") == "disk0") disk = d;
  }
  EXPECT_EQ(option(disk, "node-name"), "root-disk");
  p.uefi_vars = "/data/vms/web/OVMF_VARS.fd";
  EXPECT_EQ(option(drive_for(command_line(handle(), p), "/data/vms/web/OVMF_VARS.fd"), "format"), "raw");
}

// Every path in an option list, with a comma in it.
QemuVm handle_with_commas() {
  QemuVm h = handle();
  h.work_dir = "/data,x/vms/web";
  h.overlay_path = "/data,x/vms/web/disk,1.qcow2";
  h.seed_iso_path = "/data,x/vms/web/seed,1.iso";
  h.console_log = "/data,x/vms/web/console,1.log";
  h.console_socket = "/run,x/console,1.sock";
  h.qmp_socket = "/run,x/qmp,1.sock";
  return h;
}

LaunchPlan uefi_plan_with_commas() {
  LaunchPlan p = plan();
  p.firmware = Firmware{"/fw,x/OVMF_CODE.fd", "/fw,x/OVMF_VARS.fd"};
  p.uefi_vars = "/data,x/vms/web/OVMF_VARS,1.fd";
  return p;
}

TEST(QemuCommandLine, CommasInPathsAreDoubledInEveryOptionList) {
  Args args = command_line(handle_with_commas(), uefi_plan_with_commas());

  // The raw text has every comma of a path doubled…
  auto raw_contains = [&](const std::string& text) {
    for (const auto& a : args) {
      if (a.find(text) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(raw_contains("file=/data,,x/vms/web/disk,,1.qcow2,"));
  EXPECT_TRUE(raw_contains("file=/data,,x/vms/web/seed,,1.iso,"));
  EXPECT_TRUE(raw_contains("path=/run,,x/console,,1.sock,"));
  EXPECT_TRUE(raw_contains("unix:/run,,x/qmp,,1.sock,"));
  EXPECT_TRUE(raw_contains("file=/fw,,x/OVMF_CODE.fd"));
  EXPECT_TRUE(raw_contains("file=/data,,x/vms/web/OVMF_VARS,,1.fd"));

  // … so QEMU's parser reads back exactly the paths, and no stray options.
  std::string disk = drive_for(args, "/data,x/vms/web/disk,1.qcow2");
  EXPECT_EQ(option(disk, "format"), "qcow2");
  EXPECT_FALSE(has_option(disk, "1.qcow2"));
  std::string seed = drive_for(args, "/data,x/vms/web/seed,1.iso");
  EXPECT_EQ(option(seed, "readonly"), "on");
  drive_for(args, "/fw,x/OVMF_CODE.fd");
  drive_for(args, "/data,x/vms/web/OVMF_VARS,1.fd");
  std::string chardev = value_of(args, "-chardev");
  EXPECT_EQ(option(chardev, "path"), "/run,x/console,1.sock");
  // The console log is an fd (-add-fd), whatever its path.
  EXPECT_EQ(option(chardev, "logfile"), "/dev/fdset/" + std::to_string(kConsoleLogFdSet));
  EXPECT_EQ(option(chardev, "logappend"), "on");
  EXPECT_EQ(parse_options(chardev).size(), 7u) << chardev;
  std::string qmp = value_of(args, "-qmp");
  EXPECT_EQ(option(qmp, ""), "unix:/run,x/qmp,1.sock");
  EXPECT_EQ(parse_options(qmp).size(), 3u) << qmp;
}

TEST(QemuCommandLine, CommaInTheVmNameIsEscaped) {
  QemuVm h = handle();
  h.name = "a,b";
  Args args = command_line(h);
  std::string name = value_of(args, "-name");
  EXPECT_EQ(option(name, "guest"), "a,b");
  EXPECT_EQ(option(name, "debug-threads"), "on");
}

TEST(QemuCommandLine, CommaInTheTapNameIsEscaped) {
  QemuVm h = handle();
  h.network = TapNetwork{"br0"};
  LaunchPlan p = plan();
  p.tap = "t,script=/evil";
  Args args = command_line(h, p);
  std::string netdev = value_of(args, "-netdev");
  EXPECT_EQ(option(netdev, "ifname"), "t,script=/evil");
  EXPECT_EQ(option(netdev, "script"), "no");
}

TEST(QemuCommandLine, PidfileIsAPlainFileName) {
  // -pidfile takes a file name, not an option list: a comma stays single.
  QemuVm h = handle_with_commas();
  LaunchPlan p = plan();
  p.pidfile = "/data,x/vms/web/qemu.pid";
  EXPECT_EQ(value_of(command_line(h, p), "-pidfile"), "/data,x/vms/web/qemu.pid");
}

// A control character in any path that goes into an option list.
struct ControlCharCase {
  const char* field;
  void (*poison)(QemuVm&, LaunchPlan&);
};

class QemuCommandLineControlChar : public ::testing::TestWithParam<ControlCharCase> {};

TEST_P(QemuCommandLineControlChar, IsSpecInvalid) {
  QemuVm h = handle();
  h.seed_iso_path = "/data/vms/web/seed.iso";
  LaunchPlan p = uefi_plan_with_commas();
  GetParam().poison(h, p);
  try {
    command_line(h, p);
    FAIL() << "a control character in the " << GetParam().field << " was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::spec_invalid);
    EXPECT_THAT(e.message(), HasSubstr("control character"));
    EXPECT_EQ(e.message().find('\n'), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryPath, QemuCommandLineControlChar,
    ::testing::Values(
        ControlCharCase{"disk", [](QemuVm& h, LaunchPlan&) { h.overlay_path = "/data/vms/web/disk\n.qcow2"; }},
        ControlCharCase{"seed", [](QemuVm& h, LaunchPlan&) { h.seed_iso_path = "/data/vms/web/seed\t.iso"; }},
        ControlCharCase{"console socket",
                        [](QemuVm& h, LaunchPlan&) { h.console_socket = "/run/x/console\x01.sock"; }},
        ControlCharCase{"qmp socket", [](QemuVm& h, LaunchPlan&) { h.qmp_socket = "/run/x/qmp\x7f.sock"; }},
        ControlCharCase{"firmware code",
                        [](QemuVm&, LaunchPlan& p) { p.firmware->code = "/fw/OVMF\x1b_CODE.fd"; }},
        ControlCharCase{"uefi vars", [](QemuVm&, LaunchPlan& p) { p.uefi_vars = "/data/OVMF\n_VARS.fd"; }}),
    [](const ::testing::TestParamInfo<ControlCharCase>& row) {
      std::string name;
      for (const char* c = row.param.field; *c != '\0'; ++c) {
        if (*c != ' ') name += *c;
      }
      return name;
    });

TEST(QemuCommandLine, IsDeterministic) {
  EXPECT_EQ(command_line(handle()), command_line(handle()));
}

TEST(QemuCommandLine, ParseOptionsHelperUnderstandsDoubledCommas) {
  EXPECT_THAT(parse_options("a,,b,c=d,,e,f"),
              ElementsAre(Option{"", "a,b"}, Option{"c", "d,e"}, Option{"", "f"}));
}

// Without shared folders the machine keeps QEMU's own RAM: no memfd, no
// vhost-user devices.
TEST(QemuCommandLine, NoSharedMemoryWithoutSharedFolders) {
  Args args = command_line(handle());
  EXPECT_FALSE(has_option(value_of(args, "-machine"), "memory-backend"));
  EXPECT_THAT(values_of(args, "-object"), Not(Contains(HasSubstr("memory-backend-memfd"))));
  EXPECT_TRUE(devices(args, "vhost-user-fs-pci").empty());
}

// Each folder: a vhost-user-fs-pci device on a socket chardev to its
// virtiofsd, tagged as the seed's mounts name it; the RAM a shared memfd as
// big as -m, which virtiofsd maps.
TEST(QemuCommandLine, SharedFoldersGetSharedMemoryAndAVhostUserFsDeviceEach) {
  QemuVm h = handle();
  h.shared_folders = {{"/home/me/src", "/srv/src", false}, {"/home/me/data", "/srv/data", true}};
  Args args = command_line(h);
  std::string machine = value_of(args, "-machine");
  EXPECT_EQ(option(machine, "memory-backend"), "mem0");
  std::string memory;
  for (const std::string& object : values_of(args, "-object")) {
    if (option(object, "") == "memory-backend-memfd") memory = object;
  }
  EXPECT_EQ(option(memory, "id"), "mem0");
  EXPECT_EQ(option(memory, "size"), "1536M");
  EXPECT_EQ(option(memory, "share"), "on");

  std::vector<std::string> fs = devices(args, "vhost-user-fs-pci");
  ASSERT_EQ(fs.size(), 2u);
  std::vector<std::string> chardevs = values_of(args, "-chardev");
  for (std::size_t i = 0; i < fs.size(); ++i) {
    const std::string id = "fs" + std::to_string(i);
    EXPECT_EQ(option(fs[i], "chardev"), id);
    EXPECT_EQ(option(fs[i], "tag"), "vmctl:" + std::to_string(i));
    std::string socket = "/data/vms/web/virtiofs-" + std::to_string(i) + ".sock";
    EXPECT_THAT(chardevs, Contains("socket,id=" + id + ",path=" + socket));
  }
}

}  // namespace
}  // namespace vm_manager::qemu

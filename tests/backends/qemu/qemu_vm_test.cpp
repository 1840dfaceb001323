// QemuVm: the qemu backend's own fields, kept in the handle's backend_state.
#include "backends/qemu/qemu_vm.hpp"

#include <gtest/gtest.h>

#include "backends/qemu/qemu_backend.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/json.hpp"

namespace vm_manager::qemu {
namespace {

using nlohmann::json;

QemuVm full_vm() {
  QemuVm vm;
  vm.id = "3f2a9c1e-1111-4222-8333-444455556666";
  vm.name = "web";
  vm.backend = std::string(kBackendId);
  vm.work_dir = "/data/vms/web";
  vm.console_log = "/data/vms/web/console.log";
  vm.image_path = "/images/base.qcow2";
  vm.overlay_path = "/data/vms/web/disk.qcow2";
  vm.pid = 4242;
  vm.pid_start_time = 9876543210ull;
  vm.qmp_socket = "/run/x/qmp.sock";
  vm.console_socket = "/run/x/console.sock";
  vm.vnc = "127.0.0.1:5901";
  vm.mac = "02:a1:b2:c3:d4:e5";
  vm.uefi = true;
  vm.accel = Accel::tcg;
  vm.kernel = "/k";
  vm.initrd = "/i";
  vm.cmdline = "console=ttyS0";
  vm.vnc_mode = VncMode::tcp;
  return vm;
}

std::string code_of(const VmHandle& handle) {
  try {
    QemuVm{handle};
  } catch (const Error& e) {
    return std::string(e.code());
  }
  return "";
}

TEST(QemuVm, StateRoundTripsThroughTheHandleAndItsJson) {
  VmHandle handle = full_vm().handle();
  EXPECT_EQ(handle.backend_state.version, QemuState::kVersion);
  EXPECT_EQ(handle.name, "web");
  EXPECT_EQ(handle.console_log, "/data/vms/web/console.log");
  VmHandle through_text = json::parse(json(handle).dump()).get<VmHandle>();
  EXPECT_EQ(through_text, handle);
  QemuVm back(through_text);
  EXPECT_EQ(back.pid, 4242);
  EXPECT_EQ(back.pid_start_time, 9876543210ull);
  EXPECT_EQ(back.qmp_socket, "/run/x/qmp.sock");
  EXPECT_EQ(back.vnc, "127.0.0.1:5901");
  EXPECT_TRUE(back.uefi);
  EXPECT_EQ(back.accel, Accel::tcg);
  EXPECT_EQ(back.cmdline, "console=ttyS0");
  EXPECT_EQ(back.vnc_mode, VncMode::tcp);
  EXPECT_EQ(back.handle(), handle);
}

// Version 1 is format 1's flat fields, as the store moves them.
TEST(QemuVm, ReadsTheFieldsAsFormat1NamedThem) {
  VmHandle handle;
  handle.backend_state = BackendState{1, {{"pid", 27151}, {"pid_start_time", 398251}, {"accel", "auto"},
                                          {"mac", "ae:1f:42:aa:b7:8f"}, {"zone_name", ""}, {"kernel", nullptr}}};
  QemuVm vm(handle);
  EXPECT_EQ(vm.pid, 27151);
  EXPECT_EQ(vm.pid_start_time, 398251u);
  EXPECT_EQ(vm.accel, Accel::automatic);
  EXPECT_EQ(vm.mac, "ae:1f:42:aa:b7:8f");
  EXPECT_FALSE(vm.kernel.has_value());
  EXPECT_EQ(vm.vnc_mode, VncMode::unix_socket) << "written before VNC could listen on TCP";
  // Another backend's leftovers are not written back.
  EXPECT_FALSE(vm.handle().backend_state.data.contains("zone_name"));
}

TEST(QemuVm, NothingRecordedReadsAsDefaults) {
  QemuVm vm{VmHandle{}};
  EXPECT_FALSE(vm.pid.has_value());
  EXPECT_TRUE(vm.qmp_socket.empty());
  EXPECT_EQ(vm.accel, Accel::automatic);
}

TEST(QemuVm, AStateOfWrongTypesOrANewerVersionIsRefused) {
  for (json data : {json({{"pid", "123"}}), json({{"uefi", "yes"}}), json({{"accel", "whpx"}}),
                    json({{"kernel", 7}}), json({{"vnc", 5901}}), json({{"vnc_mode", "udp"}}), json({{"pid_start_time", json::object()}})}) {
    VmHandle handle;
    handle.backend_state = BackendState{1, data};
    EXPECT_EQ(code_of(handle), errc::store_corrupt) << data.dump();
  }
  VmHandle newer;
  newer.backend_state = BackendState{QemuState::kVersion + 1, json::object()};
  EXPECT_EQ(code_of(newer), errc::store_corrupt);
}

}  // namespace
}  // namespace vm_manager::qemu

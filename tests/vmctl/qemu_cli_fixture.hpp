// vmctl driving real QEMU with the tiny guest: VmctlTest plus the create
// arguments that boot it, and a teardown that leaves no QEMU behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "backends/qemu/qemu_vm.hpp"
#include "backends/qemu/tiny_guest.hpp"
#include "os/proc.hpp"
#include "vm_manager/json.hpp"
#include "vm_manager/store.hpp"
#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {

class QemuCliTest : public VmctlTest {
 protected:
  std::vector<std::string> create_args(const std::string& name, const std::string& memory_mb = "192") {
    TinyGuest guest = TinyGuest::locate();
    return {"create", "--name", name, "--image", guest.disk.string(), "--kernel", guest.kernel.string(),
            "--initrd", guest.initrd.string(), "--append", "console=ttyS0 panic=-1", "--memory", memory_mb};
  }

  // vmctl with room for a guest to boot under TCG on a loaded machine: the
  // deadline only catches a hang.
  ProcessResult slow(const std::vector<std::string>& args) {
    ProcessOptions options;
    options.timeout = std::chrono::seconds(300);
    return run_vmctl(data_.str(), args, options);
  }

  // No QEMU may outlive its test: destroy whatever is left, then check the
  // processes are gone.
  void TearDown() override {
    std::vector<std::pair<pid_t, std::uint64_t>> processes;
    for (const auto& vm : list()) {
      std::string name = vm.at("name");
      try {
        // The store knows which of vm.json and run.json holds the pid.
        const vm_manager::qemu::QemuVm qemu(vm_manager::VmStore(vm_manager::DataDir(data_.path())).load(name).handle);
        if (qemu.pid && qemu.pid_start_time) processes.emplace_back(*qemu.pid, *qemu.pid_start_time);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "cannot read " << name << "'s record: " << e.what();  // destroy it all the same
      }
      ok({"destroy", name});
    }
    for (auto [pid, started] : processes) EXPECT_FALSE(vm_manager::os::is_running_process(pid, started));
  }
};

}  // namespace vmctl::test

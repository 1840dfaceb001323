// A QemuBackend with one prepared VM, "web", whose overlay the real qemu-img
// made on a 1 GB qcow2 base; a FakeHost forwards qemu-img and records its
// argv. For tests of what the backend does to a VM's images (resize,
// snapshots) without booting it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "backends/qemu/fake_host.hpp"
#include "backends/qemu/qemu_backend.hpp"
#include "backends/qemu/qemu_vm.hpp"
#include "os/process.hpp"
#include "support/temp_dir.hpp"

namespace vm_manager::qemu {

class PreparedQemuVmTest : public ::testing::Test {
 protected:
  PreparedQemuVmTest()
      : host_(std::make_shared<vmctl::test::FakeHost>()),
        backend_(DataDir(dir_.path() / "data"), QemuConfig{}, host_) {
    host_->forward_to_real("qemu-img");
  }

  void SetUp() override {
    using namespace std::chrono_literals;
    ASSERT_TRUE(os::run_process({"qemu-img", "--version"}, 10s).ok()) << "qemu-img is missing: make deps installs it";
    auto made = os::run_process({"qemu-img", "create", "-q", "-f", "qcow2", base_.string(), "1G"}, 30s);
    ASSERT_TRUE(made.ok()) << made.err;
    VmSpec spec;
    spec.name = "web";
    spec.image_path = base_.string();
    spec.network = NoNetwork{};
    prepared_ = backend_.prepare(spec);
  }

  // The overlay's virtual size, as qemu-img reads it.
  std::uint64_t disk_bytes() const {
    using namespace std::chrono_literals;
    auto out = os::run_process({"qemu-img", "info", "--output=json", QemuVm(prepared_).overlay_path}, 30s);
    EXPECT_TRUE(out.ok()) << out.err;
    return nlohmann::json::parse(out.out).at("virtual-size").get<std::uint64_t>();
  }

  vmctl::test::TempDir dir_;
  std::filesystem::path base_ = dir_.path() / "base.qcow2";
  std::shared_ptr<vmctl::test::FakeHost> host_;
  QemuBackend backend_;
  VmHandle prepared_;
};

}  // namespace vm_manager::qemu

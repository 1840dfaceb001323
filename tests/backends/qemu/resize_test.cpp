// QemuBackend::resize on a prepared VM whose overlay the real qemu-img made
// and grows (a FakeHost forwards qemu-img and records its argv). A running
// QEMU is a simulated process here; tests/vmctl/resize_qemu_cli_test.cpp
// resizes a real tiny guest.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backends/qemu/fake_host.hpp"
#include "backends/qemu/prepared_vm.hpp"
#include "backends/qemu/qemu_backend.hpp"
#include "backends/qemu/qemu_vm.hpp"
#include "os/process.hpp"
#include "support/error_from.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vmctl::test::error_from;
using vmctl::test::FakeHost;
using vmctl::test::TempDir;

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

class QemuResizeTest : public PreparedQemuVmTest {
 protected:
  std::size_t qemu_img_resizes() const {
    std::size_t n = 0;
    for (const auto& argv : host_->run_argvs()) n += argv.size() > 1 && argv[1] == "resize";
    return n;
  }
};

TEST_F(QemuResizeTest, VcpusAndMemoryAreForTheNextStartAndTheDiskGrows) {
  VmHandle resized = backend_.resize(prepared_, VmResize{2, 256, 3});
  EXPECT_EQ(resized.vcpus, 2u);
  EXPECT_EQ(resized.memory_mb, 256u);
  EXPECT_EQ(resized.disk_gb, 3u);
  EXPECT_EQ(disk_bytes(), 3 * kGiB);
  // The rest of the VM, its backend state among it, is as it was.
  VmHandle expected = prepared_;
  expected.vcpus = 2;
  expected.memory_mb = 256;
  expected.disk_gb = 3;
  EXPECT_EQ(resized, expected);
}

TEST_F(QemuResizeTest, UnsetFieldsStayAndAnUnchangedDiskIsNotTouched) {
  VmHandle resized = backend_.resize(prepared_, VmResize{std::nullopt, 512, 1});
  EXPECT_EQ(resized.vcpus, prepared_.vcpus);
  EXPECT_EQ(resized.memory_mb, 512u);
  EXPECT_EQ(resized.disk_gb, 1u);
  EXPECT_EQ(qemu_img_resizes(), 0u) << "the disk has 1 GB already";
}

TEST_F(QemuResizeTest, AShrinkIsRefusedAndChangesNothing) {
  backend_.resize(prepared_, VmResize{std::nullopt, std::nullopt, 4});
  // The record may say less than the disk has (a disk of the image's size
  // says nothing): the disk itself decides.
  Error e = error_from([&] { backend_.resize(prepared_, VmResize{4, std::nullopt, 2}); });
  EXPECT_EQ(e.code(), errc::resize_shrink);
  EXPECT_EQ(e.message(), "cannot shrink the disk of VM 'web' from 4.0 GB to 2 GB: a disk only grows");
  EXPECT_EQ(e.help(), "give at least 4 GB; for a smaller disk, create the VM again");
  EXPECT_EQ(disk_bytes(), 4 * kGiB);
}

TEST_F(QemuResizeTest, ADiskWithInternalSnapshotsGrows) {
  auto snap = os::run_process({"qemu-img", "snapshot", "-c", "before", QemuVm(prepared_).overlay_path}, 30s);
  ASSERT_TRUE(snap.ok()) << snap.err;
  backend_.resize(prepared_, VmResize{std::nullopt, std::nullopt, 2});
  EXPECT_EQ(disk_bytes(), 2 * kGiB);
}

TEST_F(QemuResizeTest, AQemuThatRunsIsRefused) {
  // A live QEMU that does not answer QMP here (no socket): failed, which
  // is no state to resize in either.
  QemuVm running(prepared_);
  running.pid = 4242;
  running.pid_start_time = 777;
  host_->add_process(4242, 777);
  host_->set_identity(4242, FakeHost::qemu_identity("web", running.work_dir));
  Error e = error_from([&] { backend_.resize(running.handle(), VmResize{2, std::nullopt, 2}); });
  EXPECT_EQ(e.code(), errc::resize_running);
  EXPECT_NE(e.message().find("cannot resize VM 'web': it is "), std::string::npos) << e.message();
  EXPECT_EQ(disk_bytes(), 1 * kGiB);
}

TEST_F(QemuResizeTest, ValuesOutOfRangeAreRefused) {
  EXPECT_EQ(error_from([&] { backend_.resize(prepared_, VmResize{0, std::nullopt, std::nullopt}); }).code(),
            errc::spec_invalid);
  EXPECT_EQ(error_from([&] { backend_.resize(prepared_, VmResize{std::nullopt, 8, std::nullopt}); }).code(),
            errc::spec_invalid);
  EXPECT_EQ(error_from([&] { backend_.resize(prepared_, VmResize{std::nullopt, std::nullopt, 0}); }).code(),
            errc::spec_invalid);
}

TEST_F(QemuResizeTest, AQemuImgFailureIsResizeFailed) {
  host_->on_run({"qemu-img", "resize"}, FakeHost::exit_code(1, "", "qemu-img: No space left on device\nmore"));
  Error e = error_from([&] { backend_.resize(prepared_, VmResize{2, std::nullopt, 5}); });
  EXPECT_EQ(e.code(), errc::resize_failed);
  EXPECT_EQ(e.message(), "qemu-img could not grow the disk of VM 'web' to 5 GB: qemu-img: No space left on device");
}

}  // namespace
}  // namespace vm_manager::qemu

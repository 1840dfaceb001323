// QemuBackend::destroy_remains against a FakeHost: a VM whose record is
// unreadable loses its QEMU only when the pidfile's process provably is it.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "backends/qemu/fake_host.hpp"
#include "backends/qemu/qemu_backend.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vmctl::test::FakeHost;
using vmctl::test::TempDir;

constexpr pid_t kPid = 4242;
constexpr std::uint64_t kStart = 777;


class QemuRemainsTest : public ::testing::Test {
 protected:
  QemuRemainsTest() : host_(std::make_shared<FakeHost>()), backend_(DataDir(dir_.path()), config(), host_) {
    remains_.name = "web";
    remains_.work_dir = DataDir(dir_.path()).vm_dir("web").string();
    fs::create_directories(remains_.work_dir);
    std::ofstream(fs::path(remains_.work_dir) / "qemu.pid") << kPid << "\n";
  }

  static QemuConfig config() {
    QemuConfig c;
    c.kill_grace = 50ms;
    return c;
  }

  TempDir dir_;
  std::shared_ptr<FakeHost> host_;
  QemuBackend backend_;
  VmHandle remains_;
};

TEST_F(QemuRemainsTest, ItsOwnQemuIsKilled) {
  host_->add_process(kPid, kStart);
  host_->set_identity(kPid, FakeHost::qemu_identity("web", remains_.work_dir));
  backend_.destroy_remains(remains_);
  ASSERT_EQ(host_->signal_calls().size(), 1u);
  EXPECT_EQ(host_->signal_calls()[0].signal, SIGKILL);
  EXPECT_EQ(host_->signal_calls()[0].start_time, kStart);
  EXPECT_FALSE(host_->alive(kPid));
}

TEST_F(QemuRemainsTest, AnotherProgramAtThatPidIsLeftAlone) {
  host_->add_process(kPid, kStart);
  host_->set_identity(kPid, {"/usr/bin/sleep", {"sleep", "-name", "guest=web"}});
  backend_.destroy_remains(remains_);
  EXPECT_TRUE(host_->signal_calls().empty());
  EXPECT_TRUE(host_->alive(kPid));
}

TEST_F(QemuRemainsTest, TheQemuOfAnotherVmIsLeftAlone) {
  host_->add_process(kPid, kStart);
  host_->set_identity(kPid, FakeHost::qemu_identity("web2", remains_.work_dir));
  backend_.destroy_remains(remains_);
  EXPECT_TRUE(host_->signal_calls().empty());
  EXPECT_TRUE(host_->alive(kPid));
}

TEST_F(QemuRemainsTest, TheQemuOfASameNamedVmInAnotherDataDirIsLeftAlone) {
  host_->add_process(kPid, kStart);
  host_->set_identity(kPid, FakeHost::qemu_identity("web", "/srv/other-data/vms/web"));
  backend_.destroy_remains(remains_);
  EXPECT_TRUE(host_->signal_calls().empty());
  EXPECT_TRUE(host_->alive(kPid));
}

TEST_F(QemuRemainsTest, AKnownStartTimeThatDiffersMeansAReusedPid) {
  host_->add_process(kPid, kStart + 1000);
  host_->set_identity(kPid, FakeHost::qemu_identity("web", remains_.work_dir));
  // What VmStore::salvage hands over: the backend_state as the file had it.
  remains_.backend_state = BackendState{1, {{"pid", kPid}, {"pid_start_time", kStart}}};
  backend_.destroy_remains(remains_);
  EXPECT_TRUE(host_->signal_calls().empty());
  EXPECT_TRUE(host_->alive(kPid));
}

// A backend_state of the wrong shape proves nothing either way: the pidfile's
// process, checked as always, decides.
TEST_F(QemuRemainsTest, AnUnreadableStateStillKillsItsOwnQemu) {
  host_->add_process(kPid, kStart);
  host_->set_identity(kPid, FakeHost::qemu_identity("web", remains_.work_dir));
  remains_.backend_state = BackendState{1, {{"pid", "not a pid"}, {"pid_start_time", nlohmann::json::array()}}};
  backend_.destroy_remains(remains_);
  ASSERT_EQ(host_->signal_calls().size(), 1u);
  EXPECT_FALSE(host_->alive(kPid));
}

TEST_F(QemuRemainsTest, NoPidfileOrNoProcessIsNothingToDo) {
  backend_.destroy_remains(remains_);  // the pidfile names no live process
  fs::remove(fs::path(remains_.work_dir) / "qemu.pid");
  host_->add_process(kPid, kStart);
  host_->set_identity(kPid, FakeHost::qemu_identity("web", remains_.work_dir));
  backend_.destroy_remains(remains_);
  EXPECT_TRUE(host_->signal_calls().empty());
  EXPECT_TRUE(host_->alive(kPid));
}

TEST_F(QemuRemainsTest, AQemuThatSurvivesSigkillFailsTheDestroy) {
  host_->add_process(kPid, kStart, FakeHost::survives_everything());
  host_->set_identity(kPid, FakeHost::qemu_identity("web", remains_.work_dir));
  try {
    backend_.destroy_remains(remains_);
    FAIL() << "a QEMU that still runs was reported gone";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::vm_stop_failed);
  }
}

}  // namespace
}  // namespace vm_manager::qemu

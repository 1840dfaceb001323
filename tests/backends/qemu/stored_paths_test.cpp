// QemuBackend::check_stored_paths: a record's paths are data. Each one that
// names a place other than the backend's own for the VM makes the record
// corrupt, and destroy removes no socket folder it cannot prove is the VM's.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "backends/qemu/fake_host.hpp"
#include "backends/qemu/qemu_backend.hpp"
#include "backends/qemu/qemu_vm.hpp"
#include "backends/qemu/runtime_paths.hpp"
#include "support/error_from.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;
using vmctl::test::error_from;
using vmctl::test::FakeHost;
using vmctl::test::TempDir;

constexpr const char* kId = "0b5c3f7e-9a1d-4c2b-8e6f-1234567890ab";

class StoredPathsTest : public ::testing::Test {
 protected:
  StoredPathsTest() : backend_(DataDir(dir_.path()), QemuConfig{}, std::make_shared<FakeHost>()) {}

  // A record as prepare() writes one for a data dir with short paths.
  QemuVm as_prepared() const {
    VmHandle shared;
    shared.name = "web";
    shared.id = kId;
    shared.backend = "qemu";
    shared.work_dir = work_dir().string();
    shared.console_log = (work_dir() / "console.log").string();
    shared.seed_iso_path = (work_dir() / "seed.iso").string();
    QemuVm vm(shared);
    vm.overlay_path = (work_dir() / "disk.qcow2").string();
    vm.qmp_socket = (work_dir() / "qmp.sock").string();
    vm.console_socket = (work_dir() / "console.sock").string();
    vm.image_path = "/images/base.qcow2";
    return vm;
  }

  fs::path work_dir() const { return DataDir(dir_.path()).vm_dir("web"); }

  TempDir dir_;
  QemuBackend backend_;
};

TEST_F(StoredPathsTest, TheRecordPrepareWritesPasses) { backend_.check_stored_paths(as_prepared().handle()); }

TEST_F(StoredPathsTest, EachPathPointedElsewhereIsCorrupt) {
  const std::vector<std::pair<std::string, std::function<void(QemuVm&)>>> tampered{
      {"disk", [](QemuVm& vm) { vm.overlay_path = "/etc/shadow"; }},
      {"console log", [](QemuVm& vm) { vm.console_log = "/root/.bashrc"; }},
      {"cloud-init seed", [](QemuVm& vm) { vm.seed_iso_path = "/tmp/seed.iso"; }},
      {"QMP socket", [](QemuVm& vm) { vm.qmp_socket = "/x.sock"; }},
      {"QMP socket", [this](QemuVm& vm) { vm.qmp_socket = (work_dir() / ".." / "other" / "qmp.sock").string(); }},
      {"console socket", [](QemuVm& vm) { vm.console_socket = "/run/decoy/console.sock"; }},
  };
  for (const auto& [what, tamper] : tampered) {
    QemuVm vm = as_prepared();
    tamper(vm);
    Error e = error_from([&] { backend_.check_stored_paths(vm.handle()); });
    EXPECT_EQ(e.code(), errc::store_corrupt) << what;
    EXPECT_NE(e.message().find(what), std::string::npos) << e.message();
    EXPECT_FALSE(e.help().empty());
  }
}

// Sockets of a VM whose work dir path is too long live in a folder named by
// its id under the runtime dir, or under /tmp/vmctl-<uid>: both pass, and
// the two sockets must share it.
TEST_F(StoredPathsTest, TheRuntimeSocketFoldersPassAndMustAgree) {
  QemuVm vm = as_prepared();
  const fs::path tmp_dir = fs::path("/tmp/vmctl-" + std::to_string(::getuid())) / std::string(kId).substr(0, 13);
  vm.qmp_socket = (tmp_dir / "qmp.sock").string();
  vm.console_socket = (tmp_dir / "console.sock").string();
  backend_.check_stored_paths(vm.handle());
  vm.console_socket = (work_dir() / "console.sock").string();
  EXPECT_EQ(error_from([&] { backend_.check_stored_paths(vm.handle()); }).code(), errc::store_corrupt);
}

// destroy_remains gets what salvage read, unchecked: a QMP socket whose
// folder is a decoy outside the data dir must leave that folder alone.
TEST_F(StoredPathsTest, DestroyRemainsLeavesADecoySocketFolderAlone) {
  TempDir decoy_root;
  const fs::path decoy = decoy_root / "decoy";
  fs::create_directories(decoy);
  std::ofstream(decoy / "precious") << "keep me";
  ::chmod(decoy.c_str(), 0700);
  QemuVm vm = as_prepared();
  vm.qmp_socket = (decoy / "qmp.sock").string();
  fs::create_directories(work_dir());
  backend_.destroy_remains(vm.handle());
  EXPECT_TRUE(fs::exists(decoy / "precious"));
}

// What a killed QEMU leaves is unlinked only when it is what QEMU leaves:
// a socket where a socket was, a regular pidfile. Anything else stays.
TEST_F(StoredPathsTest, LeftoversAreRemovedOnlyWhenOfTheirKind) {
  fs::create_directories(work_dir());
  auto listen_at = [](const fs::path& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << path;
    ::close(fd);
  };
  const fs::path qmp = work_dir() / "qmp.sock";
  const fs::path console = work_dir() / "console.sock";
  const fs::path pidfile = work_dir() / "qemu.pid";
  listen_at(qmp);
  listen_at(work_dir() / "vnc.sock");
  std::ofstream(console) << "a regular file where a socket belongs";
  TempDir elsewhere;
  std::ofstream(elsewhere / "decoy") << "keep";
  fs::create_symlink(elsewhere / "decoy", pidfile);
  remove_runtime_leftovers(qmp, console, pidfile);
  EXPECT_FALSE(fs::exists(fs::symlink_status(qmp)));
  EXPECT_FALSE(fs::exists(fs::symlink_status(work_dir() / "vnc.sock")));
  EXPECT_TRUE(fs::exists(console));
  EXPECT_TRUE(fs::is_symlink(pidfile));
  EXPECT_TRUE(fs::exists(elsewhere / "decoy"));
  fs::remove(pidfile);
  std::ofstream(pidfile) << "4242\n";
  remove_runtime_leftovers(qmp, console, pidfile);
  EXPECT_FALSE(fs::exists(pidfile));
}

}  // namespace
}  // namespace vm_manager::qemu

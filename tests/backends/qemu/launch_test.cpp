// QemuBackend::start against a FakeHost, up to the launch: QEMU gets its logs
// as file descriptors vmctl opened, and a log swapped for a symlink stops the
// start before anything runs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "backends/qemu/command_line.hpp"
#include "backends/qemu/decoy.hpp"
#include "backends/qemu/fake_host.hpp"
#include "backends/qemu/qemu_backend.hpp"
#include "os/unique_fd.hpp"
#include "support/error_from.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;
using vmctl::test::Decoy;
using vmctl::test::FakeHost;
using vmctl::test::TempDir;

std::string content_of(const fs::path& file) {
  std::ifstream in(file);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

class QemuLaunchTest : public ::testing::Test {
 protected:
  QemuLaunchTest() : host_(std::make_shared<FakeHost>()), backend_(DataDir(dir_.path()), QemuConfig{}, host_) {
    handle_.id = "3f2a9c1e-1111-4222-8333-444455556666";
    handle_.name = "web";
    handle_.backend = std::string("qemu");
    work_dir_ = DataDir(dir_.path()).vm_dir("web");
    fs::create_directories(work_dir_);
    handle_.work_dir = work_dir_.string();
    handle_.overlay_path = (work_dir_ / "disk.qcow2").string();
    handle_.console_log = (work_dir_ / "console.log").string();
    handle_.console_socket = (work_dir_ / "console.sock").string();
    handle_.qmp_socket = (work_dir_ / "qmp.sock").string();
    handle_.network = NoNetwork{};
    handle_.accel = Accel::tcg;
    handle_.mac = "02:a1:b2:c3:d4:e5";
  }

  // start(), which must fail; its error.
  Error start_error() {
    try {
      backend_.start(handle_.handle());
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "start succeeded";
    return Error(errc::vm_start_failed, "", "");
  }

  bool qemu_ran() const {
    for (const auto& run : host_->runs()) {
      if (run.argv.at(0) == "qemu-system-x86_64") return true;
    }
    return false;
  }

  TempDir dir_;
  TempDir elsewhere_;
  std::shared_ptr<FakeHost> host_;
  QemuBackend backend_;
  QemuVm handle_;
  fs::path work_dir_;
};

TEST_F(QemuLaunchTest, QemuWritesItsLogsThroughFdsVmctlOpened) {
  std::ofstream(work_dir_ / "qemu.log") << "an earlier run\n";
  // What a QEMU that fails after opening its console does: writes through
  // the fds it was given, at the numbers the command line names.
  host_->on_run({"qemu-system-x86_64"}, [](const os::ProcessSpec& spec) {
    EXPECT_EQ(spec.child_fds.size(), 2u);
    std::string console = "SeaBIOS\n";
    std::string error = "qemu-system-x86_64: cannot boot: no disk\n";
    EXPECT_EQ(::write(spec.child_fds.at(kConsoleLogFd), console.data(), console.size()), ssize_t(console.size()));
    EXPECT_EQ(::write(spec.child_fds.at(2), error.data(), error.size()), ssize_t(error.size()));
    return FakeHost::exit_code(1);
  });
  Error e = start_error();
  EXPECT_EQ(e.code(), errc::vm_start_failed);
  // Only this run's complaint is quoted.
  EXPECT_NE(e.message().find("cannot boot: no disk"), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find("an earlier run"), std::string::npos) << e.message();
  EXPECT_EQ(content_of(work_dir_ / "console.log"), "SeaBIOS\n");
  EXPECT_EQ(content_of(work_dir_ / "qemu.log"), "an earlier run\nqemu-system-x86_64: cannot boot: no disk\n");
  EXPECT_EQ(fs::status(work_dir_ / "console.log").permissions(), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(work_dir_ / "qemu.log").permissions(), fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(QemuLaunchTest, ASymlinkedConsoleLogStopsTheStartAndItsTargetIsUntouched) {
  Decoy decoy(elsewhere_ / "decoy");
  fs::create_symlink(decoy.path(), work_dir_ / "console.log");
  Error e = start_error();
  EXPECT_EQ(e.code(), errc::vm_unsafe_log);
  EXPECT_NE(e.message().find("console.log"), std::string::npos) << e.message();
  EXPECT_FALSE(qemu_ran());
  EXPECT_TRUE(decoy.untouched());
}

TEST_F(QemuLaunchTest, ASymlinkedQemuLogStopsTheStartAndItsTargetIsUntouched) {
  Decoy decoy(elsewhere_ / "decoy");
  fs::create_symlink(decoy.path(), work_dir_ / "qemu.log");
  Error e = start_error();
  EXPECT_EQ(e.code(), errc::vm_unsafe_log);
  EXPECT_NE(e.message().find("qemu.log"), std::string::npos) << e.message();
  EXPECT_FALSE(qemu_ran());
  EXPECT_TRUE(decoy.untouched());
}

// A TCP listener on 127.0.0.1 on a port the kernel picks, held by the test.
struct Listener {
  Listener() : fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(fd.get(), 1), 0);
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
  }
  os::UniqueFd fd;
  std::uint16_t port = 0;
};

TEST_F(QemuLaunchTest, ATakenPublishedPortStopsTheStartBeforeQemuRuns) {
  Listener taken;
  handle_.network = UserNetwork{};
  handle_.port_forwards = {PortForward{"127.0.0.1", taken.port, 80, PortProtocol::tcp}};
  Error e = start_error();
  EXPECT_EQ(e.code(), errc::port_in_use) << e.message();
  EXPECT_NE(e.message().find(std::to_string(taken.port) + "/tcp is in use by"), std::string::npos) << e.message();
  EXPECT_FALSE(qemu_ran());
}

TEST_F(QemuLaunchTest, AForwardAddedToAVmThatDoesNotRunIsOnlyRecorded) {
  handle_.network = UserNetwork{};
  const PortForward web{"127.0.0.1", 18080, 80, PortProtocol::tcp};
  VmHandle added = backend_.add_port_forward(handle_.handle(), web);
  EXPECT_EQ(added.port_forwards, std::vector<PortForward>{web});
  EXPECT_TRUE(host_->runs().empty()) << "nothing runs for a prepared VM";
  EXPECT_TRUE(backend_.remove_port_forward(added, 18080, PortProtocol::tcp).port_forwards.empty());

  Listener taken;
  Error e = vmctl::test::error_from(
      [&] { backend_.add_port_forward(handle_.handle(), PortForward{"127.0.0.1", taken.port, 80}); });
  EXPECT_EQ(e.code(), errc::port_in_use) << e.message();
  handle_.network = NoNetwork{};
  EXPECT_EQ(vmctl::test::error_from([&] { backend_.add_port_forward(handle_.handle(), web); }).code(),
            errc::port_unsupported);
}

}  // namespace
}  // namespace vm_manager::qemu

// start_virtiofsd / stop_virtiofsd with the real host and QEMU 7.2's real
// virtiofsd, without a QEMU: it listens on its socket until stopped. Needs
// root (CI runs as root); an ordinary user's daemons are checked in a child
// that drops to uid 65534.
#include "backends/qemu/virtiofs.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <gtest/gtest.h>

#include "backends/qemu/qemu_backend.hpp"
#include "os/daemon.hpp"
#include "os/files.hpp"
#include "os/unique_fd.hpp"
#include "os/proc.hpp"
#include "support/child.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class VirtiofsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(config_.virtiofsd))
        << config_.virtiofsd << " is missing: install Debian's qemu-system-common (make deps)";
    fs::create_directories(dir_ / "vm");
    fs::create_directories(dir_ / "shared");
    fs::create_directories(dir_ / "comma,and\\backslash");
    vm_.name = "fs";
    vm_.work_dir = (dir_ / "vm").string();
    vm_.qmp_socket = (dir_ / "vm" / "qmp.sock").string();
    vm_.shared_folders = {{(dir_ / "shared").string(), "/srv/shared", false},
                          {(dir_ / "comma,and\\backslash").string(), "/srv/again", true}};
  }

  static bool is_socket(const fs::path& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
  }

  vmctl::test::TempDir dir_;
  QemuConfig config_;
  std::shared_ptr<Host> host_ = make_posix_host();
  QemuVm vm_;
};

TEST_F(VirtiofsTest, OneDaemonPerFolderListensUntilStopped) {
  vm_.virtiofsd = start_virtiofsd(vm_, config_, *host_);
  ASSERT_EQ(vm_.virtiofsd.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(is_socket(virtiofs_socket(vm_, i))) << i;
    EXPECT_EQ(virtiofs_socket(vm_, i), dir_ / "vm" / ("virtiofs-" + std::to_string(i) + ".sock"));
    EXPECT_EQ(fs::status(virtiofs_socket(vm_, i)).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_TRUE(os::is_running_process(static_cast<pid_t>(vm_.virtiofsd[i].pid), vm_.virtiofsd[i].start_time));
  }
  EXPECT_EQ(virtiofs_tag(1), "vmctl:1");

  stop_virtiofsd(vm_, config_, *host_);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_FALSE(os::is_running_process(static_cast<pid_t>(vm_.virtiofsd[i].pid), vm_.virtiofsd[i].start_time));
    EXPECT_FALSE(fs::exists(fs::symlink_status(virtiofs_socket(vm_, i)))) << i;
  }
}

// A record is data: a pid that is not this VM's virtiofsd is left alone.
TEST_F(VirtiofsTest, StopSignalsOnlyTheVmsOwnVirtiofsd) {
  vmctl::test::RunningProcess sleeper({"sleep", "60"});
  auto started = os::read_proc_stat(sleeper.pid());
  ASSERT_TRUE(started);
  vm_.virtiofsd = {{sleeper.pid(), started->start_time}};
  stop_virtiofsd(vm_, config_, *host_);
  EXPECT_TRUE(os::is_running_process(sleeper.pid(), started->start_time));
}

TEST_F(VirtiofsTest, AMissingVirtiofsdIsItsOwnError) {
  config_.virtiofsd = dir_ / "no-virtiofsd";
  try {
    start_virtiofsd(vm_, config_, *host_);
    ADD_FAILURE() << "started without virtiofsd";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::mount_virtiofsd_unavailable);
    EXPECT_NE(e.help().find("qemu-system-common"), std::string::npos) << e.help();
  }
}

TEST_F(VirtiofsTest, AFolderGoneSinceCreateIsRefusedBeforeAnyDaemonStarts) {
  fs::remove_all(dir_ / "shared");
  try {
    start_virtiofsd(vm_, config_, *host_);
    ADD_FAILURE() << "started for a missing folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::mount_host_dir_missing);
  }
  EXPECT_FALSE(fs::exists(fs::symlink_status(virtiofs_socket(vm_, 0))));
}

// The virtiofsd processes serving sockets under `dir`, from /proc.
std::size_t virtiofsd_under(const fs::path& dir) {
  std::size_t found = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator("/proc")) {
    std::string cmdline = os::read_file(entry.path() / "cmdline").value_or("");
    if (cmdline.find("virtiofsd") == 0 || cmdline.find("/virtiofsd") != std::string::npos) {
      if (cmdline.find("--socket-path=" + dir.string()) != std::string::npos) ++found;
    }
  }
  return found;
}

// QEMU failing to start takes the folders' virtiofsd with it.
TEST_F(VirtiofsTest, AFailedQemuStartStopsTheVirtiofsdItStarted) {
  const fs::path image = dir_ / "base.qcow2";
  ASSERT_EQ(vmctl::test::run_process({"qemu-img", "create", "-q", "-f", "qcow2", image.string(), "16M"}).exit_code, 0);
  QemuConfig failing;
  failing.qemu_binary = "/bin/false";
  fs::create_directories(dir_ / "data");
  fs::permissions(dir_ / "data", fs::perms::owner_all, fs::perm_options::replace);
  QemuBackend backend(DataDir(dir_ / "data"), failing, host_);
  VmSpec spec;
  spec.name = "failing";
  spec.image_path = image.string();
  spec.accel = Accel::tcg;
  spec.network = NoNetwork{};
  spec.shared_folders = {{(dir_ / "shared").string(), "/srv/shared", false}};
  VmHandle prepared = backend.prepare(spec);
  try {
    backend.start(prepared);
    ADD_FAILURE() << "/bin/false started a VM";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::vm_start_failed) << e.message();
  }
  EXPECT_EQ(virtiofsd_under(dir_ / "data"), 0u);
  EXPECT_FALSE(fs::exists(fs::symlink_status(virtiofs_socket(QemuVm(prepared), 0))));
  backend.destroy(prepared);
}

// Asks the daemon at `socket` for its vhost-user features, as QEMU does
// first: an answer shows it serves, past its sandbox set-up (done once a
// client connects). 0, or which step failed.
int answers_vhost_user(const fs::path& socket) {
  os::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket.c_str(), sizeof address.sun_path - 1);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) return 1;
  const std::uint32_t get_features[3] = {1, 1, 0};  // request, flags (version 1), payload size
  if (::write(fd.get(), get_features, sizeof get_features) != static_cast<ssize_t>(sizeof get_features)) return 2;
  std::uint32_t reply[5] = {};  // header, then the 64-bit feature mask
  std::size_t got = 0;
  while (got < sizeof reply) {
    ssize_t n = ::read(fd.get(), reinterpret_cast<char*>(reply) + got, sizeof reply - got);
    if (n <= 0) return 3;
    got += static_cast<std::size_t>(n);
  }
  return reply[0] == 1 && reply[2] == 8 ? 0 : 4;
}

// Without root, virtiofsd runs in a user namespace of its own, on a socket
// vmctl listens on, serving both folders (the read-only one through a bind
// mount made inside that namespace), and stops by its pid.
TEST_F(VirtiofsTest, AnOrdinaryUserGetsDaemonsInAUserNamespace) {
  ASSERT_EQ(os::user_namespace_error(), 0) << "user namespaces are disabled on this host";
  for (const fs::path& path : {dir_.path(), dir_ / "vm", dir_ / "shared", dir_ / "comma,and\\backslash"}) {
    ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0) << path;
  }
  vmctl::test::Child child([&] {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 2;
    try {
      vm_.virtiofsd = start_virtiofsd(vm_, config_, *host_);
    } catch (const Error& e) {
      std::fprintf(stderr, "%s\n", e.message().c_str());
      return 3;
    }
    auto serve_both = [&] {
      if (vm_.virtiofsd.size() != 2) return 3;
      for (std::size_t i = 0; i < 2; ++i) {
        struct stat st {};
        if (::lstat(virtiofs_socket(vm_, i).c_str(), &st) != 0 || (st.st_mode & 0777) != 0600) return 4;
        // Checked before the request: virtiofsd serves one vhost-user client
        // and exits once it hangs up, as the test's client does.
        if (!os::is_running_process(static_cast<pid_t>(vm_.virtiofsd[i].pid), vm_.virtiofsd[i].start_time)) return 5;
        if (int step = answers_vhost_user(virtiofs_socket(vm_, i)); step != 0) return 10 + step;
      }
      return 0;
    };
    int served = serve_both();
    stop_virtiofsd(vm_, config_, *host_);  // also when a check failed: no daemon outlives the test
    if (served != 0) return served;
    for (std::size_t i = 0; i < 2; ++i) {
      if (os::is_running_process(static_cast<pid_t>(vm_.virtiofsd[i].pid), vm_.virtiofsd[i].start_time)) return 6;
      if (fs::exists(fs::symlink_status(virtiofs_socket(vm_, i)))) return 7;
    }
    return 0;
  });
  EXPECT_EQ(child.wait(), 0) << "see " << dir_ / "vm" / "virtiofsd.log" << ":\n"
                             << os::read_file(dir_ / "vm" / "virtiofsd.log").value_or("");
}

}  // namespace
}  // namespace vm_manager::qemu

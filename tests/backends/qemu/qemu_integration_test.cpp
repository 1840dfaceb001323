// The QEMU backend against real QEMU (TCG) booting the tiny guest.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "backends/qemu/decoy.hpp"
#include "backends/qemu/qemu_backend.hpp"
#include "backends/qemu/tiny_guest.hpp"
#include "os/proc.hpp"
#include "os/process.hpp"
#include "support/child.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

using namespace std::chrono_literals;
using vmctl::test::tiny_guest_spec;
using vmctl::test::wait_for_text;

// Generous: two cores shared with other tests, and TCG.
constexpr auto kBootTimeout = 120s;

// Connects to a unix socket; the errno on failure, 0 on success. Only
// async-signal-safe calls, so a forked child may use it.
int connect_unix(const char* path, int* fd_out = nullptr) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::size_t n = 0;
  for (; path[n] != '\0' && n + 1 < sizeof addr.sun_path; ++n) addr.sun_path[n] = path[n];
  int err = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
  if (err == 0 && fd_out != nullptr) {
    *fd_out = fd;
  } else {
    ::close(fd);
  }
  return err;
}

// The version line a VNC (RFB) server greets with, or what went wrong.
std::string rfb_greeting(const std::string& path) {
  int fd = -1;
  if (int err = connect_unix(path.c_str(), &fd); err != 0) return std::string("connect: ") + std::strerror(err);
  timeval limit{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  char buf[12];
  std::size_t got = 0;
  while (got < sizeof buf) {
    ssize_t n = ::read(fd, buf + got, sizeof buf - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return std::string(buf, got);
}

// VNC answers its owner on the unix socket and nobody else: the socket's
// dir is private, so another uid cannot even connect.
void expect_vnc_for_owner_only(const QemuVm& vm) {
  ASSERT_EQ(vm.vnc.rfind("unix:", 0), 0u) << vm.vnc;
  const std::string path = vm.vnc.substr(5);
  EXPECT_TRUE(std::filesystem::is_socket(path)) << path;
  EXPECT_EQ(rfb_greeting(path), "RFB 003.008\n");
  struct stat dir {};
  ASSERT_EQ(::stat(std::filesystem::path(path).parent_path().c_str(), &dir), 0);
  EXPECT_EQ(dir.st_mode & 0777, 0700u);
  EXPECT_EQ(dir.st_uid, ::geteuid());
  if (::geteuid() != 0) return;  // only root can become another user; CI runs as root
  vmctl::test::Child other([&path] {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 2;
    return connect_unix(path.c_str()) == EACCES ? 0 : 1;
  });
  EXPECT_EQ(other.wait(), 0) << "uid 65534 could connect to VNC, or could not become that user";
}

class QemuBackendTest : public ::testing::Test {
 protected:
  QemuBackendTest() : backend_(DataDir(dir_.path()), config()) {}

  static QemuConfig config() {
    QemuConfig c;
    c.accel_override = Accel::tcg;
    return c;
  }

  VmHandle prepare(const VmSpec& spec) { return vms_.prepare(spec); }
  VmHandle started(const VmHandle& h) { return vms_.start(h); }
  void remember(const VmHandle& h) { vms_.remember(h); }

  // No QEMU may outlive its test.
  void TearDown() override { vms_.destroy_all(); }

  vmctl::test::TempDir dir_;
  QemuBackend backend_;
  vmctl::test::TrackedVms vms_{backend_};
};

TEST_F(QemuBackendTest, LifecycleWithAcpiShutdown) {
  VmHandle h = prepare(tiny_guest_spec("life"));
  EXPECT_EQ(backend_.state(h), VmState::prepared);
  h = started(h);
  EXPECT_EQ(backend_.state(h), VmState::running);
  ASSERT_TRUE(QemuVm(h).pid && QemuVm(h).pid_start_time);
  ASSERT_TRUE(h.ssh_port);
  expect_vnc_for_owner_only(QemuVm(h));

  // The seed is found (as a virtio disk the cloud kernel can see) and read.
  ASSERT_TRUE(wait_for_text(h.console_log, "TINY-GUEST: ready", kBootTimeout));
  EXPECT_TRUE(wait_for_text(h.console_log, "TINY-GUEST: seed found /dev/vd", 1s));
  EXPECT_TRUE(wait_for_text(h.console_log, "TINY-GUEST: hostname life", 1s));

  h = backend_.suspend(h);
  EXPECT_EQ(backend_.state(h), VmState::suspended);
  h = backend_.resume(h);
  EXPECT_EQ(backend_.state(h), VmState::running);

  auto begin = std::chrono::steady_clock::now();
  h = backend_.stop(h, 60s);
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(backend_.state(h), VmState::stopped);
  EXPECT_TRUE(wait_for_text(h.console_log, "TINY-GUEST: powering off", 1s)) << "stopped by ACPI, not a signal";
  EXPECT_LT(took, 30s);
  EXPECT_FALSE(os::is_running_process(static_cast<pid_t>(*QemuVm(h).pid), *QemuVm(h).pid_start_time));
}

TEST_F(QemuBackendTest, StopEscalatesWhenTheGuestIgnoresAcpi) {
  VmHandle h = started(prepare(tiny_guest_spec("deaf", "tiny.ignore_acpi=1")));
  ASSERT_TRUE(wait_for_text(h.console_log, "acpi power button ignored", kBootTimeout));
  auto begin = std::chrono::steady_clock::now();
  h = backend_.stop(h, 2s);
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(backend_.state(h), VmState::stopped);
  EXPECT_GE(took, 2s);
  EXPECT_LT(took, 2s + config().term_grace + config().kill_grace + 60s) << "only a hang takes this long";
}

TEST_F(QemuBackendTest, KilledQemuIsStoppedAndStartsAgain) {
  VmHandle h = started(prepare(tiny_guest_spec("killed")));
  ASSERT_TRUE(QemuVm(h).pid);
  ASSERT_EQ(::kill(static_cast<pid_t>(*QemuVm(h).pid), SIGKILL), 0);
  // QEMU is not our child; until the system reaps it, it is a zombie, which
  // must already count as stopped.
  ASSERT_TRUE(os::wait_for_exit(static_cast<pid_t>(*QemuVm(h).pid), *QemuVm(h).pid_start_time, 10s));
  EXPECT_EQ(backend_.state(h), VmState::stopped);
  VmHandle again = started(h);
  EXPECT_EQ(backend_.state(again), VmState::running);
  EXPECT_NE(QemuVm(again).pid, QemuVm(h).pid);
}

TEST_F(QemuBackendTest, AnUnrelatedProcessOnTheRecordedPidIsNeverSignalled) {
  VmHandle h = started(prepare(tiny_guest_spec("reused")));
  h = backend_.stop(h, 0s);
  remember(h);
  pid_t bystander = ::fork();
  if (bystander == 0) {
    ::pause();
    ::_exit(0);
  }
  // As if the pid had been reused: the handle names the bystander's pid but
  // QEMU's start time.
  QemuVm reused(h);
  reused.pid = bystander;
  VmHandle forged = reused.handle();
  EXPECT_EQ(backend_.state(forged), VmState::stopped);
  backend_.stop(forged, 1s);
  backend_.destroy(forged);
  auto stat = os::read_proc_stat(bystander);
  ASSERT_TRUE(stat);
  EXPECT_NE(stat->state, 'Z') << "the bystander was signalled";
  ::kill(bystander, SIGKILL);
  ::waitpid(bystander, nullptr, 0);
}

// A record forged to name a real process with its real start time: pid and
// start time match, yet it is no QEMU of this VM, so it is never signalled.
TEST_F(QemuBackendTest, AForgedRecordNamingARunningProgramNeverGetsItSignalled) {
  VmHandle h = prepare(tiny_guest_spec("forged"));
  vmctl::test::Child sleeper([] {
    ::execlp("sleep", "sleep", "1000", static_cast<char*>(nullptr));
    return 97;
  });
  std::optional<os::ProcStat> stat;
  // Until the child has exec'd sleep (before that it is a copy of the test);
  // 6000 × 10 ms is only a hang.
  for (int i = 0; i < 6000; ++i) {
    auto identity = os::read_process_identity(sleeper.pid());
    if (identity && std::filesystem::path(identity->executable).filename() == "sleep") break;
    std::this_thread::sleep_for(10ms);
  }
  stat = os::read_proc_stat(sleeper.pid());
  ASSERT_TRUE(stat);
  QemuVm forged(h);
  forged.pid = sleeper.pid();
  forged.pid_start_time = stat->start_time;
  EXPECT_EQ(backend_.state(forged.handle()), VmState::stopped);
  VmHandle after = backend_.stop(forged.handle(), 1s);
  EXPECT_EQ(backend_.state(after), VmState::stopped);
  backend_.destroy(after);
  EXPECT_TRUE(os::is_running_process(sleeper.pid(), stat->start_time)) << "sleep was signalled";
  EXPECT_EQ(std::filesystem::path(os::read_process_identity(sleeper.pid())->executable).filename(), "sleep");
}

// console.log and qemu.log swapped for symlinks to a file outside the data
// dir: the start is refused before QEMU runs, and the file is untouched.
TEST_F(QemuBackendTest, SymlinkedLogsRefuseTheStartAndTheirTargetIsUntouched) {
  vmctl::test::TempDir elsewhere;
  for (const char* log : {"console.log", "qemu.log"}) {
    VmHandle h = prepare(tiny_guest_spec(std::string("link-") + (log[0] == 'c' ? "console" : "qemu")));
    vmctl::test::Decoy decoy(elsewhere / log);
    std::filesystem::path path = std::filesystem::path(h.work_dir) / log;
    std::filesystem::remove(path);
    std::filesystem::create_symlink(decoy.path(), path);
    try {
      started(h);
      ADD_FAILURE() << "started with " << log << " a symlink";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::vm_unsafe_log) << e.message();
    }
    EXPECT_EQ(backend_.state(h), VmState::prepared);
    EXPECT_TRUE(decoy.untouched()) << log;
  }
}

TEST_F(QemuBackendTest, ConcurrentStartsGetDistinctPortsAndDisplays) {
  constexpr int kVms = 8;
  std::vector<VmHandle> prepared;
  for (int i = 0; i < kVms; ++i) {
    VmSpec spec = tiny_guest_spec("par" + std::to_string(i));
    spec.memory_mb = 128;
    prepared.push_back(prepare(spec));
  }
  std::vector<VmHandle> running(kVms);
  std::vector<std::string> errors(kVms);
  std::vector<std::thread> threads;
  for (int i = 0; i < kVms; ++i) {
    threads.emplace_back([&, i] {
      try {
        running[i] = backend_.start(prepared[i]);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::uint16_t> ports;
  std::set<std::string> displays;
  for (int i = 0; i < kVms; ++i) {
    ASSERT_EQ(errors[i], "") << "VM " << i;
    remember(running[i]);
    EXPECT_EQ(backend_.state(running[i]), VmState::running);
    ports.insert(running[i].ssh_port.value_or(0));
    displays.insert(QemuVm(running[i]).vnc);
  }
  EXPECT_EQ(ports.size(), std::size_t{kVms});
  EXPECT_EQ(displays.size(), std::size_t{kVms});
}

// Holds TCP ports on 127.0.0.1 for the life of the object.
class PortHog {
 public:
  explicit PortHog(std::uint16_t first, std::uint16_t last) {
    for (std::uint32_t port = first; port <= last; ++port) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<std::uint16_t>(port));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 1) == 0) {
        fds_.push_back(fd);
      } else {
        ::close(fd);
      }
    }
  }
  ~PortHog() {
    for (int fd : fds_) ::close(fd);
  }

 private:
  std::vector<int> fds_;
};

TEST_F(QemuBackendTest, ATakenPreferredPortMovesToTheNextOne) {
  VmHandle h = prepare(tiny_guest_spec("porty"));
  ASSERT_TRUE(h.ssh_port);
  PortHog hog(*h.ssh_port, *h.ssh_port);
  VmHandle s = started(h);
  ASSERT_TRUE(s.ssh_port);
  EXPECT_NE(*s.ssh_port, *h.ssh_port);
}

TEST_F(QemuBackendTest, AnExhaustedRangeFallsBackToAnyPortReadOverQmp) {
  // A private range, so other tests running at the same time keep theirs.
  QemuConfig c = config();
  c.ssh_port_first = 10200;
  c.ssh_port_last = 10209;
  QemuBackend backend(DataDir(dir_.path()), c);
  PortHog hog(c.ssh_port_first, c.ssh_port_last);
  VmHandle h = backend.prepare(tiny_guest_spec("anyport"));
  vms_.add(h);
  VmHandle s = backend.start(h);
  remember(s);
  ASSERT_TRUE(s.ssh_port);
  EXPECT_TRUE(*s.ssh_port < c.ssh_port_first || *s.ssh_port > c.ssh_port_last) << *s.ssh_port;
  // The forward really listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(*s.ssh_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
}

TEST_F(QemuBackendTest, WithoutUsableKvmAutoFallsBackToTcg) {
  QemuConfig c;  // no override: "auto" probes the device
  c.kvm_device = "/nonexistent/kvm";
  QemuBackend backend(DataDir(dir_.path()), c);
  VmSpec spec = tiny_guest_spec("nokvm");
  spec.accel = Accel::automatic;
  VmHandle h = backend.prepare(spec);
  vms_.add(h);
  VmHandle s = backend.start(h);
  remember(s);
  EXPECT_EQ(backend.state(s), VmState::running);
  EXPECT_EQ(QemuVm(s).accel, Accel::automatic) << "the VM keeps asking for auto";
}

TEST_F(QemuBackendTest, StartFailureQuotesQemu) {
  VmSpec spec = tiny_guest_spec("badmem");
  spec.memory_mb = 16ull * 1024 * 1024;  // 16 TiB: QEMU refuses
  VmHandle h = prepare(spec);
  try {
    backend_.start(h);
    FAIL() << "start should fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::vm_start_failed);
    EXPECT_EQ(e.message().find('\n'), std::string::npos);
    EXPECT_NE(e.message().find("QEMU failed"), std::string::npos) << e.message();
  }
  EXPECT_EQ(backend_.state(h), VmState::prepared);
}

TEST_F(QemuBackendTest, DestroyRemovesEverythingAndIsIdempotent) {
  VmHandle h = started(prepare(tiny_guest_spec("gone")));
  backend_.destroy(h);
  EXPECT_FALSE(std::filesystem::exists(h.work_dir));
  EXPECT_EQ(backend_.state(h), VmState::destroyed);
  EXPECT_FALSE(os::is_running_process(static_cast<pid_t>(*QemuVm(h).pid), *QemuVm(h).pid_start_time));
  backend_.destroy(h);
}

TEST_F(QemuBackendTest, PrepareRefusesASmallerDiskAndKeepsNothing) {
  VmSpec spec = tiny_guest_spec("small");
  spec.disk_gb = 1;
  VmHandle ok = prepare(spec);  // the tiny disk is 64 MiB: growing is fine
  EXPECT_EQ(backend_.state(ok), VmState::prepared);
  VmSpec missing = tiny_guest_spec("missing");
  missing.image_path = "/nonexistent.qcow2";
  EXPECT_THROW(backend_.prepare(missing), Error);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "vms" / "missing"));
}

TEST_F(QemuBackendTest, AQemuThatDoesNotAnswerQmpIsFailedNotRunning) {
  VmHandle h = started(prepare(tiny_guest_spec("mute")));
  // QMP serves one client at a time: while this connection holds the
  // monitor, nobody else gets a greeting.
  int holder = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", QemuVm(h).qmp_socket.c_str());
  ASSERT_EQ(::connect(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  QemuConfig impatient = config();
  impatient.qmp_timeout = 300ms;
  QemuBackend backend(DataDir(dir_.path()), impatient);
  auto begin = std::chrono::steady_clock::now();
  EXPECT_EQ(backend.state(h), VmState::failed);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 60s) << "the greeting wait must be bounded";
  ::close(holder);
  EXPECT_EQ(backend_.state(h), VmState::running) << "once the monitor is free again";
}

TEST_F(QemuBackendTest, UefiBootsThroughOvmfWithItsOwnVars) {
  VmSpec spec = tiny_guest_spec("uefi");
  spec.uefi = true;
  spec.memory_mb = 256;
  VmHandle h = started(prepare(spec));
  // qcow2, so that the VM can hold internal snapshots (snapshots.cpp).
  const std::filesystem::path vars = std::filesystem::path(h.work_dir) / "OVMF_VARS.qcow2";
  const std::filesystem::path raw_vars = std::filesystem::path(h.work_dir) / "OVMF_VARS.fd";
  EXPECT_TRUE(std::filesystem::exists(vars));
  EXPECT_FALSE(std::filesystem::exists(raw_vars));
  EXPECT_EQ(backend_.state(h), VmState::running);
  // OVMF loads the kernel through fw_cfg; the guest's init proves it booted.
  EXPECT_TRUE(wait_for_text(h.console_log, "TINY-GUEST: init started", kBootTimeout));

  // A VM made before snapshots keeps raw vars, and still boots from them.
  h = backend_.stop(h, 0s);
  ASSERT_TRUE(os::run_process({config().qemu_img, "convert", "-f", "qcow2", "-O", "raw", vars.string(), raw_vars.string()},
                              60s)
                  .ok());
  std::filesystem::remove(vars);
  std::filesystem::resize_file(h.console_log, 0);
  h = started(h);
  EXPECT_TRUE(wait_for_text(h.console_log, "TINY-GUEST: init started", kBootTimeout));
}

TEST_F(QemuBackendTest, UefiWithoutFirmwareIsAnErrorNotABiosBoot) {
  QemuConfig c = config();
  c.firmware_dirs = {dir_ / "no-firmware-here"};
  QemuBackend backend(DataDir(dir_.path()), c);
  VmSpec spec = tiny_guest_spec("nofw");
  spec.uefi = true;
  try {
    backend.prepare(spec);
    FAIL() << "prepare should refuse";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::spec_invalid);
    EXPECT_NE(e.message().find("UEFI"), std::string::npos) << e.message();
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "vms" / "nofw"));
}

}  // namespace
}  // namespace vm_manager::qemu

// QemuBackend::stop against a FakeHost: which signals reach which process,
// and what is left behind, without any real QEMU.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/qemu/fake_host.hpp"
#include "backends/qemu/qemu_backend.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using vmctl::test::FakeHost;
using vmctl::test::TempDir;

constexpr pid_t kPid = 4242;
constexpr std::uint64_t kStart = 777;
constexpr auto kGrace = 50ms;
// How long stop may take beyond the waits it is expected to make: only a
// hang takes this long. What stop waited for is read from the FakeHost's
// recorded waits (ended by the exit, or by their timeout), not from the clock.
constexpr auto kSlack = 30s;

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// A unix socket file nobody listens on, as a killed QEMU leaves behind.
void make_stale_socket(const fs::path& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  ::close(fd);
  ASSERT_TRUE(fs::is_socket(path));
}

// A listening unix socket; never accepts on its own.
int listen_on(const fs::path& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 4) != 0) {
    ADD_FAILURE() << "cannot listen on " << path << ": " << std::strerror(errno);
  }
  return fd;
}

// A QEMU's QMP socket, enough for the ACPI shutdown: greeting,
// capabilities, query-status (reporting `status`), cont and
// system_powerdown, which calls `on_powerdown`. Serves one client.
class FakeQmp {
 public:
  FakeQmp(const fs::path& path, std::string status, std::function<void()> on_powerdown)
      : listen_fd_(listen_on(path)), status_(std::move(status)), on_powerdown_(std::move(on_powerdown)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeQmp() {
    stopping_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  FakeQmp(const FakeQmp&) = delete;
  FakeQmp& operator=(const FakeQmp&) = delete;

  std::vector<std::string> commands() {
    std::lock_guard lock(mutex_);
    return commands_;
  }

  // Answers `command` with a QMP error from now on.
  void fail(std::string command) {
    std::lock_guard lock(mutex_);
    failing_ = std::move(command);
  }

 private:
  // Waits up to 5 s (or until the test ends) for `fd` to be readable.
  bool readable(int fd) {
    for (auto deadline = Clock::now() + 5s; Clock::now() < deadline && !stopping_;) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }

  void send(int fd, const json& message) {
    std::string line = message.dump() + "\r\n";
    (void)!::send(fd, line.data(), line.size(), MSG_NOSIGNAL);
  }

  void serve() {
    if (!readable(listen_fd_)) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    send(fd, json::parse(R"({"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""},
                                      "capabilities": ["oob"]}})"));
    std::string buffer;
    while (readable(fd)) {
      char chunk[4096];
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(n));
      for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n')) {
        json request = json::parse(buffer.substr(0, nl), nullptr, false);
        buffer.erase(0, nl + 1);
        std::string command = request.is_object() ? request.value("execute", "") : "";
        {
          std::lock_guard lock(mutex_);
          commands_.push_back(command);
        }
        if (failing(command)) {
          send(fd, {{"error", {{"class", "GenericError"}, {"desc", "Could not set password"}}},
                    {"id", request.value("id", json())}});
          continue;
        }
        json value = json::object();
        if (command == "query-status") {
          value = {{"status", status_}, {"running", status_ == "running"}, {"singlestep", false}};
        }
        if (command == "cont") status_ = "running";
        // Before the reply, so the exit is scheduled when stop starts waiting.
        if (command == "system_powerdown" && on_powerdown_) on_powerdown_();
        send(fd, {{"return", value}, {"id", request.is_object() ? request.value("id", json()) : json()}});
      }
    }
    ::close(fd);
  }

  bool failing(const std::string& command) {
    std::lock_guard lock(mutex_);
    return !failing_.empty() && command == failing_;
  }

  int listen_fd_;
  std::string status_;
  std::function<void()> on_powerdown_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<std::string> commands_;
  std::string failing_;
  std::thread thread_;
};

class QemuStopTest : public ::testing::Test {
 protected:
  QemuStopTest() : host_(std::make_shared<FakeHost>()), backend_(DataDir(dir_.path()), config(), host_) {
    handle_.id = "3f2a9c1e-1111-4222-8333-444455556666";
    handle_.name = "web";
    handle_.backend = std::string("qemu");
    fs::path work_dir = DataDir(dir_.path()).vm_dir("web");
    fs::create_directories(work_dir);
    handle_.work_dir = work_dir.string();
    handle_.overlay_path = (work_dir / "disk.qcow2").string();
    handle_.console_log = (work_dir / "console.log").string();
    handle_.console_socket = (work_dir / "console.sock").string();
    handle_.qmp_socket = (work_dir / "qmp.sock").string();  // nothing listens: ACPI fails at once
    handle_.network = UserNetwork{};
    handle_.mac = "02:a1:b2:c3:d4:e5";
    handle_.pid = kPid;
    handle_.pid_start_time = kStart;
    std::ofstream(work_dir / "qemu.pid") << kPid << "\n";
    host_->set_identity(kPid, FakeHost::qemu_identity("web", work_dir));  // whichever process gets kPid
    std::ofstream(handle_.console_log) << "boot messages\n";
    std::ofstream(handle_.overlay_path) << "disk";
  }

  static QemuConfig config() {
    QemuConfig c;
    c.term_grace = kGrace;
    c.kill_grace = kGrace;
    c.qmp_timeout = 2s;
    return c;
  }

  fs::path work_dir() const { return handle_.work_dir; }

  // True when stop made waits and each ended with the process's exit: it
  // never waited out a timeout after the guest was gone.
  bool every_wait_ended_by_the_exit() const {
    auto waits = host_->waits();
    return !waits.empty() && std::ranges::all_of(waits, [](const FakeHost::WaitCall& w) { return w.exited; });
  }

  // stop(), timed.
  VmHandle stop(std::chrono::milliseconds timeout) {
    auto start = Clock::now();
    VmHandle h = backend_.stop(handle_.handle(), timeout);
    elapsed_ = since(start);
    return h;
  }

  TempDir dir_;
  std::shared_ptr<FakeHost> host_;
  QemuBackend backend_;
  QemuVm handle_;
  std::chrono::milliseconds elapsed_{0};
};

TEST_F(QemuStopTest, AProcessThatExitsOnSigtermGetsOnlySigterm) {
  host_->add_process(kPid, kStart, FakeHost::exits_on(SIGTERM));
  VmHandle h = stop(50ms);
  EXPECT_THAT(host_->signals(), ElementsAre(SIGTERM));
  EXPECT_FALSE(host_->alive(kPid));
  EXPECT_EQ(h, handle_.handle());
  EXPECT_EQ(backend_.state(h), VmState::stopped);
  EXPECT_LT(elapsed_, 50ms + kSlack);
  EXPECT_FALSE(fs::exists(work_dir() / "qemu.pid"));
}

TEST_F(QemuStopTest, AProcessThatIgnoresSigtermGetsSigkillAfterTheGrace) {
  host_->add_process(kPid, kStart, FakeHost::exits_on(SIGKILL));
  VmHandle h = stop(50ms);
  EXPECT_THAT(host_->signals(), ElementsAre(SIGTERM, SIGKILL));
  EXPECT_FALSE(host_->alive(kPid));
  EXPECT_EQ(backend_.state(h), VmState::stopped);
  // SIGKILL came only after term_grace.
  bool waited_grace = false;
  for (const auto& w : host_->waits()) waited_grace |= (w.timeout == kGrace && !w.exited);
  EXPECT_TRUE(waited_grace);
  EXPECT_GE(elapsed_, kGrace);
  EXPECT_LT(elapsed_, 50ms + 2 * kGrace + kSlack);
}

TEST_F(QemuStopTest, SignalsGoOnlyToTheRecordedProcess) {
  host_->add_process(kPid, kStart, FakeHost::exits_on(SIGKILL));
  stop(0ms);
  ASSERT_FALSE(host_->signal_calls().empty());
  for (const auto& s : host_->signal_calls()) {
    EXPECT_EQ(s.pid, kPid);
    EXPECT_EQ(s.start_time, kStart);
  }
  for (const auto& w : host_->waits()) {
    EXPECT_EQ(w.pid, kPid);
    EXPECT_EQ(w.start_time, kStart);
  }
}

TEST_F(QemuStopTest, AReusedPidIsNeverSignalled) {
  // The pid now belongs to another process, started later.
  host_->add_process(kPid, kStart + 1000, FakeHost::ordinary());
  make_stale_socket(handle_.qmp_socket);
  VmHandle h = stop(50ms);
  EXPECT_TRUE(host_->signals().empty());
  for (const auto& s : host_->signal_calls()) EXPECT_NE(s.start_time, kStart + 1000);
  EXPECT_TRUE(host_->alive(kPid)) << "the unrelated process was harmed";
  EXPECT_EQ(backend_.state(h), VmState::stopped);
  EXPECT_FALSE(fs::exists(fs::symlink_status(handle_.qmp_socket)));
  EXPECT_LT(elapsed_, kSlack);
}

// A record forged to name a live process with its real start time: pid and
// start time match, but the process is not this VM's QEMU.
TEST_F(QemuStopTest, AForgedRecordNamingAnotherProgramNeverGetsItSignalled) {
  host_->add_process(kPid, kStart, FakeHost::ordinary());
  host_->set_identity(kPid, {"/usr/bin/sleep", {"sleep", "-name", "guest=web", "1000"}});
  EXPECT_EQ(backend_.state(handle_.handle()), VmState::stopped);
  VmHandle h = stop(50ms);
  backend_.destroy(h);
  EXPECT_TRUE(host_->signal_calls().empty());
  EXPECT_TRUE(host_->alive(kPid)) << "a process that is not the VM's QEMU was harmed";
}

TEST_F(QemuStopTest, AForgedRecordNamingAnotherVmsQemuNeverGetsItSignalled) {
  host_->add_process(kPid, kStart, FakeHost::ordinary());
  host_->set_identity(kPid, FakeHost::qemu_identity("web2", work_dir()));
  EXPECT_EQ(backend_.state(handle_.handle()), VmState::stopped);
  stop(0ms);
  EXPECT_TRUE(host_->signal_calls().empty());
  EXPECT_TRUE(host_->alive(kPid));
}

// The same name in another data dir (root running vmctl on a dir someone
// else can write, whose record names root's own VM's QEMU).
TEST_F(QemuStopTest, AForgedRecordNamingASameNamedVmsQemuElsewhereNeverGetsItSignalled) {
  host_->add_process(kPid, kStart, FakeHost::ordinary());
  host_->set_identity(kPid, FakeHost::qemu_identity("web", "/srv/other-data/vms/web"));
  EXPECT_EQ(backend_.state(handle_.handle()), VmState::stopped);
  stop(0ms);
  EXPECT_TRUE(host_->signal_calls().empty());
  EXPECT_TRUE(host_->alive(kPid));
}

TEST_F(QemuStopTest, TimeoutZeroSkipsTheAcpiRequestAndItsWait) {
  host_->add_process(kPid, kStart, FakeHost::exits_on(SIGTERM));
  int qmp = listen_on(handle_.qmp_socket);  // would answer nothing: a connection would hang the handshake
  VmHandle h = stop(0ms);
  EXPECT_THAT(host_->signals(), ElementsAre(SIGTERM));
  // No wait before SIGTERM: the first Host call that waits comes after it.
  auto events = host_->events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().rfind("signal", 0), 0u) << events.front();
  // Nobody knocked at the QMP socket.
  int client = ::accept4(qmp, nullptr, nullptr, SOCK_CLOEXEC);
  EXPECT_LT(client, 0) << "stop connected to QMP with timeout 0";
  if (client >= 0) ::close(client);
  ::close(qmp);
  EXPECT_LT(elapsed_, kSlack);
  EXPECT_EQ(backend_.state(h), VmState::stopped);
}

TEST_F(QemuStopTest, AProcessThatSurvivesSigkillIsStopFailed) {
  host_->add_process(kPid, kStart, FakeHost::survives_everything());
  auto start = Clock::now();
  try {
    backend_.stop(handle_.handle(), 50ms);
    FAIL() << "stop returned while QEMU still runs";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::vm_stop_failed);
    EXPECT_THAT(e.message(), HasSubstr(std::to_string(kPid)));
    EXPECT_THAT(e.message(), HasSubstr("web"));
    EXPECT_EQ(e.message().find('\n'), std::string::npos);
    EXPECT_FALSE(e.help().empty());
  }
  EXPECT_LT(since(start), 50ms + 2 * kGrace + kSlack);
  EXPECT_THAT(host_->signals(), ElementsAre(SIGTERM, SIGKILL));
  EXPECT_TRUE(host_->alive(kPid));
  // QEMU still runs: its pidfile stays.
  EXPECT_TRUE(fs::exists(work_dir() / "qemu.pid"));
}

TEST_F(QemuStopTest, StoppingAStoppedVmIsANoOpThatRemovesStaleFiles) {
  // The process is gone (killed, crashed): no process in the fake at all.
  make_stale_socket(handle_.qmp_socket);
  make_stale_socket(handle_.console_socket);
  VmHandle h = stop(5s);
  EXPECT_EQ(h, handle_.handle());
  EXPECT_TRUE(host_->signal_calls().empty());
  EXPECT_TRUE(host_->waits().empty());
  EXPECT_TRUE(host_->runs().empty());
  EXPECT_FALSE(fs::exists(fs::symlink_status(handle_.qmp_socket)));
  EXPECT_FALSE(fs::exists(fs::symlink_status(handle_.console_socket)));
  EXPECT_FALSE(fs::exists(work_dir() / "qemu.pid"));
  // Everything else stays.
  EXPECT_TRUE(fs::exists(handle_.console_log));
  EXPECT_TRUE(fs::exists(handle_.overlay_path));
  EXPECT_LT(elapsed_, kSlack);
  EXPECT_EQ(backend_.state(h), VmState::stopped);
}

TEST_F(QemuStopTest, StoppingANeverStartedVmIsANoOp) {
  handle_.pid.reset();
  handle_.pid_start_time.reset();
  VmHandle h = stop(5s);
  EXPECT_EQ(h, handle_.handle());
  EXPECT_TRUE(host_->signal_calls().empty());
  EXPECT_TRUE(host_->events().empty());
  EXPECT_LT(elapsed_, kSlack);
  EXPECT_EQ(backend_.state(h), VmState::prepared);
}

TEST_F(QemuStopTest, ADestroyedVmIsInvalidState) {
  host_->add_process(kPid, kStart, FakeHost::ordinary());
  fs::remove_all(work_dir());
  try {
    backend_.stop(handle_.handle(), 50ms);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::vm_invalid_state);
    EXPECT_THAT(e.message(), HasSubstr("web"));
  }
  EXPECT_TRUE(host_->signal_calls().empty());

  handle_.work_dir.clear();
  try {
    backend_.stop(handle_.handle(), 50ms);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::vm_invalid_state);
  }
  EXPECT_TRUE(host_->alive(kPid));
}

TEST_F(QemuStopTest, AGuestThatPowersOffOnAcpiGetsNoSignal) {
  host_->add_process(kPid, kStart, FakeHost::ordinary());
  FakeQmp qmp(handle_.qmp_socket, "running", [this] { host_->exit_after(kPid, 30ms); });
  stop(10s);
  EXPECT_TRUE(host_->signal_calls().empty());
  EXPECT_THAT(qmp.commands(), ElementsAre("qmp_capabilities", "query-status", "system_powerdown"));
  EXPECT_FALSE(host_->alive(kPid));
  EXPECT_TRUE(every_wait_ended_by_the_exit()) << "stop waited past the guest's exit";
}

TEST_F(QemuStopTest, APausedGuestIsResumedToSeeThePowerButton) {
  host_->add_process(kPid, kStart, FakeHost::ordinary());
  FakeQmp qmp(handle_.qmp_socket, "paused", [this] { host_->exit_after(kPid, 10ms); });
  stop(10s);
  EXPECT_THAT(qmp.commands(), ElementsAre("qmp_capabilities", "query-status", "cont", "system_powerdown"));
  EXPECT_TRUE(host_->signal_calls().empty());
  EXPECT_TRUE(every_wait_ended_by_the_exit()) << "stop waited past the guest's exit";
}

TEST_F(QemuStopTest, AGuestIgnoringAcpiIsTerminatedAfterTheTimeout) {
  host_->add_process(kPid, kStart, FakeHost::exits_on(SIGTERM));
  FakeQmp qmp(handle_.qmp_socket, "running", nullptr);
  stop(200ms);
  EXPECT_THAT(qmp.commands(), Contains("system_powerdown"));
  EXPECT_THAT(host_->signals(), ElementsAre(SIGTERM));
  // SIGTERM only after waiting out the rest of the timeout for the guest.
  auto waits = host_->waits();
  ASSERT_FALSE(waits.empty());
  EXPECT_FALSE(waits.front().exited);
  EXPECT_LE(waits.front().timeout, 200ms);
  EXPECT_GE(waits.front().timeout, 100ms);
  EXPECT_EQ(host_->events().front().rfind("wait", 0), 0u) << host_->events().front();
  EXPECT_GE(elapsed_, 150ms);
  EXPECT_LT(elapsed_, 200ms + kSlack);
}

TEST_F(QemuStopTest, AGuestAlreadyShuttingDownGetsNoSignal) {
  host_->add_process(kPid, kStart, FakeHost::ordinary());
  host_->exit_after(kPid, 40ms);
  FakeQmp qmp(handle_.qmp_socket, "running", nullptr);
  stop(10s);
  EXPECT_TRUE(host_->signals().empty());
  EXPECT_FALSE(host_->alive(kPid));
  EXPECT_TRUE(every_wait_ended_by_the_exit()) << "stop waited past the guest's exit";
}

// When the power-button request fails (QMP socket gone or refusing), there
// is no ACPI shutdown to wait for: stop escalates at once.
TEST_F(QemuStopTest, AFailedAcpiRequestEscalatesAtOnce) {
  host_->add_process(kPid, kStart, FakeHost::exits_on(SIGTERM));
  make_stale_socket(handle_.qmp_socket);  // connection refused
  stop(3s);
  EXPECT_THAT(host_->signals(), ElementsAre(SIGTERM));
  // No wait for an ACPI shutdown: the first Host call that waits comes after SIGTERM.
  auto events = host_->events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().rfind("signal", 0), 0u) << events.front();
}

TEST_F(QemuStopTest, ATapVmDeletesItsTapOnceQemuIsGone) {
  handle_.network = TapNetwork{"br0"};
  host_->add_process(kPid, kStart, FakeHost::exits_on(SIGTERM));
  host_->on_run({"ip", "link", "show", "dev"}, FakeHost::success());
  host_->on_run({"ip", "link", "delete", "dev"}, FakeHost::success());
  stop(0ms);
  EXPECT_THAT(host_->run_argvs(),
              ElementsAre(std::vector<std::string>{"ip", "link", "show", "dev", "vmt3f2a9c1e"},
                          std::vector<std::string>{"ip", "link", "delete", "dev", "vmt3f2a9c1e"}));
  auto events = host_->events();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2].rfind("run ip link show", 0), 0u);
  EXPECT_EQ(events.back().rfind("run ip link delete", 0), 0u);
}

TEST_F(QemuStopTest, AStoppedTapVmStillCleansUpALeftoverTap) {
  handle_.network = TapNetwork{"br0"};
  host_->on_run({"ip", "link", "show", "dev"}, FakeHost::success());
  host_->on_run({"ip", "link", "delete", "dev"}, FakeHost::success());
  stop(0ms);
  EXPECT_THAT(host_->run_argvs(), Contains(std::vector<std::string>{"ip", "link", "delete", "dev", "vmt3f2a9c1e"}));
  EXPECT_TRUE(host_->signal_calls().empty());
}

TEST_F(QemuStopTest, NoTapLeftMeansNothingToDelete) {
  handle_.network = TapNetwork{"br0"};
  host_->on_run({"ip", "link", "show", "dev"}, FakeHost::exit_code(1, "", "Device \"vmt3f2a9c1e\" does not exist.\n"));
  stop(0ms);
  EXPECT_THAT(host_->run_argvs(), ElementsAre(std::vector<std::string>{"ip", "link", "show", "dev", "vmt3f2a9c1e"}));
}

// A TCP VNC is never left listening without a password: when QEMU does
// not take the one start sets, start fails and QEMU is killed.
TEST_F(QemuStopTest, AStartWhoseVncPasswordIsRefusedKillsQemu) {
  constexpr pid_t kNewPid = 4343;
  std::optional<FakeQmp> qmp;
  handle_.vnc_mode = VncMode::tcp;
  handle_.accel = Accel::tcg;
  host_->on_run({QemuConfig{}.qemu_binary}, [&](const os::ProcessSpec&) {
    // As QEMU does once it daemonizes: the pidfile, a live process and
    // QMP listening (start removed the old socket just before).
    std::ofstream(work_dir() / "qemu.pid", std::ios::trunc) << kNewPid << "\n";
    host_->add_process(kNewPid, kStart + 1, FakeHost::exits_on(SIGKILL));
    host_->set_identity(kNewPid, FakeHost::qemu_identity("web", work_dir()));
    qmp.emplace(handle_.qmp_socket, "running", nullptr);
    qmp->fail("change-vnc-password");
    return FakeHost::success();
  });
  try {
    backend_.start(handle_.handle());
    FAIL() << "start should fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::qmp_command_failed) << e.message();
  }
  EXPECT_THAT(host_->signals(), Contains(SIGKILL));
  ASSERT_TRUE(qmp.has_value());
  EXPECT_THAT(qmp->commands(), Contains("change-vnc-password"));
}

}  // namespace
}  // namespace vm_manager::qemu

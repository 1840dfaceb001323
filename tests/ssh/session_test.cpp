// ssh::Session and wait_for_banner against a real sshd on 127.0.0.1
// (tests/support/sshd.hpp) and against hand-made TCP listeners.
#include "ssh/session.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/error_from.hpp"
#include "support/sshd.hpp"
#include "vm_manager/error.hpp"

namespace {

namespace fs = std::filesystem;
namespace ssh = vm_manager::ssh;
using vmctl::test::expect_error;
using namespace std::chrono_literals;
using ssh::Clock;
using ::testing::HasSubstr;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void write_all(const fs::path& path, const std::string& data, mode_t mode) {
  std::ofstream(path, std::ios::binary) << data;
  fs::permissions(path, static_cast<fs::perms>(mode));
}

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string random_bytes(std::size_t size) {
  std::mt19937_64 generator(42);
  std::string data(size, '\0');
  for (auto& c : data) c = static_cast<char>(generator());
  return data;
}

// How a FakeServer answers once it starts answering.
struct Answering {
  bool greet_held = false;          // greet the connections it already holds
  bool greet_new = true;            // greet new connections (else hang up on them)
  bool stall_after_banner = false;  // say nothing after the banner (else hang up)
};

// A TCP listener on 127.0.0.1 that accepts and keeps connections silent,
// like QEMU's user networking before the guest's sshd runs, until
// start_answering(): then it greets with a banner as `answering` says. A
// stall after the banner is like a guest that hangs during the key exchange.
class FakeServer {
 public:
  explicit FakeServer(Answering answering) : answering_how_(answering) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(listener_, 64), 0);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    for (int fd : held_) ::close(fd);
    for (int fd : stalled_) ::close(fd);
    ::close(listener_);
  }

  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }
  // Waits until `count` connections were accepted; false after `limit` (a hang).
  bool wait_for_accepted(int count, std::chrono::seconds limit = 60s) {
    std::unique_lock lock(mutex_);
    return accepted_changed_.wait_for(lock, limit, [&] { return accepted_ >= count; });
  }
  void start_answering() {
    accepted_before_answering_ = accepted_.load();
    answering_ = true;
  }
  int accepted_before_answering() const { return accepted_before_answering_; }

 private:
  void loop() {
    while (!stop_) {
      pollfd fd{listener_, POLLIN, 0};
      ::poll(&fd, 1, 2);
      if (answering_ && answering_how_.greet_held) {
        for (int held : held_) greet(held);
        held_.clear();
      }
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      const bool answering = answering_;  // before counting: a waiter may start answering on the count
      {
        std::lock_guard lock(mutex_);
        ++accepted_;
      }
      accepted_changed_.notify_all();
      if (answering && answering_how_.greet_new) {
        greet(client);
      } else if (answering) {
        ::close(client);
      } else {
        held_.push_back(client);
      }
    }
  }
  void greet(int fd) {
    const char banner[] = "SSH-2.0-FakeServer\r\n";
    (void)::send(fd, banner, sizeof banner - 1, MSG_NOSIGNAL);
    if (answering_how_.stall_after_banner) {
      stalled_.push_back(fd);
    } else {
      ::close(fd);
    }
  }

  Answering answering_how_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> answering_{false};
  std::mutex mutex_;
  std::condition_variable accepted_changed_;
  std::atomic<int> accepted_{0};
  std::atomic<int> accepted_before_answering_{0};
  std::vector<int> held_;
  std::vector<int> stalled_;
  std::thread thread_;
};

class SessionTest : public ::testing::Test {
 protected:
  ssh::Session connect(std::chrono::milliseconds timeout = 20s) {
    ssh::ConnectOptions options;
    options.timeout = timeout;
    return ssh::Session::connect(sshd.target(), options);
  }
  vmctl::test::Sshd sshd;
};

TEST_F(SessionTest, RunsCommandsAndReportsExitStatuses) {
  auto session = connect();
  auto hello = session.exec_capture("echo hello; echo world >&2");
  EXPECT_EQ(hello.exit_status, 0);
  EXPECT_EQ(hello.out, "hello\n");
  EXPECT_EQ(hello.err, "world\n");
  EXPECT_EQ(session.exec_capture("exit 3").exit_status, 3);
  EXPECT_EQ(session.exec_capture("kill -KILL $$").exit_status, 128 + 9);
  EXPECT_EQ(session.exec_capture("kill -TERM $$").exit_status, 128 + 15);
  EXPECT_EQ(session.target().port, sshd.port());
}

TEST_F(SessionTest, BigInterleavedStdoutAndStderrDoNotDeadlock) {
  auto session = connect();
  // 2 × 1.6 MB, alternating lines: whichever stream we neglected would fill
  // the shared channel window and stall the other.
  auto result = session.exec_capture(
      "i=0; while [ $i -lt 2000 ]; do printf '%0799d\\n' $i; printf '%0799d\\n' $i >&2; i=$((i+1)); done");
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_EQ(result.out.size(), 1'600'000u);
  EXPECT_EQ(result.err.size(), 1'600'000u);
  EXPECT_EQ(result.out, result.err);
  EXPECT_EQ(result.out.substr(1600000 - 800), fmt::format("{:0799}\n", 1999));
}

TEST_F(SessionTest, SendsStdinThenEof) {
  auto session = connect();
  // cat echoes while we still write: stdin must not wait for stdout to drain.
  const std::string input = random_bytes(3 * 1024 * 1024);
  std::string out;
  std::string err;
  const int status = session.exec(
      "cat", [&](std::string_view chunk) { out.append(chunk); }, [&](std::string_view chunk) { err.append(chunk); },
      input);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out.size(), input.size());
  EXPECT_TRUE(out == input);
  EXPECT_EQ(err, "");

  std::string count;
  EXPECT_EQ(session.exec("wc -c", [&](std::string_view c) { count.append(c); }, nullptr, std::string("abc")), 0);
  EXPECT_EQ(count, "3\n");
  // No stdin at all: the command sees EOF at once instead of hanging.
  EXPECT_EQ(session.exec_capture("cat", 10s).out, "");
  // A command that ignores its input still finishes.
  EXPECT_EQ(session.exec("exit 5", nullptr, nullptr, random_bytes(1024 * 1024)), 5);
}

// The command would run for minutes: an error well before that is the
// timeout's (how soon after 200 ms is timing, not asserted).
TEST_F(SessionTest, ExecTimesOut) {
  auto session = connect();
  const auto begin = Clock::now();
  expect_error(vm_manager::errc::ssh_exec_failed, [&] { session.exec_capture("sleep 300", 200ms); });
  EXPECT_GE(Clock::now() - begin, 200ms);
  EXPECT_LT(Clock::now() - begin, 60s);
  EXPECT_EQ(session.exec_capture("echo still usable").out, "still usable\n");
}

// A hung guest behind QEMU's user networking keeps its TCP connection open
// (QEMU answers for it): frozen sshd processes play that here. Keepalives
// notice keepalive_interval * (count_max + 1) after the last packet heard;
// the command would run for minutes, so any error well before that is
// theirs (how soon after 800 ms is timing, not asserted).
TEST_F(SessionTest, AServerThatStopsAnsweringIsNoticedByKeepalives) {
  ssh::ConnectOptions options;
  options.timeout = 20s;
  options.keepalive_interval = 200ms;
  options.keepalive_count_max = 3;
  auto session = ssh::Session::connect(sshd.target(), options);
  // A quiet command on a live server: the probes are answered.
  EXPECT_EQ(session.exec_capture("sleep 1.2").exit_status, 0);

  std::vector<pid_t> frozen;
  std::jthread freezer([&] {
    std::this_thread::sleep_for(300ms);  // any moment will do: the freeze may come before or during the command
    frozen = sshd.connection_processes();
    for (pid_t pid : frozen) ::kill(pid, SIGSTOP);
  });
  const auto begin = Clock::now();
  auto error = expect_error(vm_manager::errc::ssh_exec_failed, [&] { session.exec_capture("sleep 300"); });
  const auto took = Clock::now() - begin;
  freezer.join();
  for (pid_t pid : frozen) ::kill(pid, SIGKILL);  // the frozen sshd processes and their sleep
  ASSERT_FALSE(frozen.empty());
  EXPECT_GE(took, 4 * 200ms);
  EXPECT_LT(took, 120s);
  EXPECT_THAT(error.message(), HasSubstr("stopped answering"));
}

TEST_F(SessionTest, RefusesAnotherHostKeyWithoutRetrying) {
  auto target = sshd.target();
  const auto other = vm_manager::ssh::generate_ed25519("impostor").public_key;
  target.host_key = other;
  ssh::ConnectOptions options;
  options.timeout = 20s;
  options.timeout = 120s;
  const auto begin = Clock::now();
  auto error = expect_error(vm_manager::errc::ssh_host_key_mismatch, [&] { ssh::Session::connect(target, options); });
  EXPECT_LT(Clock::now() - begin, 60s) << "retried until the deadline";
  EXPECT_THAT(error.message(), HasSubstr(ssh::fingerprint_sha256(other)));
  EXPECT_THAT(error.message(), HasSubstr(ssh::fingerprint_sha256(sshd.host_key())));
}

TEST_F(SessionTest, WrongIdentityIsAnAuthFailure) {
  auto target = sshd.target();
  target.identity_file = sshd.scratch() / "other_key";
  vm_manager::ssh::generate_key_files(target.identity_file);
  ssh::ConnectOptions options;
  options.timeout = 20s;
  auto error = expect_error(vm_manager::errc::ssh_auth_failed, [&] { ssh::Session::connect(target, options); });
  EXPECT_THAT(error.message(), HasSubstr("other_key"));
}

TEST_F(SessionTest, UnreadableIdentityIsABadKey) {
  auto target = sshd.target();
  target.identity_file = sshd.scratch() / "missing_key";
  expect_error(vm_manager::errc::ssh_bad_key, [&] { ssh::Session::connect(target); });
}

TEST(SessionTimeout, NothingListeningTimesOutAtTheDeadline) {
  ssh::Target target{"127.0.0.1", vmctl::test::free_loopback_port(), "root", "/nonexistent", {}, std::nullopt};
  vmctl::test::TempDir dir;
  target.identity_file = dir / "id";
  vm_manager::ssh::generate_key_files(target.identity_file);
  ssh::ConnectOptions options;
  options.timeout = 700ms;
  const auto begin = Clock::now();
  auto error = expect_error(vm_manager::errc::ssh_timeout, [&] { ssh::Session::connect(target, options); });
  const auto took = Clock::now() - begin;
  EXPECT_GE(took, 700ms);
  EXPECT_LT(took, 30s) << "our timeout, not the default (60 s)";
  EXPECT_THAT(error.message(), HasSubstr(std::to_string(target.port)));
  EXPECT_THAT(error.message(), HasSubstr("refused"));
}

TEST(WaitForBanner, SilentListenerTimesOutAndKeepsProbing) {
  FakeServer server({.greet_held = true});
  const auto begin = Clock::now();
  auto error = expect_error(vm_manager::errc::ssh_timeout, [&] {
    ssh::wait_for_banner("127.0.0.1", server.port(), Clock::now() + 2s, 100ms);
  });
  EXPECT_GE(Clock::now() - begin, 2s);
  EXPECT_LT(Clock::now() - begin, 60s) << "only a hang takes this long";
  EXPECT_THAT(error.message(), HasSubstr("no SSH banner"));
  // Several probes (about one per interval), not a single connection waited
  // on; the server may accept the last of them only now.
  EXPECT_TRUE(server.wait_for_accepted(3)) << server.accepted();
}

TEST(SessionTimeout, SilentListenerIsNotMistakenForSshd) {
  FakeServer server({.greet_held = true});
  vmctl::test::TempDir dir;
  ssh::Target target{"127.0.0.1", server.port(), "root", dir / "id", {}, std::nullopt};
  vm_manager::ssh::generate_key_files(target.identity_file);
  ssh::ConnectOptions options;
  options.timeout = 600ms;
  const auto begin = Clock::now();
  auto error = expect_error(vm_manager::errc::ssh_timeout, [&] { ssh::Session::connect(target, options); });
  EXPECT_LT(Clock::now() - begin, 30s) << "our timeout, not the default (60 s)";
  EXPECT_THAT(error.message(), HasSubstr("no SSH banner"));
}

// The banner arrives, then nothing: each libssh step is bounded by
// step_timeout, and connect() gives up at its deadline.
TEST(SessionTimeout, ServerStallingAfterItsBannerTimesOut) {
  FakeServer server({.stall_after_banner = true});
  server.start_answering();
  vmctl::test::TempDir dir;
  ssh::Target target{"127.0.0.1", server.port(), "root", dir / "id", {}, std::nullopt};
  vm_manager::ssh::generate_key_files(target.identity_file);
  ssh::ConnectOptions options;
  options.timeout = 1500ms;
  options.step_timeout = 300ms;
  const auto begin = Clock::now();
  auto error = expect_error(vm_manager::errc::ssh_timeout, [&] { ssh::Session::connect(target, options); });
  const auto took = Clock::now() - begin;
  EXPECT_GE(took, 1200ms);
  EXPECT_LT(took, 30s) << "our timeout, not the default (60 s)";
  EXPECT_THAT(error.message(), HasSubstr("cannot log in"));
  EXPECT_GE(server.accepted(), 2);  // stalls are retried until the deadline
}

TEST(WaitForBanner, ListenerThatClosesIsNotReady) {
  // A listener that accepts and hangs up at once (QEMU with no guest sshd).
  FakeServer server({});
  auto error = expect_error(vm_manager::errc::ssh_timeout, [&] {
    ssh::wait_for_banner("127.0.0.1", server.port(), Clock::now() + 500ms, 50ms);
  });
  EXPECT_THAT(error.message(), HasSubstr("127.0.0.1"));
}

// The server answers only connections made after it started answering (it
// starts once it holds two silent probes), so wait_for_banner must notice
// through a fresh probe. How soon it notices is timing: make bench measures
// it on a booting guest ("ssh readiness noticed, after sshd").
TEST(WaitForBanner, NoticesANewlyAnsweringServerThroughAFreshProbe) {
  FakeServer server({});
  std::jthread later([&] {
    if (server.wait_for_accepted(2)) server.start_answering();
  });
  ssh::wait_for_banner("127.0.0.1", server.port(), Clock::now() + 60s, 100ms);
  later.join();
  EXPECT_GE(server.accepted_before_answering(), 2);
  EXPECT_GT(server.accepted(), server.accepted_before_answering()) << "the banner came on a probe made later";
}

// Once answering, the server greets only the connections it already held and
// hangs up on new ones: wait_for_banner returns only if it reads the banner
// on a probe it kept open.
TEST(WaitForBanner, NoticesABannerOnAHeldConnection) {
  FakeServer server({.greet_held = true, .greet_new = false});
  std::jthread later([&] {
    if (server.wait_for_accepted(1)) server.start_answering();
  });
  ssh::wait_for_banner("127.0.0.1", server.port(), Clock::now() + 60s, 100ms);
  later.join();
  EXPECT_GE(server.accepted_before_answering(), 1);
}

TEST(SessionRetry, ConnectWaitsForAnSshdThatStartsLater) {
  // The port is known before sshd runs, as with QEMU's host forward.
  vmctl::test::Sshd sshd(false);
  std::jthread later([&] {
    std::this_thread::sleep_for(300ms);
    sshd.start();
  });
  ssh::ConnectOptions options;
  options.timeout = 20s;
  auto session = ssh::Session::connect(sshd.target(), options);
  later.join();
  EXPECT_EQ(session.exec_capture("echo up").out, "up\n");
}

TEST_F(SessionTest, UploadCreatesParentsAndKeepsTheMode) {
  auto session = connect();
  const fs::path local = sshd.scratch() / "local.txt";
  write_all(local, "content\n", 0640);
  const fs::path remote = sshd.scratch() / "remote" / "a" / "b" / "file.txt";
  session.upload(local, remote.string());
  EXPECT_EQ(read_all(remote), "content\n");
  EXPECT_EQ(mode_of(remote), 0640u);

  // An explicit mode wins, also over an existing file's.
  write_all(local, "new\n", 0644);
  session.upload(local, remote.string(), ssh::TransferOptions{0600, true});
  EXPECT_EQ(read_all(remote), "new\n");
  EXPECT_EQ(mode_of(remote), 0600u);

  // Without create_parents a missing folder is an error naming the path.
  const fs::path nowhere = sshd.scratch() / "absent" / "file.txt";
  auto error = expect_error(vm_manager::errc::ssh_sftp_failed, [&] {
    session.upload(local, nowhere.string(), ssh::TransferOptions{std::nullopt, false});
  });
  EXPECT_THAT(error.message(), HasSubstr(nowhere.string()));
}

TEST_F(SessionTest, LargeFilesRoundTripByteExact) {
  auto session = connect();
  const std::string data = random_bytes(5 * 1024 * 1024 + 123);
  const fs::path local = sshd.scratch() / "big.bin";
  write_all(local, data, 0750);
  const std::string remote = (sshd.scratch() / "up" / "big.bin").string();
  session.upload(local, remote);
  const fs::path back = sshd.scratch() / "down" / "x" / "y" / "big.bin";
  session.download(remote, back);
  EXPECT_EQ(fs::file_size(back), data.size());
  EXPECT_TRUE(read_all(back) == data);
  EXPECT_EQ(mode_of(back), 0750u);

  const fs::path other = sshd.scratch() / "down" / "mode.bin";
  session.download(remote, other, ssh::TransferOptions{0604, true});
  EXPECT_EQ(mode_of(other), 0604u);
}

TEST_F(SessionTest, DownloadingAMissingFileNamesIt) {
  auto session = connect();
  const std::string remote = (sshd.scratch() / "no-such-file").string();
  auto error = expect_error(vm_manager::errc::ssh_sftp_failed,
                            [&] { session.download(remote, sshd.scratch() / "out" / "file"); });
  EXPECT_THAT(error.message(), HasSubstr(remote));
  EXPECT_THAT(error.message(), HasSubstr("no such file"));
  EXPECT_FALSE(fs::exists(sshd.scratch() / "out" / "file"));
}

}  // namespace

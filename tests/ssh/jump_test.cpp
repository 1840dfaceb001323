// ssh::Session through a jump host: two real sshd on 127.0.0.1
// (tests/support/sshd.hpp), one the jump host, one playing the guest. The
// guest's session runs over a direct-tcpip channel of the jump's session.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "os/unique_fd.hpp"
#include "ssh/keys.hpp"
#include "ssh/session.hpp"
#include "support/error_from.hpp"
#include "support/sshd.hpp"
#include "vm_manager/error.hpp"

namespace {

namespace fs = std::filesystem;
namespace ssh = vm_manager::ssh;
namespace errc = vm_manager::errc;
using namespace std::chrono_literals;
using ssh::Clock;
using ::testing::HasSubstr;
using vmctl::test::expect_error;

std::string random_bytes(std::size_t size) {
  std::mt19937_64 generator(7);
  std::string data(size, '\0');
  for (auto& c : data) c = static_cast<char>(generator());
  return data;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::size_t entries_in(const char* folder) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(folder)) ++count;
  return count;
}

// A listener that never accepts: the kernel completes connections into its
// backlog, and nothing ever greets (a host whose sshd hangs).
class SilentListener {
 public:
  SilentListener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(fd_.get(), 64), 0);
    ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  std::uint16_t port() const { return port_; }

 private:
  vm_manager::os::UniqueFd fd_;
  std::uint16_t port_ = 0;
};

class JumpTest : public ::testing::Test {
 protected:
  JumpTest() {
    ssh::write_known_hosts(known_hosts(), "127.0.0.1", jump_sshd.port(), jump_sshd.host_key());
  }

  fs::path known_hosts() const { return jump_sshd.scratch() / "known_hosts"; }

  vm_manager::SshJumpHost jump() const {
    return {jump_sshd.user(), "127.0.0.1", jump_sshd.port(), jump_sshd.identity_file().string(),
            known_hosts().string()};
  }

  // The guest as its host sees it, reached through the jump host.
  ssh::Target target() const {
    ssh::Target target = guest_sshd.target();
    target.jump = jump();
    return target;
  }

  static ssh::ConnectOptions within(std::chrono::milliseconds timeout) {
    ssh::ConnectOptions options;
    options.timeout = timeout;
    return options;
  }

  vmctl::test::Sshd jump_sshd;
  vmctl::test::Sshd guest_sshd;
};

TEST_F(JumpTest, RunsCommandsAndCopiesFilesThroughTheJumpHost) {
  auto session = ssh::Session::connect(target(), within(20s));
  auto hello = session.exec_capture("echo hello; echo world >&2; exit 4");
  EXPECT_EQ(hello.exit_status, 4);
  EXPECT_EQ(hello.out, "hello\n");
  EXPECT_EQ(hello.err, "world\n");

  // Megabytes both ways at once: the bridge must respect the channel's
  // window one way and the guest session's pace the other.
  const std::string input = random_bytes(3 * 1024 * 1024);
  std::string echoed;
  EXPECT_EQ(session.exec("cat", [&](std::string_view chunk) { echoed.append(chunk); }, nullptr, input), 0);
  EXPECT_EQ(echoed.size(), input.size());
  EXPECT_TRUE(echoed == input);

  const fs::path local = guest_sshd.scratch() / "data.bin";
  std::ofstream(local, std::ios::binary) << random_bytes(2 * 1024 * 1024 + 17);
  const auto begin = Clock::now();
  session.upload(local, (guest_sshd.scratch() / "uploaded.bin").string());
  session.download((guest_sshd.scratch() / "uploaded.bin").string(), guest_sshd.scratch() / "back.bin");
  EXPECT_TRUE(read_all(guest_sshd.scratch() / "back.bin") == read_all(local));
  // SFTP waits for each 32 KiB piece's answer: with a 40 ms delayed ACK on
  // each (tunnel.cpp, TCP_QUICKACK) this took 4-5 s; it takes about 0.3 s.
  EXPECT_LT(Clock::now() - begin, 3s);
}

TEST_F(JumpTest, TheGuestSessionRunsOverTheJumpHost) {
  auto session = ssh::Session::connect(target(), within(20s));
  ASSERT_EQ(session.exec_capture("true").exit_status, 0);
  // Killing the jump host's side of the connection ends the guest's session
  // too, with an error instead of a hang.
  const auto relays = jump_sshd.connection_processes();
  ASSERT_FALSE(relays.empty());
  for (pid_t pid : relays) ::kill(pid, SIGKILL);
  const auto begin = Clock::now();
  expect_error(errc::ssh_exec_failed, [&] { session.exec_capture("echo unreachable"); });
  EXPECT_LT(Clock::now() - begin, 30s);
}

TEST_F(JumpTest, LeavesNoThreadOrDescriptorBehind) {
  { auto warm_up = ssh::Session::connect(target(), within(20s)); }  // libssh's one-time state
  const std::size_t fds = entries_in("/proc/self/fd");
  const std::size_t threads = entries_in("/proc/self/task");
  {
    auto session = ssh::Session::connect(target(), within(20s));
    EXPECT_EQ(session.exec_capture("echo up").out, "up\n");
    EXPECT_EQ(entries_in("/proc/self/task"), threads + 1) << "one bridge thread while the session lives";
  }
  EXPECT_EQ(entries_in("/proc/self/fd"), fds);
  EXPECT_EQ(entries_in("/proc/self/task"), threads);
  // A guest that refuses the login (another key) fails, and still leaves nothing.
  auto other = target();
  other.host_key = ssh::generate_ed25519("impostor").public_key;
  expect_error(errc::ssh_host_key_mismatch, [&] { ssh::Session::connect(other, within(20s)); });
  EXPECT_EQ(entries_in("/proc/self/fd"), fds);
  EXPECT_EQ(entries_in("/proc/self/task"), threads);
}

TEST_F(JumpTest, TheGuestsOwnPinnedKeyIsStillChecked) {
  auto impostor = target();
  const auto other = ssh::generate_ed25519("impostor").public_key;
  impostor.host_key = other;
  const auto begin = Clock::now();
  auto error = expect_error(errc::ssh_host_key_mismatch, [&] { ssh::Session::connect(impostor, within(60s)); });
  EXPECT_LT(Clock::now() - begin, 30s) << "retried until the deadline";
  EXPECT_THAT(error.message(), HasSubstr(ssh::fingerprint_sha256(other)));
  EXPECT_THAT(error.message(), HasSubstr(ssh::fingerprint_sha256(guest_sshd.host_key())));
  EXPECT_THAT(error.message(), HasSubstr("through jump host"));
}

TEST_F(JumpTest, AnotherJumpHostKeyIsRefused) {
  const auto other = ssh::generate_ed25519("impostor").public_key;
  ssh::write_known_hosts(known_hosts(), "127.0.0.1", jump_sshd.port(), other);
  const auto begin = Clock::now();
  auto error = expect_error(errc::ssh_jump_failed, [&] { ssh::Session::connect(target(), within(60s)); });
  EXPECT_LT(Clock::now() - begin, 30s) << "retried until the deadline";
  EXPECT_THAT(error.message(), HasSubstr("mismatch"));
  EXPECT_THAT(error.message(), HasSubstr(ssh::fingerprint_sha256(jump_sshd.host_key())));
  EXPECT_THAT(error.message(), HasSubstr(known_hosts().string()));
}

TEST_F(JumpTest, AJumpHostMissingFromKnownHostsIsRefused) {
  ssh::write_known_hosts(known_hosts(), "127.0.0.1", guest_sshd.port(), jump_sshd.host_key());  // another port
  auto error = expect_error(errc::ssh_jump_failed, [&] { ssh::Session::connect(target(), within(20s)); });
  EXPECT_THAT(error.message(), HasSubstr("is not in"));
  EXPECT_THAT(error.message(), HasSubstr(fmt::format("[127.0.0.1]:{}", jump_sshd.port())));
  EXPECT_THAT(error.help(), HasSubstr("ssh-keyscan"));

  auto no_file = target();
  no_file.jump->known_hosts = (jump_sshd.scratch() / "no_such_known_hosts").string();
  expect_error(errc::ssh_jump_failed, [&] { ssh::Session::connect(no_file, within(20s)); });
}

TEST_F(JumpTest, AJumpHostRefusingTheKeyIsAJumpFailure) {
  auto stranger = target();
  stranger.jump->identity_file = (jump_sshd.scratch() / "stranger").string();
  ssh::generate_key_files(stranger.jump->identity_file);
  auto error = expect_error(errc::ssh_jump_failed, [&] { ssh::Session::connect(stranger, within(20s)); });
  EXPECT_THAT(error.message(), HasSubstr("refused"));
  EXPECT_THAT(error.message(), HasSubstr("stranger"));
}

// Nothing listens on the jump host's port, or something that never greets:
// the connect gives up at its deadline, naming the jump host.
TEST_F(JumpTest, AnUnreachableJumpHostFailsWithinTheDeadline) {
  SilentListener silent;
  for (std::uint16_t port : {vmctl::test::free_loopback_port(), silent.port()}) {
    auto unreachable = target();
    unreachable.jump->port = port;
    const auto begin = Clock::now();
    auto error = expect_error(errc::ssh_jump_failed, [&] { ssh::Session::connect(unreachable, within(1500ms)); });
    const auto took = Clock::now() - begin;
    EXPECT_GE(took, 1500ms);
    EXPECT_LT(took, 15s) << "our deadline, not libssh's or the kernel's";
    EXPECT_THAT(error.message(), HasSubstr(fmt::format("127.0.0.1:{}", port)));
  }
}

// The jump host is fine, the guest's sshd is not up (yet): retried until the
// deadline, then a timeout that says the jump host could not reach it.
TEST_F(JumpTest, AGuestTheJumpHostCannotReachTimesOut) {
  auto down = target();
  down.port = vmctl::test::free_loopback_port();
  const auto begin = Clock::now();
  auto error = expect_error(errc::ssh_timeout, [&] { ssh::Session::connect(down, within(1500ms)); });
  // It gives up once less than a probe interval (100 ms) is left.
  EXPECT_GE(Clock::now() - begin, 1400ms);
  EXPECT_LT(Clock::now() - begin, 15s);
  EXPECT_THAT(error.message(), HasSubstr(fmt::format("cannot reach 127.0.0.1:{}", down.port)));
}

TEST_F(JumpTest, WaitsForTheGuestsBannerThroughTheJumpHost) {
  ssh::wait_for_banner(jump(), "127.0.0.1", guest_sshd.port(), Clock::now() + 20s);

  SilentListener silent;
  const auto begin = Clock::now();
  auto error = expect_error(errc::ssh_timeout, [&] {
    ssh::wait_for_banner(jump(), "127.0.0.1", silent.port(), Clock::now() + 1500ms);
  });
  EXPECT_LT(Clock::now() - begin, 15s);
  EXPECT_THAT(error.message(), HasSubstr("through jump host"));

  auto bad_jump = jump();
  bad_jump.port = vmctl::test::free_loopback_port();
  expect_error(errc::ssh_jump_failed, [&] {
    ssh::wait_for_banner(bad_jump, "127.0.0.1", guest_sshd.port(), Clock::now() + 1s);
  });
}

}  // namespace

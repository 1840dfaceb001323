#include "support/sshd.hpp"

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "os/files.hpp"
#include "vm_manager/error.hpp"

namespace vmctl::test {
namespace fs = std::filesystem;

std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

namespace {

std::string current_user() {
  const passwd* entry = ::getpwuid(::geteuid());
  if (entry == nullptr) throw std::runtime_error("cannot find the current user's name");
  return entry->pw_name;
}

}  // namespace

Sshd::Sshd(bool start_now) : scratch_(dir_ / "scratch"), identity_file_(dir_ / "id_ed25519"), user_(current_user()) {
  // sshd refuses to start without its privilege separation folder.
  fs::create_directories("/run/sshd");
  fs::create_directories(scratch_);
  const fs::path host_key_file = dir_ / "host_ed25519";
  host_key_ = vm_manager::ssh::generate_key_files(host_key_file, "test-host").public_key;
  const auto client = vm_manager::ssh::generate_key_files(identity_file_, "test-client");
  vm_manager::os::write_file_atomic(dir_ / "authorized_keys", client.public_key.line() + "\n", 0600);
  port_ = free_loopback_port();
  const std::string config = fmt::format(
      "ListenAddress 127.0.0.1\n"
      "Port {}\n"
      "HostKey {}\n"
      "AuthorizedKeysFile {}\n"
      "PidFile {}\n"
      "StrictModes no\n"
      "UsePAM no\n"
      "PermitRootLogin prohibit-password\n"
      "PasswordAuthentication no\n"
      "KbdInteractiveAuthentication no\n"
      "PrintMotd no\n"
      "PrintLastLog no\n"
      "Subsystem sftp /usr/lib/openssh/sftp-server\n",
      port_, host_key_file.string(), (dir_ / "authorized_keys").string(), (dir_ / "sshd.pid").string());
  vm_manager::os::write_file_atomic(dir_ / "sshd_config", config, 0600);
  if (start_now) start();
}

void Sshd::start() {
  // -E: the log goes to a file, so a chatty run cannot fill a pipe and stall sshd.
  process_ = std::make_unique<RunningProcess>(
      std::vector<std::string>{"/usr/sbin/sshd", "-D", "-e", "-f", (dir_ / "sshd_config").string(), "-E",
                               (dir_ / "sshd.log").string()},
      ProcessOptions{{}, std::chrono::hours(1)});
  try {
    vm_manager::ssh::wait_for_banner("127.0.0.1", port_, vm_manager::ssh::Clock::now() + std::chrono::seconds(20));
  } catch (const vm_manager::Error& error) {
    throw std::runtime_error(fmt::format("sshd did not start: {}\n{}", error.message(), log()));
  }
}

namespace {

std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/task/{}/children", pid, pid));
  std::vector<pid_t> children;
  for (pid_t child = 0; in >> child;) children.push_back(child);
  return children;
}

// Per-connection children of sshd end shortly after their client left; killing
// the listener before it reaped them would orphan them as zombies.
void wait_until_childless(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline && !children_of(pid).empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // no event tells us; poll briefly
  }
}

}  // namespace

// RunningProcess kills the listener by its PID and reaps it.
Sshd::~Sshd() {
  if (process_) wait_until_childless(process_->pid(), std::chrono::seconds(3));
  process_.reset();
}

std::vector<pid_t> Sshd::connection_processes() const {
  std::vector<pid_t> found;
  if (!process_) return found;
  std::vector<pid_t> pending = children_of(process_->pid());
  while (!pending.empty()) {
    const pid_t pid = pending.back();
    pending.pop_back();
    found.push_back(pid);
    for (pid_t child : children_of(pid)) pending.push_back(child);
  }
  return found;
}

vm_manager::ssh::Target Sshd::target() const {
  return vm_manager::ssh::Target{"127.0.0.1", port_, user_, identity_file_, host_key_, std::nullopt};
}

std::string Sshd::log() const {
  std::ifstream in(dir_ / "sshd.log");
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace vmctl::test

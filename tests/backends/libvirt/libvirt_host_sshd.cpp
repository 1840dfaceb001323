// The harness's sshd: the second "host" is the same libvirtd through ssh.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "backends/libvirt/libvirt_host.hpp"
#include "backends/qemu/netns.hpp"
#include "os/files.hpp"
#include "ssh/keys.hpp"
#include "ssh/session.hpp"

namespace vmctl::test {
namespace fs = std::filesystem;

namespace {

// A free port needs no search: the namespace is new and empty.
constexpr std::uint16_t sshd_port = 2222;

// Runs `body` on a thread of its own that joins the namespace first
// (setns moves only the calling thread), and passes on what it throws.
template <typename F>
void in_namespace_thread(const std::string& netns, F body) {
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      const int fd = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
        throw std::runtime_error("cannot join " + netns + ": " + std::strerror(errno));
      }
      ::close(fd);
      body();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

void LibvirtHost::start_sshd() {
  namespace ssh = vm_manager::ssh;
  const fs::path dir = dir_ / "ssh";
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms(0700));
  fs::create_directories("/run/sshd");  // sshd's privilege separation folder
  const auto host_key = ssh::generate_key_files(dir / "host_ed25519", "vmctl-test-libvirt-host").public_key;
  const auto client = ssh::generate_key_files(ssh_identity(), "vmctl-test-libvirt-client").public_key;
  vm_manager::os::write_file_atomic(dir / "authorized_keys", client.line() + "\n", 0600);
  ssh_port_ = sshd_port;
  vm_manager::os::write_file_atomic(
      ssh_known_hosts(), fmt::format("[127.0.0.1]:{} {} {}\n", ssh_port_, host_key.type, host_key.base64), 0644);
  // libvirt 9.0 runs the ssh binary without known_hosts=: this pins ours.
  vm_manager::os::write_file_atomic(
      dir / "pinned-ssh",
      fmt::format("#!/bin/sh\nexec ssh -o UserKnownHostsFile='{}' -o StrictHostKeyChecking=yes -o BatchMode=yes "
                  "\"$@\"\n",
                  ssh_known_hosts().string()),
      0755);
  vm_manager::os::write_file_atomic(
      dir / "sshd_config",
      fmt::format("ListenAddress 127.0.0.1\nPort {}\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\n"
                  "StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                  "KbdInteractiveAuthentication no\nPrintMotd no\nPrintLastLog no\n",
                  ssh_port_, (dir / "host_ed25519").string(), (dir / "authorized_keys").string(),
                  (dir / "sshd.pid").string()),
      0600);
  sshd_ = std::make_unique<BackgroundProcess>(
      in_netns({"/usr/sbin/sshd", "-D", "-e", "-f", (dir / "sshd_config").string()}), dir_ / "sshd.log");
  in_namespace_thread(netns_name_, [&] {
    ssh::wait_for_banner("127.0.0.1", ssh_port_, ssh::Clock::now() + std::chrono::seconds(20));
  });
}

std::string LibvirtHost::ssh_uri() const {
  if (ssh_port_ == 0) throw std::logic_error("LibvirtHost: no sshd (LibvirtHostOptions::sshd)");
  return fmt::format("qemu+ssh://root@127.0.0.1:{}/system?keyfile={}&known_hosts={}&command={}", ssh_port_,
                     ssh_identity().string(), ssh_known_hosts().string(), (dir_ / "ssh" / "pinned-ssh").string());
}

std::string LibvirtHost::libssh_uri() const {
  if (ssh_port_ == 0) throw std::logic_error("LibvirtHost: no sshd (LibvirtHostOptions::sshd)");
  return fmt::format("qemu+libssh://root@127.0.0.1:{}/system?keyfile={}&known_hosts={}&sshauth=privkey", ssh_port_,
                     ssh_identity().string(), ssh_known_hosts().string());
}

}  // namespace vmctl::test

// A real OpenSSH sshd on 127.0.0.1 for tests: its own temp dir, host key,
// client key and config; killed by PID when the fixture goes away.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ssh/keys.hpp"
#include "ssh/session.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vmctl::test {

// A port on 127.0.0.1 that was free a moment ago (bound to 0, then closed).
std::uint16_t free_loopback_port();

class Sshd {
 public:
  // Prepares keys and config; starts sshd unless start_now is false.
  explicit Sshd(bool start_now = true);
  // Starts sshd and waits until it shows its banner.
  void start();
  ~Sshd();
  Sshd(const Sshd&) = delete;
  Sshd& operator=(const Sshd&) = delete;

  std::uint16_t port() const { return port_; }
  const vm_manager::ssh::PublicKey& host_key() const { return host_key_; }
  const std::filesystem::path& identity_file() const { return identity_file_; }
  const std::string& user() const { return user_; }
  // A folder inside the fixture's temp dir for the test's own files.
  const std::filesystem::path& scratch() const { return scratch_; }
  // host, port, user, identity and host key of this server.
  vm_manager::ssh::Target target() const;
  // What sshd logged so far (for failure messages).
  std::string log() const;
  // Every process below the listener: per-connection sshd processes and the
  // commands they run. Tests freeze them to play a guest that hangs.
  std::vector<pid_t> connection_processes() const;

 private:
  TempDir dir_;
  std::filesystem::path scratch_;
  std::filesystem::path identity_file_;
  vm_manager::ssh::PublicKey host_key_;
  std::string user_;
  std::uint16_t port_ = 0;
  std::unique_ptr<RunningProcess> process_;
};

}  // namespace vmctl::test

// JumpSession: the logged-in session to a jump host, and the channels
// through it (a tunnel for a guest's session, or a banner probe).
#include "ssh/jump.hpp"

#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <fmt/format.h>

#include "ssh/libssh_ptr.hpp"
#include "ssh/session_impl.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::ssh::detail {
namespace {

[[noreturn]] void jump_failed(const SshJumpHost& jump, const std::string& why, std::string hint) {
  throw Error(errc::ssh_jump_failed, fmt::format("jump host {}: {}", jump_where(jump), why), std::move(hint));
}

constexpr const char* kUnreachableHint =
    "check that the host is up and its sshd listens on that port; VMs placed on it are reached through it";

// OpenSSH's default, from the user's entry in the password database (as ssh
// itself does; the environment is the CLI's to read, not the library's).
std::string known_hosts_file(const SshJumpHost& jump) {
  if (!jump.known_hosts.empty()) return jump.known_hosts;
  const passwd* entry = ::getpwuid(::geteuid());
  if (entry == nullptr || entry->pw_dir == nullptr) {
    jump_failed(jump, "cannot find your home folder for ~/.ssh/known_hosts", "give the jump host a known_hosts file");
  }
  return std::string(entry->pw_dir) + "/.ssh/known_hosts";
}

void configure(ssh_session session, const SshJumpHost& jump) {
  const int port = jump.port;
  const int no = 0;
  const int yes = 1;
  const int verbosity = SSH_LOG_NOLOG;
  const std::string known_hosts = known_hosts_file(jump);
  // The jump's own settings only: no ~/.ssh/config, no system-wide known_hosts.
  set_option(session, SSH_OPTIONS_PROCESS_CONFIG, &no, "PROCESS_CONFIG");
  set_option(session, SSH_OPTIONS_KNOWNHOSTS, known_hosts.c_str(), "KNOWNHOSTS");
  set_option(session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null", "GLOBAL_KNOWNHOSTS");
  set_option(session, SSH_OPTIONS_STRICTHOSTKEYCHECK, &yes, "STRICTHOSTKEYCHECK");
  set_option(session, SSH_OPTIONS_LOG_VERBOSITY, &verbosity, "LOG_VERBOSITY");
  set_option(session, SSH_OPTIONS_HOST, jump.host.c_str(), "HOST");
  set_option(session, SSH_OPTIONS_PORT, &port, "PORT");
  if (!jump.user.empty()) set_option(session, SSH_OPTIONS_USER, jump.user.c_str(), "USER");
  set_option(session, SSH_OPTIONS_NODELAY, &yes, "NODELAY");
}

void check_host_key(ssh_session session, const SshJumpHost& jump) {
  const std::string file = known_hosts_file(jump);
  const std::string entry = known_hosts_host(jump.host, jump.port);
  switch (libssh().ssh_session_is_known_server(session)) {
    case SSH_KNOWN_HOSTS_OK:
      return;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      jump_failed(jump,
                  fmt::format("host key mismatch: it presented {}, which is not the key {} holds for {}",
                              presented_fingerprint(session), file, entry),
                  "something else answers on this address, or the host's key changed; do not trust it until its "
                  "administrator confirms the new key, then replace the line in that file");
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      jump_failed(jump,
                  fmt::format("its host key {} is not in {} (no entry for {})", presented_fingerprint(session), file,
                              entry),
                  fmt::format("check the key's fingerprint with the host's administrator, then add it: "
                              "ssh-keyscan -p {} {} >> {}",
                              jump.port, jump.host, file));
    case SSH_KNOWN_HOSTS_ERROR:
      break;
  }
  jump_failed(jump, fmt::format("cannot check its host key in {}: {}", file, last_error(session)),
              "the file must be a readable known_hosts file");
}

void authenticate(ssh_session session, const SshJumpHost& jump) {
  int rc = SSH_AUTH_DENIED;
  if (!jump.identity_file.empty()) {
    ssh_key raw = nullptr;
    if (libssh().ssh_pki_import_privkey_file(jump.identity_file.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK ||
        raw == nullptr) {
      jump_failed(jump, fmt::format("cannot read its SSH private key {}", jump.identity_file),
                  "the file must be an unencrypted OpenSSH private key readable by you");
    }
    KeyPtr key(raw);
    rc = libssh().ssh_userauth_publickey(session, nullptr, key.get());
  } else {
    // As ssh would: the agent's keys, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa.
    rc = libssh().ssh_userauth_publickey_auto(session, nullptr, nullptr);
  }
  if (rc == SSH_AUTH_SUCCESS) return;
  if (rc == SSH_AUTH_ERROR) throw Transient{"login broke off: " + last_error(session)};
  const std::string keys = jump.identity_file.empty() ? std::string("your SSH agent's and ~/.ssh's keys")
                                                      : "the key " + jump.identity_file;
  jump_failed(jump, "it refused " + keys, "install the matching public key in that user's authorized_keys there");
}

}  // namespace

std::string jump_where(const SshJumpHost& jump) {
  if (jump.user.empty()) return fmt::format("{}:{}", jump.host, jump.port);
  return fmt::format("{}@{}:{}", jump.user, jump.host, jump.port);
}

std::unique_ptr<JumpSession> JumpSession::connect(const SshJumpHost& jump, const ConnectOptions& options,
                                                  Clock::time_point deadline) {
  std::unique_ptr<JumpSession> result(new JumpSession(jump, options));
  std::string last = "no attempt finished";
  while (true) {
    try {
      wait_for_banner(jump.host, jump.port, deadline, options.probe_interval);
    } catch (const Error& e) {
      jump_failed(jump, fmt::format("cannot reach it: {}", e.message()), kUnreachableHint);
    }
    try {
      result->attempt(deadline);
      return result;
    } catch (const Transient& transient) {
      last = transient.reason;
    }
    if (ms_left(deadline) <= options.probe_interval.count()) {
      jump_failed(jump, fmt::format("cannot log in in time: {}", last), kUnreachableHint);
    }
    std::this_thread::sleep_for(options.probe_interval);  // the server just failed; give it a moment
  }
}

void JumpSession::attempt(Clock::time_point deadline) {
  if (session_ != nullptr) {
    libssh().ssh_disconnect(session_);
    libssh().ssh_free(session_);
  }
  session_ = libssh().ssh_new();
  if (session_ == nullptr) jump_failed(jump_, "libssh's ssh_new() failed", "the system is out of memory");
  configure(session_, jump_);
  set_step_timeout(deadline);
  if (libssh().ssh_connect(session_) != SSH_OK) {
    const std::string error = last_error(session_);
    if (is_transient_connect_error(error)) throw Transient{error};
    jump_failed(jump_, "cannot connect: " + error, "check that this address and port are the host's sshd");
  }
  check_host_key(session_, jump_);
  authenticate(session_, jump_);
}

void JumpSession::set_step_timeout(Clock::time_point deadline) {
  set_timeout(session_, std::min<long long>(options_.step_timeout.count(), std::max<long long>(ms_left(deadline), 1)));
}

JumpSession::~JumpSession() {
  bridge_.reset();
  if (session_ != nullptr) {
    libssh().ssh_disconnect(session_);
    libssh().ssh_free(session_);
  }
}

bool JumpSession::connected() const { return session_ != nullptr && libssh().ssh_is_connected(session_) != 0; }

ssh_channel JumpSession::open_channel(const std::string& host, std::uint16_t port, Clock::time_point deadline) {
  close_tunnel();
  set_step_timeout(deadline);
  ssh_channel channel = libssh().ssh_channel_new(session_);
  if (channel == nullptr) throw Transient{"the jump host's session broke: " + last_error(session_)};
  // The originator address is informational; OpenSSH only logs it.
  if (libssh().ssh_channel_open_forward(channel, host.c_str(), port, "127.0.0.1", 0) != SSH_OK) {
    const std::string error = last_error(session_);
    libssh().ssh_channel_free(channel);
    throw Transient{fmt::format("{} cannot reach {}:{}: {}", where(), host, port, error)};
  }
  return channel;
}

os::UniqueFd JumpSession::open_tunnel(const std::string& host, std::uint16_t port, Clock::time_point deadline) {
  ssh_channel channel = open_channel(host, port, deadline);
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    libssh().ssh_channel_free(channel);
    throw Error(errc::ssh_connect_failed, "cannot make a socket pair for the jump host's tunnel",
                "the process is out of file descriptors");
  }
  bridge_ = std::make_unique<Bridge>(session_, channel, os::UniqueFd(ends[0]));
  return os::UniqueFd(ends[1]);
}

void JumpSession::close_tunnel() { bridge_.reset(); }

std::string JumpSession::read_banner(const std::string& host, std::uint16_t port, Clock::time_point deadline) {
  ssh_channel channel = open_channel(host, port, deadline);
  std::string seen;
  char buffer[256];
  while (seen.size() < 1024 && seen.rfind("SSH-", 0) != 0 && seen.find("\nSSH-") == std::string::npos) {
    const long long left = ms_left(deadline);
    if (left <= 0) break;
    const int n = libssh().ssh_channel_read_timeout(channel, buffer, sizeof buffer, 0, static_cast<int>(left));
    if (n == 0 && libssh().ssh_channel_is_eof(channel) == 0) continue;  // nothing yet
    if (n <= 0) {
      libssh().ssh_channel_free(channel);
      throw Transient{fmt::format("{}:{} closed the connection before greeting", host, port)};
    }
    seen.append(buffer, static_cast<std::size_t>(n));
  }
  libssh().ssh_channel_free(channel);
  return seen;
}

}  // namespace vm_manager::ssh::detail

namespace vm_manager::ssh {

void wait_for_banner(const SshJumpHost& jump, const std::string& host, std::uint16_t port,
                     Clock::time_point deadline, std::chrono::milliseconds interval) {
  ConnectOptions options;
  options.probe_interval = interval;
  std::unique_ptr<detail::JumpSession> session = detail::JumpSession::connect(jump, options, deadline);
  std::string last = "no probe finished";
  while (true) {
    try {
      const std::string seen = session->read_banner(host, port, deadline);
      if (seen.rfind("SSH-", 0) == 0 || seen.find("\nSSH-") != std::string::npos) return;
      last = seen.empty() ? "connected, but no banner came" : "it sent \"" + util::printable(seen) + "\"";
    } catch (const detail::Transient& transient) {
      last = transient.reason;
      if (!session->connected()) session = detail::JumpSession::connect(jump, options, deadline);
    }
    if (detail::ms_left(deadline) <= interval.count()) {
      throw Error(errc::ssh_timeout,
                  fmt::format("no SSH server answered on {}:{} (through jump host {}) in time: {}", host, port,
                              detail::jump_where(jump), last),
                  "the guest may still be booting; check its console log and raise the timeout if it is slow");
    }
    std::this_thread::sleep_for(interval);  // the guest's sshd is not up yet
  }
}

}  // namespace vm_manager::ssh

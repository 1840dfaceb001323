// Session::connect: banner probe, handshake, host key check, public key
// login, each step bounded; transient failures are retried until the deadline.
#include "ssh/session.hpp"

#include <algorithm>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "ssh/libssh_ptr.hpp"
#include "ssh/session_impl.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::ssh {
namespace {

using detail::is_transient_connect_error;
using detail::ms_left;
using detail::set_option;
using detail::Transient;

void configure(ssh_session session, const Target& target, long long step_timeout_ms, int tunnel_fd) {
  const int port = target.port;
  const int no = 0;
  const int verbosity = SSH_LOG_NOLOG;
  // Only the target's settings count: no ~/.ssh/config, no known_hosts files.
  set_option(session, SSH_OPTIONS_PROCESS_CONFIG, &no, "PROCESS_CONFIG");
  set_option(session, SSH_OPTIONS_KNOWNHOSTS, "/dev/null", "KNOWNHOSTS");
  set_option(session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null", "GLOBAL_KNOWNHOSTS");
  set_option(session, SSH_OPTIONS_LOG_VERBOSITY, &verbosity, "LOG_VERBOSITY");
  set_option(session, SSH_OPTIONS_HOST, target.host.c_str(), "HOST");
  set_option(session, SSH_OPTIONS_PORT, &port, "PORT");
  set_option(session, SSH_OPTIONS_USER, target.user.c_str(), "USER");
  // Through a jump host: the tunnel's socket instead of a connection of its own.
  if (tunnel_fd >= 0) set_option(session, SSH_OPTIONS_FD, &tunnel_fd, "FD");
  // SFTP and exec are request/response; Nagle plus delayed ACKs would add
  // ~40 ms to every round trip.
  const int yes = 1;
  set_option(session, SSH_OPTIONS_NODELAY, &yes, "NODELAY");
  // Ask for the type we know, so a server with several host keys shows that one.
  if (!target.host_key.type.empty()) {
    set_option(session, SSH_OPTIONS_HOSTKEYS, target.host_key.type.c_str(), "HOSTKEYS");
  }
  detail::set_timeout(session, step_timeout_ms);
}

PublicKey to_public_key(ssh_key key) {
  char* base64 = nullptr;
  if (libssh().ssh_pki_export_pubkey_base64(key, &base64) != SSH_OK || base64 == nullptr) return {};
  CharPtr owned(base64);
  const char* type = libssh().ssh_key_type_to_char(libssh().ssh_key_type(key));
  return PublicKey{type == nullptr ? "unknown" : type, owned.get(), {}};
}

std::string fingerprint_or_unknown(const PublicKey& key) {
  try {
    return fingerprint_sha256(key);
  } catch (const Error&) {
    return "(unreadable key)";
  }
}

void check_host_key(ssh_session session, const detail::SessionState& impl) {
  ssh_key raw = nullptr;
  if (libssh().ssh_get_server_publickey(session, &raw) != SSH_OK || raw == nullptr) {
    throw Transient{"the server presented no host key"};
  }
  KeyPtr presented(raw);
  const PublicKey& expected = impl.target.host_key;
  ssh_key expected_raw = nullptr;
  const ssh_keytypes_e type = libssh().ssh_key_type_from_name(expected.type.c_str());
  if (type == SSH_KEYTYPE_UNKNOWN ||
      libssh().ssh_pki_import_pubkey_base64(expected.base64.c_str(), type, &expected_raw) != SSH_OK) {
    throw Error(errc::ssh_bad_key, fmt::format("the expected host key for {} is not a valid public key", impl.where()),
                "the VM's stored host key is damaged; recreate the VM");
  }
  KeyPtr expected_key(expected_raw);
  if (libssh().ssh_key_cmp(presented.get(), expected_key.get(), SSH_KEY_CMP_PUBLIC) == 0) return;
  throw Error(errc::ssh_host_key_mismatch,
              fmt::format("host key mismatch for {}: expected {}, the server presented {}", impl.where(),
                          fingerprint_or_unknown(expected), fingerprint_or_unknown(to_public_key(presented.get()))),
              "something else answers on this address, or the guest's host key changed; "
              "do not trust this server — check which VM owns the port, or recreate the VM");
}

KeyPtr load_identity(const Target& target) {
  ssh_key raw = nullptr;
  if (libssh().ssh_pki_import_privkey_file(target.identity_file.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK ||
      raw == nullptr) {
    throw Error(errc::ssh_bad_key, fmt::format("cannot read SSH private key {}", target.identity_file.string()),
                "the file must be an unencrypted OpenSSH private key readable by you");
  }
  return KeyPtr(raw);
}

void authenticate(ssh_session session, const detail::SessionState& impl, ssh_key identity) {
  const int rc = libssh().ssh_userauth_publickey(session, nullptr, identity);
  if (rc == SSH_AUTH_SUCCESS) return;
  if (rc == SSH_AUTH_ERROR) throw Transient{"login broke off: " + detail::last_error(session)};
  throw Error(errc::ssh_auth_failed,
              fmt::format("{} refused the key {}", impl.where(), impl.target.identity_file.string()),
              "the guest does not (yet) accept this key: check that cloud-init finished and installed the VM's "
              "public key for this user (the VM's console log shows it)");
}

// Through a jump host: its session (made again if it broke) and a fresh
// tunnel to the guest; the socket the guest's session is to use.
int open_tunnel(detail::SessionState& impl, Clock::time_point deadline) {
  if (!impl.target.jump) return -1;
  if (!impl.jump || !impl.jump->connected()) {
    impl.jump.reset();
    impl.jump = detail::JumpSession::connect(*impl.target.jump, impl.options, deadline);
  }
  impl.tunnel_end = impl.jump->open_tunnel(impl.target.host, impl.target.port, deadline);
  return impl.tunnel_end.get();
}

// One attempt; throws Transient for what may work on a retry.
void attempt(detail::SessionState& impl, ssh_key identity, Clock::time_point deadline) {
  impl.drop_session();
  const int tunnel_fd = open_tunnel(impl, deadline);
  impl.session = libssh().ssh_new();
  if (impl.session == nullptr) throw Error(errc::ssh_connect_failed, "libssh().ssh_new() failed", "the system is out of memory");
  impl.sent = {};
  impl.received = {};
  libssh().ssh_set_counters(impl.session, &impl.sent, &impl.received);
  const long long step_ms =
      std::min<long long>(impl.options.step_timeout.count(), std::max<long long>(ms_left(deadline), 1));
  configure(impl.session, impl.target, step_ms, tunnel_fd);
  impl.tunnel_handed = tunnel_fd >= 0;
  if (libssh().ssh_connect(impl.session) != SSH_OK) {
    const std::string error = detail::last_error(impl.session);
    if (is_transient_connect_error(error)) throw Transient{error};
    throw Error(errc::ssh_connect_failed, fmt::format("cannot connect to {}: {}", impl.where(), error),
                "the server does not speak a compatible SSH; check that the address is the VM's SSH port");
  }
  check_host_key(impl.session, impl);
  authenticate(impl.session, impl, identity);
}

}  // namespace

namespace detail {

std::string last_error(ssh_session session) {
  const char* text = session == nullptr ? nullptr : libssh().ssh_get_error(session);
  return text == nullptr || *text == '\0' ? std::string("unknown error") : std::string(text);
}

long long ms_left(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
}

void set_option(ssh_session session, ssh_options_e option, const void* value, std::string_view name) {
  if (libssh().ssh_options_set(session, option, value) != SSH_OK) {
    throw Error(errc::ssh_connect_failed, fmt::format("cannot set libssh option {}: {}", name, last_error(session)),
                "this points at an unsupported libssh build; install libssh 0.10 or newer");
  }
}

void set_timeout(ssh_session session, long long ms) {
  // libssh adds the two; both zero would mean "no timeout".
  const long seconds = static_cast<long>(ms / 1000);
  const long micros = static_cast<long>(std::max<long long>(ms % 1000, seconds == 0 ? 1 : 0) * 1000);
  set_option(session, SSH_OPTIONS_TIMEOUT, &seconds, "TIMEOUT");
  set_option(session, SSH_OPTIONS_TIMEOUT_USEC, &micros, "TIMEOUT_USEC");
}

std::string presented_fingerprint(ssh_session session) {
  ssh_key raw = nullptr;
  if (libssh().ssh_get_server_publickey(session, &raw) != SSH_OK || raw == nullptr) return "(no key)";
  KeyPtr presented(raw);
  return fingerprint_or_unknown(to_public_key(presented.get()));
}

// Anything else (no common algorithm, unknown host) will not get better.
bool is_transient_connect_error(const std::string& text) {
  for (const char* word : {"refused", "reset", "closed", "Timeout", "timeout", "timed out", "Socket error",
                           "disconnected", "banner", "EOF", "Broken pipe"}) {
    if (text.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace detail

detail::SessionState::~SessionState() { drop_session(); }

void detail::SessionState::drop_session() {
  if (sftp != nullptr) libssh().sftp_free(sftp);
  sftp = nullptr;
  if (session != nullptr) {
    // -1 once libssh closed the tunnel's socket itself (after an error).
    if (tunnel_handed && libssh().ssh_get_fd(session) != tunnel_end.get()) (void)tunnel_end.release();
    libssh().ssh_disconnect(session);
    libssh().ssh_free(session);
    session = nullptr;
  }
  tunnel_handed = false;
  tunnel_end.reset();
  if (jump) jump->close_tunnel();
}

std::string detail::SessionState::where() const {
  if (!target.jump) return fmt::format("{}@{}:{}", target.user, target.host, target.port);
  return fmt::format("{}@{}:{} (through jump host {})", target.user, target.host, target.port,
                     detail::jump_where(*target.jump));
}

Session Session::connect(const Target& target, const ConnectOptions& options) {
  const auto deadline = Clock::now() + options.timeout;
  auto impl = std::make_unique<Impl>();
  impl->target = target;
  impl->options = options;
  KeyPtr identity = load_identity(target);
  std::string last = "no attempt finished";
  while (true) {
    // Through a jump host, a guest not listening yet refuses the tunnel instead.
    if (!target.jump) wait_for_banner(target.host, target.port, deadline, options.probe_interval);
    try {
      attempt(*impl, identity.get(), deadline);
      return Session(std::move(impl));
    } catch (const Transient& transient) {
      last = transient.reason;
    }
    if (ms_left(deadline) <= options.probe_interval.count()) {
      throw Error(errc::ssh_timeout, fmt::format("cannot log in to {} in time: {}", impl->where(), last),
                  "the guest's sshd answered but the login did not complete; check the VM's console log "
                  "and raise the timeout if the guest is slow");
    }
    std::this_thread::sleep_for(options.probe_interval);  // the server just failed; give it a moment
  }
}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

const Target& Session::target() const { return impl_->target; }

}  // namespace vm_manager::ssh

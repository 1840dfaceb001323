// An SSH client session (libssh): connect with retries up to a deadline,
// verify the host key against the one vmctl generated for the VM, log in
// with the VM's key, run commands and copy files over SFTP.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ssh/keys.hpp"
#include "vm_manager/folder_copy.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager::ssh {

using Clock = std::chrono::steady_clock;

// Whom to log in as, where, and which host key to insist on.
struct Target {
  std::string host;
  std::uint16_t port = 22;
  std::string user;
  std::filesystem::path identity_file;  // OpenSSH private key (ed25519)
  PublicKey host_key;                   // the only key the server may present
  // Set: host:port is reached from this jump host (a direct-tcpip channel of
  // an SSH session to it), not from here. Its host key must be in its
  // known_hosts file; the guest's own key is checked as without a jump.
  std::optional<SshJumpHost> jump;
};

struct ConnectOptions {
  std::chrono::milliseconds timeout{60'000};        // overall deadline for connect()
  std::chrono::milliseconds probe_interval{100};    // between banner probes
  std::chrono::milliseconds step_timeout{30'000};   // each libssh step (handshake, auth, channel); slow under TCG
  // While a command runs, this much silence from the server sends an SSH
  // keepalive; keepalive_count_max unanswered ones end the connection. TCP
  // keepalives cannot do this: with user networking QEMU holds the TCP
  // connection and answers for a guest that hangs. 0 turns them off.
  std::chrono::milliseconds keepalive_interval{15'000};
  int keepalive_count_max = 4;
};

// Waits until a TCP connection to host:port yields an SSH banner ("SSH-")
// or the deadline passes. A bare TCP connect proves nothing (QEMU's user
// networking accepts before the guest's sshd runs), so each probe reads the
// banner; probes are `interval` apart. Raises ssh::timeout naming the host,
// port and what the last probe saw.
void wait_for_banner(const std::string& host, std::uint16_t port, Clock::time_point deadline,
                     std::chrono::milliseconds interval = std::chrono::milliseconds(100));
// The same, for host:port as the jump host reaches it: one session to the
// jump host, a channel to host:port every `interval` until one greets.
// Raises ssh::jump_failed (the jump host itself) and ssh::timeout.
void wait_for_banner(const SshJumpHost& jump, const std::string& host, std::uint16_t port,
                     Clock::time_point deadline, std::chrono::milliseconds interval = std::chrono::milliseconds(100));

// Receives output as it arrives (arbitrary chunks, not lines).
using OutputSink = std::function<void(std::string_view chunk)>;

struct ExecResult {
  int exit_status = -1;  // the remote command's status; 128+N when killed by signal N
  std::string out;
  std::string err;
};

struct TransferOptions {
  std::optional<mode_t> mode;   // unset: keep the source file's mode
  bool create_parents = true;   // mkdir -p the destination's folder
};

class Session {
 public:
  // Banner probe, then handshake, host key check and public key login,
  // retrying transient failures (refused, reset, banner timeout) until
  // options.timeout. Raises ssh::timeout, ssh::connect_failed,
  // ssh::host_key_mismatch (never retried; the message shows both
  // fingerprints), ssh::auth_failed, ssh::bad_key (unreadable identity).
  // With target.jump, the jump host is logged into first (ssh::jump_failed
  // when it is unreachable within the deadline, shows a key its known_hosts
  // does not hold, or refuses the login) and the guest's session runs
  // through it; the session's deadlines, keepalives and errors are the same.
  static Session connect(const Target& target, const ConnectOptions& options = {});

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Runs `command` through the remote user's shell. stdout and stderr are
  // read concurrently (neither window can stall the other), stdin_data (if
  // any) is sent then EOF. Returns the exit status. Raises ssh::exec_failed
  // when the channel breaks, the server stops answering keepalives, or
  // timeout passes (0 = no limit).
  int exec(const std::string& command, const OutputSink& out, const OutputSink& err,
           const std::optional<std::string>& stdin_data = std::nullopt,
           std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // exec() collecting both streams.
  ExecResult exec_capture(const std::string& command, std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  // SFTP copies. Raise ssh::sftp_failed naming the path and SFTP's reason.
  void upload(const std::filesystem::path& local, const std::string& remote, const TransferOptions& options = {});
  void download(const std::string& remote, const std::filesystem::path& local, const TransferOptions& options = {});

  // Folder trees, as `cp -r SRC DST` copies them: when DST is a folder
  // already, the tree goes into DST/<SRC's name> (SRC "." fills DST itself),
  // otherwise it becomes DST (its parents made). Files, folders and their
  // modes are kept; a symlink is copied as a symlink with its target text as
  // it is (also one pointing out of the tree or nowhere), never followed;
  // FIFOs, sockets and devices are skipped and listed. SRC itself may be a
  // symlink to a folder (the name given is followed, as cp -H does). An
  // entry of the destination that is a symlink or a file is replaced, never
  // written through. Raises cp::not_a_folder (SRC is no folder),
  // cp::in_the_way (a folder where a file goes, or the reverse),
  // cp::unsafe_name (the guest lists a name that is no single path
  // component), ssh::sftp_failed.
  FolderCopy upload_folder(const std::filesystem::path& local, const std::string& remote);
  FolderCopy download_folder(const std::string& remote, const std::filesystem::path& local);

  const Target& target() const;

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vm_manager::ssh

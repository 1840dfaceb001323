// Starting a long-lived helper (virtiofsd) that must outlive the vmctl
// process that starts it, as a daemonized QEMU does.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace vm_manager::os {

struct DaemonSpec {
  std::vector<std::string> argv;  // argv[0]: an absolute path (not looked up in PATH)
  int log_fd = -1;                // the daemon's stdout and stderr; its stdin is /dev/null
  // When set, the daemon runs in a mount namespace of its own in which this
  // folder is a read-only bind mount of itself: the kernel refuses every
  // write under it, whatever the daemon is asked (Linux only).
  std::optional<std::string> read_only_path;
  // When set, the daemon runs in a user namespace of its own (and a mount
  // namespace, so read_only_path works there too) in which uid 0 and gid 0
  // are our effective uid and gid: it may make namespaces and mounts of its
  // own without being root outside. No other id is mapped (Linux only).
  bool user_namespace = false;
  // When >= 3, this descriptor of ours stays open in the daemon, at the same
  // number, though it is close-on-exec here (a listening socket it serves).
  int inherited_fd = -1;
};

// 0 when this process may make a user namespace, else the errno the kernel
// gives (EPERM, ENOSPC or EINVAL where user namespaces are disabled).
int user_namespace_error();

// Starts the daemon in a new session, not as our child (so it is reaped by
// init, not left a zombie of ours), and returns its pid once it has
// exec'd. Raises Error(process::spawn_failed) when it could not be set up or
// its program could not be run.
pid_t start_daemon(const DaemonSpec& spec);

}  // namespace vm_manager::os

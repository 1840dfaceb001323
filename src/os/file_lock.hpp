// Exclusive advisory locks (flock) on lock files that may be unlinked by
// their holder: after locking, the file is checked to still be the one at the
// path, so a waiter never ends up holding a lock on a deleted file.
//
// A lock file is opened without following a symlink and must be a regular
// file of the caller's (euid) with one link, so a planted link never makes
// us write into another file.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>

namespace vm_manager::os {

// What lock_exclusive does when the lock file is missing.
enum class IfMissing { create, fail };

struct LockResult {
  enum class Outcome { locked, timed_out, missing };
  Outcome outcome = Outcome::timed_out;
  int fd = -1;  // when locked
};

// Locks `path` (created 0600 when missing, if `if_missing` says so) and
// writes our pid into it. Waits up to `timeout`; calls on_wait(holder_pid)
// once if it has to wait. Raises store::unsafe_lock for a lock file that is a
// symlink, not a regular file, not the caller's or linked elsewhere (nothing
// is written to it), store::io for other failures.
LockResult lock_exclusive(const std::filesystem::path& path, std::chrono::milliseconds timeout,
                          const std::function<void(long holder_pid)>& on_wait, IfMissing if_missing);

// The same, making the lock file when missing: the locked fd, or nullopt on
// timeout.
std::optional<int> lock_exclusive(const std::filesystem::path& path, std::chrono::milliseconds timeout,
                                  const std::function<void(long holder_pid)>& on_wait);

// True when another open file description holds a lock on `path` (never
// follows a symlink, never blocks on a FIFO).
bool is_locked(const std::filesystem::path& path);

// The pid written by the current holder, 0 when unknown.
long lock_holder(int fd);

}  // namespace vm_manager::os

// Exclusive advisory locks (flock) on lock files that may be unlinked by
// their holder: after locking, the file is checked to still be the one at the
// path, so a waiter never ends up holding a lock on a deleted file.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>

namespace vm_manager::os {

// Locks `path` (created 0600 if missing) and writes our pid into it. Waits up
// to `timeout`; calls on_wait(holder_pid) once if it has to wait. Returns the
// locked fd, or nullopt on timeout. Raises store::io.
std::optional<int> lock_exclusive(const std::filesystem::path& path, std::chrono::milliseconds timeout,
                                  const std::function<void(long holder_pid)>& on_wait);

// True when another open file description holds a lock on `path`.
bool is_locked(const std::filesystem::path& path);

// The pid written by the current holder, 0 when unknown.
long lock_holder(int fd);

}  // namespace vm_manager::os

// Showing a console log: the last lines, then optionally following it.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string_view>

namespace vm_manager::console {

struct LogViewOptions {
  std::optional<std::size_t> last_lines;  // all lines when unset
  bool follow = false;
  // While following: called about every poll_interval; following ends when
  // it returns false (e.g. the VM was destroyed). Empty: follow forever.
  std::function<bool()> keep_following;
  std::chrono::milliseconds poll_interval{100};
};

// Writes the log to out_fd. A missing file is an Error (console::no_log)
// unless following, which waits for it to appear. Survives truncation (the
// VM restarted and the log was rotated) by starting again from the top.
void show_log(const std::filesystem::path& log, int out_fd, const LogViewOptions& options);
// The same, handing the bytes to `out` as they are read.
void show_log(const std::filesystem::path& log, const std::function<void(std::string_view bytes)>& out,
              const LogViewOptions& options);

}  // namespace vm_manager::console

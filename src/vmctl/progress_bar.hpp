// The download bar vmctl draws on a terminal from the library's progress
// reports: "\r[#########      ]  42% 1.2 MiB / 2.9 MiB" redrawn in place (the
// bytes so far while the size is unknown), at most every 200 ms, ending at
// 100% and a newline. A retry ends the bar with its note ("  retrying in 2 s:
// HTTP 503") and a newline; the next try's bar says "  (attempt 2/5)".
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "vm_manager/progress.hpp"

namespace vmctl {

class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* out) : out_(out) {}

  // One report: drawn when it is the first, the last, one with a note, or
  // 200 ms after the previous drawing. The last one draws 100% when every
  // byte came, and ends the line; one with a note ends the line too.
  void update(const vm_manager::Progress& progress);

 private:
  void draw(const vm_manager::Progress& progress, const std::string& note);

  std::FILE* out_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// A bar on stderr when it is a terminal; an empty callback (nothing drawn)
// when it is not, e.g. in a pipe or a log file.
vm_manager::ProgressCallback terminal_progress_bar();

}  // namespace vmctl

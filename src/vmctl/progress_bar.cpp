#include "vmctl/progress_bar.hpp"

#include <unistd.h>

#include <memory>
#include <string>

#include <fmt/format.h>

#include "util/strings.hpp"

namespace vmctl {
using vm_manager::util::human_bytes;

namespace {
constexpr int kWidth = 30;
constexpr std::chrono::milliseconds kRedrawEvery{200};
}  // namespace

void ProgressBar::update(const vm_manager::Progress& progress) {
  if (progress.finished) {
    // 100% whatever the throttle skipped, when it all came; then the line ends.
    if (progress.total && progress.done == *progress.total) draw(progress, "");
    std::fputs("\n", out_);
    drawn_ = false;  // a next download draws its own bar at once
    return;
  }
  if (!progress.note.empty()) {
    // A retry: this bar ends with why, and the next try draws a new one.
    draw(progress, "  " + progress.note);
    std::fputs("\n", out_);
    drawn_ = false;
    return;
  }
  if (drawn_ && std::chrono::steady_clock::now() - last_draw_ < kRedrawEvery) return;
  draw(progress, "");
}

void ProgressBar::draw(const vm_manager::Progress& progress, const std::string& note) {
  drawn_ = true;
  last_draw_ = std::chrono::steady_clock::now();
  const double done = static_cast<double>(progress.done);
  const double all = progress.total ? static_cast<double>(*progress.total) : 0.0;  // 0: unknown
  std::string tail = note;
  if (tail.empty() && progress.attempt > 1) tail = fmt::format("  (attempt {}/{})", progress.attempt, progress.attempts);
  if (all > 0) {
    int filled = static_cast<int>(kWidth * done / all);
    if (filled > kWidth) filled = kWidth;
    std::fprintf(out_, "\r[%s%s] %3d%% %s / %s%s", std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(kWidth - filled), ' ').c_str(), static_cast<int>(100 * done / all),
                 human_bytes(done).c_str(), human_bytes(all).c_str(), tail.c_str());
  } else {
    std::fprintf(out_, "\r%s%s", human_bytes(done).c_str(), tail.c_str());
  }
  std::fflush(out_);
}

vm_manager::ProgressCallback terminal_progress_bar() {
  if (::isatty(STDERR_FILENO) != 1) return {};
  auto bar = std::make_shared<ProgressBar>(stderr);
  return [bar](const vm_manager::Progress& progress) { bar->update(progress); };
}

}  // namespace vmctl

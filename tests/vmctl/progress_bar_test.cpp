// The bar vmctl draws from the library's progress reports, byte for byte as
// the library drew it before it reported instead (image_cli_test checks it
// on a real terminal too).
#include "vmctl/progress_bar.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace vmctl {
namespace {

using vm_manager::Progress;
using namespace std::chrono_literals;

// A FILE* whose bytes the test reads back.
class Captured {
 public:
  Captured() : file_(::open_memstream(&buffer_, &size_)) {}
  ~Captured() {
    std::fclose(file_);
    std::free(buffer_);
  }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(buffer_, size_);
  }

 private:
  char* buffer_ = nullptr;
  std::size_t size_ = 0;
  std::FILE* file_;
};

Progress report(std::uint64_t done, std::optional<std::uint64_t> total, bool finished = false) {
  return Progress{"http://127.0.0.1/disk.qcow2", done, total, finished};
}

TEST(ProgressBar, DrawsTheFirstReportThenAtMostEvery200Ms) {
  Captured out;
  ProgressBar bar(out.file());
  bar.update(report(1024 * 1024, 4 * 1024 * 1024));
  EXPECT_EQ(out.text(), "\r[#######                       ]  25% 1.0 MiB / 4.0 MiB");
  bar.update(report(2 * 1024 * 1024, 4 * 1024 * 1024));  // too soon: skipped
  EXPECT_EQ(out.text(), "\r[#######                       ]  25% 1.0 MiB / 4.0 MiB");
  std::this_thread::sleep_for(210ms);
  bar.update(report(3 * 1024 * 1024, 4 * 1024 * 1024));
  EXPECT_EQ(out.text(), "\r[#######                       ]  25% 1.0 MiB / 4.0 MiB"
                        "\r[######################        ]  75% 3.0 MiB / 4.0 MiB");
}

TEST(ProgressBar, TheLastReportDrawsAFullBarAndEndsTheLine) {
  Captured out;
  ProgressBar bar(out.file());
  bar.update(report(512, 2048));
  bar.update(report(2048, 2048, /*finished=*/true));  // drawn, however soon
  EXPECT_EQ(out.text(), "\r[#######                       ]  25% 512.0 B / 2.0 KiB"
                        "\r[##############################] 100% 2.0 KiB / 2.0 KiB\n");
}

TEST(ProgressBar, AnUnknownSizeShowsTheBytesSoFar) {
  Captured out;
  ProgressBar bar(out.file());
  bar.update(report(1536, std::nullopt));
  EXPECT_EQ(out.text(), "\r1.5 KiB");
}

TEST(ProgressBar, AFailedDownloadOnlyEndsTheLine) {
  Captured out;
  ProgressBar bar(out.file());
  bar.update(report(512, 2048));
  bar.update(report(512, 2048, /*finished=*/true));
  EXPECT_EQ(out.text(), "\r[#######                       ]  25% 512.0 B / 2.0 KiB\n");
}

Progress retry_report(std::uint64_t done, std::optional<std::uint64_t> total, int attempt, std::string note) {
  Progress p = report(done, total);
  p.attempt = attempt;
  p.attempts = 5;
  p.note = std::move(note);
  return p;
}

TEST(ProgressBar, ARetryEndsTheBarWithItsNoteAndTheNextTryShowsItsAttempt) {
  Captured out;
  ProgressBar bar(out.file());
  bar.update(report(512, 2048));
  bar.update(retry_report(512, 2048, 2, "retrying in 2 s: HTTP 503"));  // drawn, however soon
  bar.update(retry_report(1024, 2048, 2, ""));  // a new bar at once
  bar.update(retry_report(2048, 2048, 2, ""));  // too soon: skipped
  Progress last = retry_report(2048, 2048, 2, "");
  last.finished = true;
  bar.update(last);
  EXPECT_EQ(out.text(), "\r[#######                       ]  25% 512.0 B / 2.0 KiB"
                        "\r[#######                       ]  25% 512.0 B / 2.0 KiB  retrying in 2 s: HTTP 503\n"
                        "\r[###############               ]  50% 1.0 KiB / 2.0 KiB  (attempt 2/5)"
                        "\r[##############################] 100% 2.0 KiB / 2.0 KiB  (attempt 2/5)\n");
}

TEST(ProgressBar, ARetryBeforeAnyByteShowsItsNote) {
  Captured out;
  ProgressBar bar(out.file());
  bar.update(retry_report(0, std::nullopt, 2, "retrying in 1 s: HTTP 429"));
  EXPECT_EQ(out.text(), "\r0.0 B  retrying in 1 s: HTTP 429\n");
}

}  // namespace
}  // namespace vmctl

// A VmManager's LogSink hears what its backends warn about: the library has
// no global logger, so the sink in ManagerConfig is the only way out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/manager.hpp"

namespace vm_manager {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::Pair;
using vmctl::test::RunningProcess;
using vmctl::test::TempDir;

// Every line a sink was given, from whichever thread.
class CapturedLog {
 public:
  LogSink sink() {
    return [this](LogLevel level, std::string_view line) {
      std::lock_guard<std::mutex> hold(mutex_);
      lines_.emplace_back(level, std::string(line));
    };
  }
  std::vector<std::pair<LogLevel, std::string>> lines() {
    std::lock_guard<std::mutex> hold(mutex_);
    return lines_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<LogLevel, std::string>> lines_;
};

#if VMCTL_WITH_QEMU
// Destroying a VM whose vm.json is unreadable asks every backend to clear
// what it can prove is the VM's. The qemu backend finds a pidfile whose
// process is not a QEMU (here: sleep), leaves it alone, and warns: through
// ManagerConfig::log, where spdlog's global logger used to be.
TEST(ManagerLogSink, HearsABackendWarning) {
  TempDir dir;
  DataDir data(dir.path() / "data");
  const fs::path work_dir = data.vm_dir("web");
  fs::create_directories(work_dir);
  std::ofstream(work_dir / "vm.json") << "{ not json";
  RunningProcess stranger({"sleep", "60"});
  std::ofstream(work_dir / "qemu.pid") << stranger.pid() << "\n";

  CapturedLog log;
  ManagerConfig config(data);
  config.log = log.sink();
  VmManager manager(std::move(config));
  EXPECT_EQ(manager.destroy("web"), Destroyed::unreadable_record);

  EXPECT_THAT(log.lines(), Contains(Pair(LogLevel::warn, fmt::format("VM 'web': pid {} in its pidfile is not its QEMU; "
                                                                     "left alone", stranger.pid()))));
  EXPECT_EQ(::kill(stranger.pid(), 0), 0) << "the stranger was signalled";
  EXPECT_FALSE(fs::exists(work_dir));
}
#endif

// Without a sink the same warning goes nowhere, and nothing else changes.
TEST(ManagerLogSink, NoSinkIsAllowed) {
  TempDir dir;
  DataDir data(dir.path() / "data");
  const fs::path work_dir = data.vm_dir("web");
  fs::create_directories(work_dir);
  std::ofstream(work_dir / "vm.json") << "{ not json";
  RunningProcess stranger({"sleep", "60"});
  std::ofstream(work_dir / "qemu.pid") << stranger.pid() << "\n";

  VmManager manager(ManagerConfig{data});
  EXPECT_EQ(manager.destroy("web"), Destroyed::unreadable_record);
  EXPECT_EQ(::kill(stranger.pid(), 0), 0);
  EXPECT_FALSE(fs::exists(work_dir));
}

}  // namespace
}  // namespace vm_manager

// VmManager::wait_ready reports its steps to a ProgressCallback: each as it
// begins and, finished, as it ends. Boots the tiny guest under TCG.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "backends/qemu/tiny_guest.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/manager.hpp"

namespace vm_manager {
namespace {

using namespace std::chrono_literals;
using vmctl::test::TempDir;

struct Step {
  std::string what;
  bool finished;
  bool operator==(const Step&) const = default;
};

void PrintTo(const Step& step, std::ostream* out) { *out << step.what << (step.finished ? " (finished)" : ""); }

TEST(ManagerWaitProgress, ReportsEachStepAsItBeginsAndEnds) {
  TempDir dir;
  VmManager vms(ManagerConfig{DataDir(dir.path() / "data")});
  VmSpec spec = vmctl::test::tiny_guest_spec("ready");
  spec.ssh = SshConfig{};
  vms.create(spec, /*start=*/true);
  std::vector<Step> steps;
  try {
    ReadyOptions ready;
    ready.timeout = 240s;
    ready.progress = [&](const Progress& p) {
      EXPECT_EQ(p.done, 0u);  // a wait counts nothing
      steps.push_back({p.what, p.finished});
    };
    vms.wait_ready("ready", ready);
  } catch (...) {
    vms.destroy("ready");
    throw;
  }
  vms.destroy("ready");
  EXPECT_EQ(steps, (std::vector<Step>{{"ssh", false}, {"ssh", true}, {"cloud-init", false}, {"cloud-init", true}}));
}

}  // namespace
}  // namespace vm_manager

// vm.json as the previous release wrote it (tests/store/fixtures/format-1/)
// still works: vmctl reads it, stops the VM and destroys it.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vm_manager/store.hpp"
#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = VMCTL_SOURCE_DIR "/tests/store/fixtures/format-1";

// The fixture with the data dir (and other machine-specific values) filled in.
std::string fixture(const std::string& file, const fs::path& data_dir) {
  std::ifstream in(kFixtures / file);
  std::ostringstream text;
  text << in.rdbuf();
  std::string out = text.str();
  const std::string marker = "@DATA_DIR@";
  for (auto at = out.find(marker); at != std::string::npos; at = out.find(marker, at)) {
    out.replace(at, marker.size(), data_dir.string());
  }
  return out;
}

// A VM folder as the old release left it: its vm.json plus `files`.
fs::path install(const fs::path& data_dir, const std::string& name, const std::string& record,
                 const std::vector<std::pair<std::string, std::string>>& files) {
  fs::path dir = data_dir / "vms" / name;
  fs::create_directories(dir);
  std::ofstream(dir / "vm.json") << record;
  for (const auto& [file, content] : files) std::ofstream(dir / file) << content;
  return dir;
}

TEST_F(VmctlTest, ANoopVmOfRecordFormat1IsStoppedAndDestroyed) {
  fs::path dir = install(data_.path(), "old-noop", fixture("noop.vm.json", data_.path()), {{"noop-state", "running\n"}});
  nlohmann::json s = status("old-noop");
  EXPECT_EQ(s.at("state"), "running");
  EXPECT_EQ(s.at("vcpus"), 2);
  ok({"stop", "old-noop"});
  EXPECT_EQ(state_of("old-noop"), "stopped");
  ok({"destroy", "old-noop"});
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(list().empty());
}

// The first change saves a format-1 record as format 2 (backend_state), which
// the next commands read as before.
TEST_F(VmctlTest, ARecordOfFormat1IsRewrittenAsFormat2AndStillWorks) {
  fs::path dir = install(data_.path(), "old-noop", fixture("noop.vm.json", data_.path()), {{"noop-state", "running\n"}});
  {
    vm_manager::VmStore store{vm_manager::DataDir(data_.path())};
    vm_manager::VmLock lock = store.lock("old-noop");
    store.save(lock, store.load("old-noop"));
  }
  nlohmann::json saved = nlohmann::json::parse(std::ifstream(dir / "vm.json"));
  EXPECT_EQ(saved.at("format"), 2);
  EXPECT_TRUE(saved.at("handle").contains("backend_state"));
  EXPECT_FALSE(saved.at("handle").contains("pid"));
  EXPECT_EQ(status("old-noop").at("state"), "running");
  EXPECT_EQ(status("old-noop").at("vcpus"), 2);
  ok({"suspend", "old-noop"});
  ok({"resume", "old-noop"});
  ok({"stop", "old-noop"});
  EXPECT_EQ(state_of("old-noop"), "stopped");
  ok({"destroy", "old-noop"});
  EXPECT_FALSE(fs::exists(dir));
}

#if VMCTL_WITH_QEMU
// Stopped with its last pid and start time still in the record: whatever now
// has that pid did not start then, so the VM shows as stopped and nothing is
// signalled.
TEST_F(VmctlTest, AQemuVmOfRecordFormat1IsStoppedAndDestroyed) {
  fs::path dir = install(data_.path(), "old-qemu", fixture("qemu.vm.json", data_.path()),
                         {{"console.log", "old boot messages\n"}, {"disk.qcow2", "overlay"}, {"qemu.log", ""}});
  nlohmann::json s = status("old-qemu");
  EXPECT_EQ(s.at("backend"), "qemu");
  EXPECT_EQ(s.at("state"), "stopped");
  EXPECT_EQ(ok({"log", "old-qemu"}), "old boot messages\n");
  ok({"stop", "old-qemu"});
  ok({"destroy", "old-qemu"});
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(list().empty());
}
#endif

}  // namespace
}  // namespace vmctl::test

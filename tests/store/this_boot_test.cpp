// run.json: what a start or stop changed, kept for this boot only (store.hpp).
#include "vm_manager/store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "os/files.hpp"
#include "os/proc.hpp"
#include "support/error_from.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/noop_backend.hpp"

namespace vm_manager {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vmctl::test::error_from;

class ThisBoot : public ::testing::Test {
 protected:
  void SetUp() override {
    VmSpec spec;
    spec.name = "web";
    spec.image_path = "/images/base.qcow2";
    VmLock lock = store.lock("web");
    created = store.create(lock, spec, [&](const VmSpec& s) { return backend.prepare(s); });
  }

  // The record as a start leaves it: a pid that dies with the host.
  VmRecord started() const {
    VmRecord record = created;
    record.handle.backend_state = BackendState{1, {{"pid", 4242}}};
    record.handle.ssh_port = 10044;
    return record;
  }

  void save(const VmRecord& record, Durability durability) {
    VmLock lock = store.lock("web");
    store.save(lock, record, durability);
  }

  fs::path run_file() const { return data.vm_dir("web") / "run.json"; }

  vmctl::test::TempDir temp;
  DataDir data{temp / "data"};
  VmStore store{data};
  NoopBackend backend{data};
  VmRecord created;
};

TEST_F(ThisBoot, ASaveForThisBootIsWhatLoadAndListSeeWhileVmJsonKeepsTheDurableRecord) {
  const std::string durable = *os::read_file(data.vm_file("web"));
  save(started(), Durability::this_boot);
  EXPECT_EQ(store.load("web"), started());
  ASSERT_EQ(store.list().size(), 1u);
  EXPECT_EQ(store.list()[0].record, started());
  EXPECT_EQ(*os::read_file(data.vm_file("web")), durable);
  EXPECT_EQ(fs::status(run_file()).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(ThisBoot, ADurableSaveDropsRunJson) {
  save(started(), Durability::this_boot);
  VmRecord changed = started();
  changed.handle.ssh_port = 10050;
  save(changed, Durability::durable);
  EXPECT_FALSE(fs::exists(run_file()));
  EXPECT_EQ(store.load("web"), changed);
}

// After a host crash and reboot, run.json may be there, whole or torn, but
// names processes of a boot that is over: the last durable record stands.
TEST_F(ThisBoot, RunJsonFromBeforeTheBootIsIgnoredWholeOrTorn) {
  for (std::string text : {std::string("{\"format\":2,\"handle\":{\"name\":\"web\"}}"), std::string("{\"form"),
                           std::string()}) {
    SCOPED_TRACE(text);
    std::ofstream(run_file(), std::ios::binary) << text;
    auto before_boot = std::chrono::file_clock::from_sys(os::boot_time() - 1h);
    fs::last_write_time(run_file(), before_boot);
    EXPECT_EQ(store.load("web"), created);
    EXPECT_EQ(store.salvage("web").id, created.handle.id);
  }
  // The next start's save replaces it.
  save(started(), Durability::this_boot);
  EXPECT_EQ(store.load("web"), started());
}

// Written in this boot, a run.json that does not read is no crash's doing:
// it is as corrupt as a bad vm.json, and salvage falls back on vm.json.
TEST_F(ThisBoot, AnUnreadableRunJsonOfThisBootIsCorrupt) {
  std::ofstream(run_file(), std::ios::binary) << "{\"format\":2,\"handle\":[";
  Error e = error_from([&] { store.load("web"); });
  EXPECT_EQ(e.code(), errc::store_corrupt);
  EXPECT_NE(e.message().find("run.json"), std::string::npos) << e.message();
  EXPECT_EQ(store.salvage("web").id, created.handle.id);
}

TEST_F(ThisBoot, SalvagePrefersThisBootsRecordWhichNamesTheLiveProcess) {
  save(started(), Durability::this_boot);
  std::ofstream(data.vm_file("web"), std::ios::binary) << "{\"format\":2,\"handle\":{\"id\":\"old\",\"vcpus\":\"x\"}}";
  VmHandle remains = store.salvage("web");
  EXPECT_EQ(remains.backend_state.data.value("pid", 0), 4242);
}

TEST_F(ThisBoot, ACorruptVmJsonIsFoundEvenWhileRunJsonStandsInForIt) {
  save(started(), Durability::this_boot);
  std::ofstream(data.vm_file("web"), std::ios::binary) << "{";
  EXPECT_EQ(error_from([&] { store.load("web"); }).code(), errc::store_corrupt);
}

}  // namespace
}  // namespace vm_manager

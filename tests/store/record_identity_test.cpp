// A record is data: one that names another VM, another work dir or an id
// unfit for a path is corrupt, in vm.json and in run.json alike, and destroy
// still removes only the VM's own folder.
#include "vm_manager/store.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <functional>

#include "os/files.hpp"
#include "support/error_from.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/json.hpp"
#include "vm_manager/noop_backend.hpp"

namespace vm_manager {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using vmctl::test::error_from;

class RecordIdentity : public ::testing::Test {
 protected:
  VmRecord create(const std::string& name) {
    VmSpec spec;
    spec.name = name;
    spec.image_path = "/images/base.qcow2";
    VmLock lock = store.lock(name);
    return store.create(lock, spec, [&](const VmSpec& s) { return backend.prepare(s); });
  }

  // web's record file with one handle field replaced.
  void tamper(const fs::path& file, const std::string& key, const json& value) {
    json record = json::parse(*os::read_file(data.vm_file("web")));
    record["handle"][key] = value;
    std::ofstream(file, std::ios::trunc) << record.dump(2);
  }

  vmctl::test::TempDir temp;
  DataDir data{temp / "data"};
  VmStore store{data};
  NoopBackend backend{data};
};

TEST_F(RecordIdentity, AnotherNameWorkDirOrABadIdIsCorrupt) {
  create("web");
  create("other");
  const std::string original = *os::read_file(data.vm_file("web"));
  const std::vector<std::pair<std::string, json>> lies{
      {"name", "other"},
      {"work_dir", data.vm_dir("other").string()},
      {"work_dir", data.vm_dir("web").string() + "/"},
      {"work_dir", "/"},
      {"id", "../../../etc"},
      {"id", ""},
      {"id", "0B5C3F7E-9A1D-4C2B-8E6F-1234567890AB"},
  };
  for (const fs::path& file : {data.vm_file("web"), data.vm_dir("web") / "run.json"}) {
    for (const auto& [key, value] : lies) {
      SCOPED_TRACE(file.filename().string() + " " + key + "=" + value.dump());
      std::ofstream(data.vm_file("web"), std::ios::trunc) << original;
      tamper(file, key, value);
      Error e = error_from([&] { store.load("web"); });
      EXPECT_EQ(e.code(), errc::store_corrupt);
      EXPECT_NE(e.message().find(file.filename().string()), std::string::npos) << e.message();
    }
    fs::remove(data.vm_dir("web") / "run.json");
  }
}

// A record whose work dir names another VM: removing it removes only its own
// folder; the other VM and its record stay as they were.
TEST_F(RecordIdentity, RemovingAVmWhoseRecordNamesAnotherLeavesThatOne) {
  create("web");
  VmRecord other = create("other");
  tamper(data.vm_file("web"), "work_dir", data.vm_dir("other").string());
  ASSERT_EQ(error_from([&] { store.load("web"); }).code(), errc::store_corrupt);
  EXPECT_EQ(store.salvage("web").work_dir, data.vm_dir("web").string());
  store.remove(store.lock("web"));
  EXPECT_FALSE(fs::exists(data.vm_dir("web")));
  EXPECT_EQ(store.load("other"), other);
}

// A FIFO in place of vm.json or run.json must not hang any command, nor
// /dev/zero or a huge file exhaust memory: each is a corrupt record, found at
// once, and list() still shows the VM.
TEST_F(RecordIdentity, SpecialAndHugeFilesAreCorruptAndNeverHang) {
  create("web");
  const std::string original = *os::read_file(data.vm_file("web"));
  for (const fs::path& file : {data.vm_file("web"), data.vm_dir("web") / "run.json"}) {
    const std::vector<std::pair<std::string, std::function<void()>>> swaps{
        {"fifo", [&] { ASSERT_EQ(::mkfifo(file.c_str(), 0600), 0); }},
        {"/dev/zero", [&] { fs::create_symlink("/dev/zero", file); }},
        {"a folder", [&] { fs::create_directory(file); }},
        {"a sparse 1 GiB file", [&] {
           std::ofstream(file) << "{";
           fs::resize_file(file, std::uintmax_t{1} << 30);
         }},
    };
    for (const auto& [what, swap] : swaps) {
      SCOPED_TRACE(file.filename().string() + " as " + what);
      std::ofstream(data.vm_file("web"), std::ios::trunc) << original;
      fs::remove_all(file);
      swap();
      auto begin = std::chrono::steady_clock::now();
      EXPECT_EQ(error_from([&] { store.load("web"); }).code(), errc::store_corrupt);
      auto entries = store.list();
      EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(2));
      ASSERT_EQ(entries.size(), 1u);
      EXPECT_FALSE(entries[0].record.has_value());
      fs::remove_all(file);
    }
  }
}

}  // namespace
}  // namespace vm_manager

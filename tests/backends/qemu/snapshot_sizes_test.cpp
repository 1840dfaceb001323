// The root disk's size at each snapshot (snapshot-disks.json, untrusted when
// read back), and the qemu backend's snapshots of a prepared VM whose disk
// grows between them, on images the real qemu-img makes, snapshots and
// restores (a FakeHost forwards qemu-img). tests/vmctl/resize_qemu_cli_test.cpp
// does the same with a real tiny guest.
#include "backends/qemu/snapshot_sizes.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "backends/qemu/fake_host.hpp"
#include "backends/qemu/prepared_vm.hpp"
#include "backends/qemu/qemu_backend.hpp"
#include "backends/qemu/qemu_vm.hpp"
#include "backends/qemu/work_dir_layout.hpp"
#include "os/process.hpp"
#include "support/temp_dir.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vmctl::test::FakeHost;
using vmctl::test::TempDir;

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

TEST(SnapshotSizes, OnlyWellFormedEntriesAreRead) {
  SnapshotDisks disks = parse_snapshot_disks(R"({"version": 1, "snapshots": {
      "good": {"created_unix": 1764939000, "disk_bytes": 1073741824, "disk_gb": null},
      "sized": {"created_unix": 1764939001, "disk_bytes": 3221225472, "disk_gb": 3},
      "../evil": {"created_unix": 1, "disk_bytes": 1073741824},
      "zero": {"created_unix": 1, "disk_bytes": 0},
      "negative": {"created_unix": 1, "disk_bytes": -5},
      "text": {"created_unix": 1, "disk_bytes": "1073741824"},
      "huge": {"created_unix": 1, "disk_bytes": 18446744073709551615},
      "nogb": {"created_unix": 1, "disk_bytes": 1073741824, "disk_gb": 0},
      "nodate": {"disk_bytes": 1073741824},
      "list": [1, 2]}})");
  EXPECT_EQ(disks.size(), 2u);
  EXPECT_EQ(disks.at("good"), (SnapshotDisk{1764939000, 1 * kGiB, std::nullopt}));
  EXPECT_EQ(disks.at("sized"), (SnapshotDisk{1764939001, 3 * kGiB, 3}));
}

TEST(SnapshotSizes, AnythingElseReadsAsNoEntries) {
  EXPECT_TRUE(parse_snapshot_disks("").empty());
  EXPECT_TRUE(parse_snapshot_disks("{not json").empty());
  EXPECT_TRUE(parse_snapshot_disks("[]").empty());
  EXPECT_TRUE(parse_snapshot_disks(R"({"version": 2, "snapshots": {}})").empty());
  EXPECT_TRUE(parse_snapshot_disks(R"({"version": 1, "snapshots": []})").empty());
}

TEST(SnapshotSizes, AnEntryAppliesOnlyToTheSnapshotOfItsDate) {
  SnapshotDisks disks{{"a", {100, 1 * kGiB, std::nullopt}}, {"b", {200, 2 * kGiB, 2}}};
  std::vector<SnapshotInfo> listed(3);
  listed[0].name = "a", listed[0].created_unix = 100, listed[0].disk_bytes = 5 * kGiB;
  listed[1].name = "b", listed[1].created_unix = 201, listed[1].disk_bytes = 5 * kGiB;  // replaced by hand
  listed[2].name = "c", listed[2].created_unix = 300, listed[2].disk_bytes = 5 * kGiB;  // made by hand
  apply_snapshot_disks(disks, listed);
  EXPECT_EQ(listed[0].disk_bytes, 1 * kGiB);
  EXPECT_EQ(listed[1].disk_bytes, 5 * kGiB);
  EXPECT_EQ(listed[2].disk_bytes, 5 * kGiB);
}

class QemuSnapshotSizeTest : public PreparedQemuVmTest {
 protected:
  std::map<std::string, std::uint64_t> listed_sizes() {
    std::map<std::string, std::uint64_t> sizes;
    for (const SnapshotInfo& s : backend_.list_snapshots(prepared_)) sizes[s.name] = s.disk_bytes;
    return sizes;
  }

  fs::path sizes_file() const { return layout::snapshot_disks(prepared_.work_dir); }
};

TEST_F(QemuSnapshotSizeTest, EachSnapshotKeepsTheSizeItWasTakenAtAndARestoreBringsItBack) {
  backend_.create_snapshot(prepared_, "small", SnapshotMemory::include);
  prepared_ = backend_.resize(prepared_, VmResize{std::nullopt, std::nullopt, 3});
  backend_.create_snapshot(prepared_, "big", SnapshotMemory::include);
  // One made by hand has no record: the disk's current size stands in.
  auto hand = os::run_process({"qemu-img", "snapshot", "-c", "hand", QemuVm(prepared_).overlay_path}, 30s);
  ASSERT_TRUE(hand.ok()) << hand.err;
  EXPECT_EQ(listed_sizes(), (std::map<std::string, std::uint64_t>{
                                {"small", 1 * kGiB}, {"big", 3 * kGiB}, {"hand", 3 * kGiB}}));

  VmHandle restored = backend_.restore_snapshot(prepared_, "small");
  EXPECT_EQ(disk_bytes(), 1 * kGiB) << "qemu-img brings the snapshot's disk size back";
  EXPECT_EQ(restored.disk_gb, std::nullopt) << "the disk has the image's size again, as at create";
  VmHandle expected = prepared_;
  expected.disk_gb = std::nullopt;
  EXPECT_EQ(restored, expected) << "nothing else of the VM changes";
  prepared_ = restored;
  EXPECT_EQ(listed_sizes(), (std::map<std::string, std::uint64_t>{
                                {"small", 1 * kGiB}, {"big", 3 * kGiB}, {"hand", 1 * kGiB}}));

  restored = backend_.restore_snapshot(prepared_, "big");
  EXPECT_EQ(disk_bytes(), 3 * kGiB);
  EXPECT_EQ(restored.disk_gb, 3u);
  // Without a record, the disk's size decides: whole GB here.
  restored = backend_.restore_snapshot(restored, "hand");
  EXPECT_EQ(restored.disk_gb, 3u);
}

TEST_F(QemuSnapshotSizeTest, ADeletedSnapshotsRecordGoes) {
  backend_.create_snapshot(prepared_, "one", SnapshotMemory::exclude);
  backend_.create_snapshot(prepared_, "two", SnapshotMemory::exclude);
  backend_.delete_snapshot(prepared_, "one");
  std::ifstream in(sizes_file());
  nlohmann::json file = nlohmann::json::parse(in);
  EXPECT_EQ(file.at("snapshots").size(), 1u);
  EXPECT_TRUE(file.at("snapshots").contains("two"));
}

TEST_F(QemuSnapshotSizeTest, AForgedOrUnreadableRecordIsIgnored) {
  backend_.create_snapshot(prepared_, "small", SnapshotMemory::exclude);
  prepared_ = backend_.resize(prepared_, VmResize{std::nullopt, std::nullopt, 2});
  {
    std::ifstream in(sizes_file());
    nlohmann::json file = nlohmann::json::parse(in);
    // Another date: the record of a snapshot since replaced under that name.
    file["snapshots"]["small"]["created_unix"] = file["snapshots"]["small"]["created_unix"].get<std::int64_t>() - 1;
    std::ofstream(sizes_file()) << file.dump();
  }
  EXPECT_EQ(listed_sizes().at("small"), 2 * kGiB);
  std::ofstream(sizes_file()) << "\x01 not json";
  EXPECT_EQ(listed_sizes().at("small"), 2 * kGiB);
  // Restoring still follows the disk: qemu-img brings 1 GB back.
  VmHandle restored = backend_.restore_snapshot(prepared_, "small");
  EXPECT_EQ(restored.disk_gb, 1u);
  // A folder where the file should be: still no record, and no failure.
  fs::remove(sizes_file());
  fs::create_directory(sizes_file());
  EXPECT_EQ(listed_sizes().at("small"), 1 * kGiB);
  backend_.create_snapshot(restored, "later", SnapshotMemory::exclude);
  EXPECT_EQ(listed_sizes().at("later"), 1 * kGiB);
}

}  // namespace
}  // namespace vm_manager::qemu

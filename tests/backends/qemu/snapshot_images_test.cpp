// The qemu-img side of snapshots: its JSON read (untrusted input) and the
// arguments it is run with (tests/vmctl/snapshot_qemu_cli_test.cpp runs it).
#include "backends/qemu/snapshot_images.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/error_from.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

using ::testing::HasSubstr;
using vmctl::test::error_from;

// qemu-img 7.2's `info --output=json` of an overlay with two snapshots,
// the second with RAM.
constexpr const char* kInfo = R"({
    "snapshots": [
        {"icount": 0, "vm-clock-nsec": 0, "name": "disks", "date-sec": 1764939000, "date-nsec": 1,
         "vm-clock-sec": 0, "id": "1", "vm-state-size": 0},
        {"icount": 9, "vm-clock-nsec": 250000000, "name": "live", "date-sec": 1764939100, "date-nsec": 2,
         "vm-clock-sec": 61, "id": "2", "vm-state-size": 4194304}
    ],
    "virtual-size": 67108864, "filename": "/d/vms/web/disk.qcow2", "cluster-size": 65536, "format": "qcow2",
    "actual-size": 200704, "full-backing-filename": "/cache/base.qcow2", "backing-filename": "/cache/base.qcow2",
    "backing-filename-format": "qcow2", "dirty-flag": false
})";

TEST(SnapshotImages, InfoGivesFormatBackingAndSnapshotsOldestFirst) {
  SnapshotImage image = parse_snapshot_image(kInfo, "/d/vms/web/disk.qcow2");
  EXPECT_EQ(image.format, "qcow2");
  EXPECT_EQ(image.virtual_size, 64u << 20);
  EXPECT_EQ(image.backing, "/cache/base.qcow2");
  ASSERT_EQ(image.snapshots.size(), 2u);
  EXPECT_EQ(image.snapshots[0], (SnapshotInfo{"disks", 1764939000, 64u << 20, false, 0, 0}));
  EXPECT_EQ(image.snapshots[1], (SnapshotInfo{"live", 1764939100, 64u << 20, true, 4194304, 61250}));
}

TEST(SnapshotImages, ARawImageWithoutSnapshotsOrBacking) {
  SnapshotImage image = parse_snapshot_image(R"({"format": "raw", "virtual-size": 540672})", "/v/OVMF_VARS.fd");
  EXPECT_EQ(image.format, "raw");
  EXPECT_FALSE(image.backing);
  EXPECT_TRUE(image.snapshots.empty());
}

TEST(SnapshotImages, UnexpectedJsonIsSnapshotFailed) {
  for (const char* text : {"", "[]", R"({"format": 1, "virtual-size": 1})", R"({"format": "qcow2"})",
                           R"({"format": "qcow2", "virtual-size": 1, "snapshots": [{"name": 2}]})"}) {
    Error e = error_from([&] { parse_snapshot_image(text, "/x.qcow2"); });
    EXPECT_EQ(e.code(), errc::snapshot_failed) << text;
    EXPECT_THAT(e.message(), HasSubstr("/x.qcow2"));
  }
}

TEST(SnapshotImages, QemuImgArguments) {
  using Args = std::vector<std::string>;
  EXPECT_EQ(image_snapshot_args(ImageSnapshotOp::create, "s1", "/d/disk.qcow2"),
            (Args{"snapshot", "-q", "-c", "s1", "/d/disk.qcow2"}));
  EXPECT_EQ(image_snapshot_args(ImageSnapshotOp::apply, "s1", "/d/disk.qcow2"),
            (Args{"snapshot", "-q", "-a", "s1", "/d/disk.qcow2"}));
  EXPECT_EQ(image_snapshot_args(ImageSnapshotOp::remove, "s1", "/d/disk.qcow2"),
            (Args{"snapshot", "-q", "-d", "s1", "/d/disk.qcow2"}));
}

}  // namespace
}  // namespace vm_manager::qemu

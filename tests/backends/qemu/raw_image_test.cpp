// Raw images must show a partition table, filesystem or boot sector:
// signatures recognised in a head of bytes, and create_overlay with the
// real qemu-img refusing blank, tiny and text "images" unless allowed, then
// with a warning.
#include "backends/qemu/raw_image.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "backends/qemu/disk.hpp"
#include "backends/qemu/fake_host.hpp"
#include "os/process.hpp"
#include "support/error_from.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using vmctl::test::error_from;
using vmctl::test::FakeHost;
using vmctl::test::TempDir;

// kRawHeadBytes of zeros with `bytes` written at `offset`.
std::string head_with(std::size_t offset, std::string_view bytes) {
  std::string head(kRawHeadBytes, '\0');
  head.replace(offset, bytes.size(), bytes);
  return head;
}

TEST(RecogniseRawContent, KnowsEachSignatureAtItsOffset) {
  using namespace std::string_view_literals;
  struct Case {
    std::size_t offset;
    std::string_view bytes;
    std::string_view what;
  };
  for (const Case& c : {Case{510, "\x55\xaa"sv, "boot sector"}, Case{512, "EFI PART"sv, "GPT"},
                        Case{4096, "EFI PART"sv, "GPT"}, Case{512, "LABELONE"sv, "LVM"},
                        Case{0, "LUKS\xba\xbe"sv, "LUKS"}, Case{1080, "\x53\xef"sv, "ext2/3/4"},
                        Case{0, "XFSB"sv, "XFS"}, Case{65600, "_BHRfS_M"sv, "btrfs"}, Case{0, "hsqs"sv, "squashfs"},
                        Case{3, "NTFS    "sv, "NTFS"}, Case{54, "FAT16   "sv, "FAT16"}, Case{82, "FAT32   "sv, "FAT32"},
                        Case{32769, "CD001"sv, "ISO 9660"}}) {
    auto found = recognise_raw_content(head_with(c.offset, c.bytes));
    ASSERT_TRUE(found) << c.what;
    EXPECT_THAT(std::string(*found), HasSubstr(std::string(c.what)));
    // One byte off, it is not recognised.
    EXPECT_FALSE(recognise_raw_content(head_with(c.offset + 1, c.bytes))) << c.what;
  }
}

TEST(RecogniseRawContent, BlankTextAndShortHeadsShowNothing) {
  EXPECT_FALSE(recognise_raw_content(std::string(kRawHeadBytes, '\0')));
  EXPECT_FALSE(recognise_raw_content(std::string(kRawHeadBytes, 'x')));
  EXPECT_FALSE(recognise_raw_content(""));
  EXPECT_FALSE(recognise_raw_content("\x55"));  // shorter than any signature's end
  EXPECT_FALSE(recognise_raw_content(std::string(511, '\0')));
}

class RawImageTest : public ::testing::Test {
 protected:
  RawImageTest() {
    host_.forward_to_real(config_.qemu_img);
    config_.log = Logger([this](LogLevel level, std::string_view line) {
      std::lock_guard guard(mutex_);
      if (level == LogLevel::warn) warnings_.emplace_back(line);
    });
  }

  void SetUp() override {
    ASSERT_TRUE(os::run_process({config_.qemu_img, "--version"}, 10s).ok()) << "qemu-img is missing: make deps installs it";
  }

  fs::path file_of(const std::string& name, const std::string& bytes) {
    fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  void run(const std::vector<std::string>& argv) {
    auto out = os::run_process(argv, 60s);
    ASSERT_TRUE(out.ok()) << argv.front() << ": " << out.err;
  }

  // The overlay's path; the test expects it made or not.
  fs::path overlay() const { return dir_ / "disk.qcow2"; }

  Error refused(const fs::path& base) {
    Error e = error_from([&] { create_overlay(base, overlay(), std::nullopt, config_, host_); });
    EXPECT_FALSE(fs::exists(fs::symlink_status(overlay()))) << "a refused base left an overlay";
    return e;
  }

  std::vector<std::string> warnings() {
    std::lock_guard guard(mutex_);
    return warnings_;
  }

  TempDir dir_;
  QemuConfig config_;
  FakeHost host_;
  std::mutex mutex_;
  std::vector<std::string> warnings_;
};

TEST_F(RawImageTest, EmptyFileIsRefused) {
  fs::path base = file_of("empty.img", "");
  Error e = refused(base);
  EXPECT_EQ(e.code(), errc::image_unrecognised_raw);
  EXPECT_EQ(e.message(), "raw image " + base.string() + " is 0 bytes, smaller than one sector (512 bytes)");
  EXPECT_THAT(e.help(), HasSubstr("allow unrecognised raw images"));
}

TEST_F(RawImageTest, HundredByteTextFileIsRefused) {
  fs::path base = file_of("notes.txt", std::string(99, 'x') + "\n");
  Error e = refused(base);
  EXPECT_EQ(e.code(), errc::image_unrecognised_raw);
  EXPECT_EQ(e.message(), "raw image " + base.string() + " is 100 bytes, smaller than one sector (512 bytes)");
}

TEST_F(RawImageTest, LargeTextOrBlankFileIsRefused) {
  fs::path text = file_of("readme.txt", std::string(100000, 't'));
  Error e = refused(text);
  EXPECT_EQ(e.code(), errc::image_unrecognised_raw);
  EXPECT_EQ(e.message(), "raw image " + text.string() + " holds no partition table, filesystem or boot sector");
  fs::path blank = dir_ / "blank.img";
  run({config_.qemu_img, "create", "-q", "-f", "raw", blank.string(), "16M"});
  EXPECT_EQ(refused(blank).code(), errc::image_unrecognised_raw);
  EXPECT_TRUE(warnings().empty());
}

TEST_F(RawImageTest, Ext4ImageIsAccepted) {
  fs::path base = file_of("ext4.img", "");
  fs::resize_file(base, 8 * 1024 * 1024);
  run({"mkfs.ext4", "-F", "-q", base.string()});
  create_overlay(base, overlay(), std::nullopt, config_, host_);
  EXPECT_TRUE(fs::is_regular_file(overlay()));
  EXPECT_TRUE(warnings().empty());
}

// A partition table with one Linux partition, as fdisk writes it: the entry
// at 446 and the signature at 510.
TEST_F(RawImageTest, MbrPartitionedImageIsAccepted) {
  std::string disk(1024 * 1024, '\0');
  const char entry[16] = {0x00, 0x00, 0x02, 0x00, static_cast<char>(0x83), 0x00, 0x00, 0x00,
                          0x00, 0x08, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00};
  disk.replace(446, sizeof entry, entry, sizeof entry);
  disk[510] = '\x55';
  disk[511] = '\xaa';
  fs::path base = file_of("mbr.img", disk);
  create_overlay(base, overlay(), std::nullopt, config_, host_);
  EXPECT_TRUE(fs::is_regular_file(overlay()));
}

TEST_F(RawImageTest, AllowedUnrecognisedImageIsUsedWithAWarning) {
  fs::path base = file_of("notes.txt", std::string(100, 'x'));
  create_overlay(base, overlay(), std::nullopt, config_, host_, UnrecognisedRaw::allow);
  EXPECT_TRUE(fs::is_regular_file(overlay()));
  EXPECT_EQ(warnings(), std::vector<std::string>{"raw image " + base.string() +
                                                 " is 100 bytes, smaller than one sector (512 bytes); using it as asked"});
}

// The check is for raw images only: a qcow2 holds no signature in its data
// either way and is never read by it.
TEST_F(RawImageTest, Qcow2IsNotChecked) {
  fs::path base = dir_ / "blank.qcow2";
  run({config_.qemu_img, "create", "-q", "-f", "qcow2", base.string(), "16M"});
  create_overlay(base, overlay(), std::nullopt, config_, host_);
  EXPECT_TRUE(fs::is_regular_file(overlay()));
}

}  // namespace
}  // namespace vm_manager::qemu

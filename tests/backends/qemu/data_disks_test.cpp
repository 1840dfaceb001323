// create_data_disks and check_data_disk_names (data_disks.hpp), with the
// real qemu-img through a FakeHost that can also script its failure.
#include "backends/qemu/data_disks.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "backends/qemu/fake_host.hpp"
#include "backends/qemu/work_dir_layout.hpp"
#include "support/error_from.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vmctl::test::error_from;
using vmctl::test::FakeHost;
using vmctl::test::TempDir;

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

class DataDisksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(os::run_process({config_.qemu_img, "--version"}, 10s).ok()) << "qemu-img is missing: make deps installs it";
  }

  static nlohmann::json info(const fs::path& image) {
    auto out = os::run_process({"qemu-img", "info", "--output=json", image.string()}, 30s);
    EXPECT_TRUE(out.ok()) << out.err;
    return nlohmann::json::parse(out.out);
  }

  TempDir dir_;
  QemuConfig config_;
  FakeHost host_;
};

TEST_F(DataDisksTest, EachIsAnEmptyPrivateQcow2OfItsSize) {
  host_.forward_to_real(config_.qemu_img);
  create_data_disks(dir_.path(), {{"scratch", 3}, {"logs", 1}}, config_, host_);
  for (const auto& [name, gb] : {std::pair<std::string, std::uint64_t>{"scratch", 3}, {"logs", 1}}) {
    const fs::path file = layout::data_disk(dir_.path(), name);
    nlohmann::json j = info(file);
    EXPECT_EQ(j.at("format"), "qcow2") << name;
    EXPECT_EQ(j.at("virtual-size").get<std::uint64_t>(), gb * kGiB) << name;
    EXPECT_FALSE(j.contains("backing-filename")) << name;
    EXPECT_EQ(fs::status(file).permissions(), fs::perms::owner_read | fs::perms::owner_write) << name;
  }
}

TEST_F(DataDisksTest, WhenOneFailsTheOnesMadeAreRemoved) {
  host_.forward_to_real(config_.qemu_img);
  const fs::path second = layout::data_disk(dir_.path(), "second");
  host_.on_run({config_.qemu_img, "create", "-q", "-f", "qcow2", second.string()},
               FakeHost::exit_code(1, "", "qemu-img: No space left on device\n"));
  Error e = error_from([&] { create_data_disks(dir_.path(), {{"first", 1}, {"second", 1}}, config_, host_); });
  EXPECT_EQ(e.code(), errc::spec_invalid);
  EXPECT_NE(e.message().find("data disk 'second': qemu-img: No space left on device"), std::string::npos)
      << e.message();
  EXPECT_TRUE(fs::is_empty(dir_.path())) << "left behind in " << dir_.path();
}

TEST_F(DataDisksTest, AnExistingFileIsNeverOverwritten) {
  const fs::path file = layout::data_disk(dir_.path(), "scratch");
  { std::ofstream(file) << "someone's data"; }
  EXPECT_EQ(error_from([&] { create_data_disks(dir_.path(), {{"scratch", 1}}, config_, host_); }).code(),
            errc::vm_already_exists);
  EXPECT_TRUE(host_.run_argvs().empty());
  EXPECT_EQ(fs::file_size(file), 14u);
}

TEST(DataDiskNames, ARecordedNameThatLeadsOutOfTheWorkDirIsACorruptRecord) {
  VmHandle h;
  h.name = "web";
  h.data_disks = {{"scratch", 1}};
  EXPECT_NO_THROW(check_data_disk_names(h));
  for (const std::string bad : {"../../etc/x", "a,b", "", "a/b"}) {
    h.data_disks = {{bad, 1}};
    EXPECT_EQ(error_from([&] { check_data_disk_names(h); }).code(), errc::store_corrupt) << bad;
  }
}

}  // namespace
}  // namespace vm_manager::qemu

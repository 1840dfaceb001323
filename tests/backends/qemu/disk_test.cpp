// The VM's qcow2 overlay, made by the real qemu-img (through a FakeHost that
// forwards qemu-img and records its argv), plus scripted qemu-img failures.
#include "backends/qemu/disk.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/qemu/fake_host.hpp"
#include "os/process.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::HasSubstr;
using vmctl::test::FakeHost;
using vmctl::test::TempDir;

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

class OverlayTest : public ::testing::Test {
 protected:
  OverlayTest() { host_.forward_to_real(config_.qemu_img); }

  void SetUp() override {
    ASSERT_TRUE(os::run_process({config_.qemu_img, "--version"}, 10s).ok()) << "qemu-img is missing: make deps installs it";
  }

  // qemu-img create -f <format> <path> <size>, outside the code under test.
  fs::path make_image(const std::string& name, const std::string& format, const std::string& size) {
    fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    auto out = os::run_process({config_.qemu_img, "create", "-q", "-f", format, path.string(), size}, 30s);
    EXPECT_TRUE(out.ok()) << out.err;
    return path;
  }

  static nlohmann::json info(const fs::path& image) {
    auto out = os::run_process({"qemu-img", "info", "--output=json", image.string()}, 30s);
    EXPECT_TRUE(out.ok()) << out.err;
    return nlohmann::json::parse(out.out);
  }

  // The one "qemu-img create" call, or empty.
  std::vector<std::string> create_call() const {
    for (const auto& argv : host_.run_argvs()) {
      if (argv.size() > 1 && argv[1] == "create") return argv;
    }
    return {};
  }

  // Writes the 0x55AA boot signature at offset 510, as an MBR has it.
  static void mark_boot_sector(const fs::path& image) {
    std::fstream f(image, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(510);
    f.write("\x55\xaa", 2);
  }

  static std::string read(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  TempDir dir_;
  QemuConfig config_;
  FakeHost host_;
};

TEST_F(OverlayTest, Qcow2BaseIsReferencedByAbsolutePathAndFormat) {
  fs::path base = make_image("images/base.qcow2", "qcow2", "1G");
  fs::path overlay = dir_ / "vm" / "disk.qcow2";
  fs::create_directories(overlay.parent_path());
  create_overlay(base, overlay, std::nullopt, config_, host_);

  auto j = info(overlay);
  EXPECT_EQ(j.at("format"), "qcow2");
  EXPECT_EQ(j.at("backing-filename"), base.string());
  EXPECT_EQ(j.at("full-backing-filename"), base.string());
  EXPECT_EQ(j.at("backing-filename-format"), "qcow2");
  EXPECT_EQ(j.at("virtual-size").get<std::uint64_t>(), 1 * kGiB);
  // The guest's secrets end up on it.
  EXPECT_EQ(fs::status(overlay).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  // The base is untouched.
  EXPECT_FALSE(info(base).contains("backing-filename"));

  auto argv = create_call();
  ASSERT_FALSE(argv.empty());
  EXPECT_EQ(argv.front(), "qemu-img");
  EXPECT_THAT(argv, Contains("-F"));
  EXPECT_THAT(argv, Contains(base.string()));
}

TEST_F(OverlayTest, RelativeBaseIsStoredAsAnAbsolutePath) {
  fs::path base = make_image("images/rel.qcow2", "qcow2", "64M");
  fs::path relative = fs::relative(base);
  ASSERT_TRUE(relative.is_relative());
  fs::path overlay = dir_ / "disk.qcow2";
  create_overlay(relative, overlay, std::nullopt, config_, host_);
  auto j = info(overlay);
  EXPECT_EQ(j.at("backing-filename"), base.string());
  EXPECT_TRUE(fs::path(j.at("backing-filename").get<std::string>()).is_absolute());
}

TEST_F(OverlayTest, DotDotInTheBasePathIsNormalised) {
  fs::path base = make_image("images/b.qcow2", "qcow2", "64M");
  fs::create_directories(dir_ / "other");
  fs::path overlay = dir_ / "disk.qcow2";
  create_overlay(dir_ / "other" / ".." / "images" / "b.qcow2", overlay, std::nullopt, config_, host_);
  EXPECT_EQ(info(overlay).at("backing-filename"), base.string());
}

TEST_F(OverlayTest, RawBaseWorksWithRawBackingFormat) {
  fs::path base = make_image("images/base.img", "raw", "64M");
  mark_boot_sector(base);  // a blank raw image is refused (RawImageTest)
  fs::path overlay = dir_ / "disk.qcow2";
  create_overlay(base, overlay, std::nullopt, config_, host_);
  auto j = info(overlay);
  EXPECT_EQ(j.at("format"), "qcow2");
  EXPECT_EQ(j.at("backing-filename"), base.string());
  EXPECT_EQ(j.at("backing-filename-format"), "raw");
  EXPECT_EQ(j.at("virtual-size").get<std::uint64_t>(), 64ull * 1024 * 1024);
}

TEST_F(OverlayTest, DiskGbGrowsTheOverlay) {
  fs::path base = make_image("base.qcow2", "qcow2", "1G");
  fs::path overlay = dir_ / "disk.qcow2";
  create_overlay(base, overlay, 3, config_, host_);
  auto j = info(overlay);
  EXPECT_EQ(j.at("virtual-size").get<std::uint64_t>(), 3 * kGiB);
  EXPECT_EQ(j.at("backing-filename"), base.string());
  EXPECT_EQ(info(base).at("virtual-size").get<std::uint64_t>(), 1 * kGiB);
}

TEST_F(OverlayTest, DiskGbEqualToTheBaseIsFine) {
  fs::path base = make_image("base.qcow2", "qcow2", "2G");
  fs::path overlay = dir_ / "disk.qcow2";
  create_overlay(base, overlay, 2, config_, host_);
  EXPECT_EQ(info(overlay).at("virtual-size").get<std::uint64_t>(), 2 * kGiB);
}

TEST_F(OverlayTest, DiskGbSmallerThanTheBaseIsRefusedAndCreatesNothing) {
  fs::path base = make_image("base.qcow2", "qcow2", "2G");  // sparse: costs nothing
  fs::path overlay = dir_ / "disk.qcow2";
  try {
    create_overlay(base, overlay, 1, config_, host_);
    FAIL() << "a 1 GB disk on a 2 GB image was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::spec_invalid);
    EXPECT_THAT(e.message(), HasSubstr("1 GB"));
    EXPECT_THAT(e.message(), HasSubstr("2.0 GB"));
    EXPECT_EQ(e.message().find('\n'), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(fs::symlink_status(overlay)));
  EXPECT_TRUE(create_call().empty()) << "qemu-img create ran";
}

TEST_F(OverlayTest, AnExistingOverlayIsNeverOverwritten) {
  fs::path base = make_image("base.qcow2", "qcow2", "64M");
  fs::path overlay = dir_ / "disk.qcow2";
  {
    std::ofstream out(overlay, std::ios::binary);
    out << "precious data";
  }
  try {
    create_overlay(base, overlay, std::nullopt, config_, host_);
    FAIL() << "an existing overlay was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::vm_already_exists);
  }
  EXPECT_EQ(read(overlay), "precious data");
  EXPECT_TRUE(create_call().empty()) << "qemu-img create ran";
}

TEST_F(OverlayTest, AnExistingQcow2OverlayKeepsItsBacking) {
  fs::path first = make_image("first.qcow2", "qcow2", "64M");
  fs::path second = make_image("second.qcow2", "qcow2", "64M");
  fs::path overlay = dir_ / "disk.qcow2";
  create_overlay(first, overlay, std::nullopt, config_, host_);
  EXPECT_THROW(create_overlay(second, overlay, 1, config_, host_), Error);
  EXPECT_EQ(info(overlay).at("backing-filename"), first.string());
}

TEST_F(OverlayTest, ADanglingSymlinkAtTheOverlayPathIsNotFollowed) {
  fs::path base = make_image("base.qcow2", "qcow2", "64M");
  fs::path overlay = dir_ / "disk.qcow2";
  fs::create_symlink(dir_ / "elsewhere.qcow2", overlay);
  try {
    create_overlay(base, overlay, std::nullopt, config_, host_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::vm_already_exists);
  }
  EXPECT_FALSE(fs::exists(dir_ / "elsewhere.qcow2"));
}

TEST_F(OverlayTest, MissingBaseIsSpecInvalid) {
  fs::path overlay = dir_ / "disk.qcow2";
  try {
    create_overlay(dir_ / "no-such.qcow2", overlay, std::nullopt, config_, host_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::spec_invalid);
    EXPECT_THAT(e.message(), HasSubstr("no-such.qcow2"));
    EXPECT_EQ(e.message().find('\n'), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(overlay));
}

TEST_F(OverlayTest, ADirectoryAsBaseIsSpecInvalid) {
  fs::create_directories(dir_ / "images");
  EXPECT_THROW(
      {
        try {
          create_overlay(dir_ / "images", dir_ / "disk.qcow2", std::nullopt, config_, host_);
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), errc::spec_invalid);
          throw;
        }
      },
      Error);
  EXPECT_FALSE(fs::exists(dir_ / "disk.qcow2"));
}

TEST_F(OverlayTest, ACorruptImageIsSpecInvalidWithOneLineFromQemuImg) {
  fs::path base = dir_ / "broken.qcow2";
  {
    std::ofstream out(base, std::ios::binary);
    out << std::string("QFI\xfb\0\0\0\x03", 8) << "garbage";  // a qcow2 v3 magic, then nonsense
  }
  fs::path overlay = dir_ / "disk.qcow2";
  try {
    create_overlay(base, overlay, std::nullopt, config_, host_);
    FAIL() << "a corrupt image was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::spec_invalid);
    EXPECT_THAT(e.message(), HasSubstr("broken.qcow2"));
    EXPECT_THAT(e.message(), HasSubstr("qemu-img"));
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
  }
  EXPECT_FALSE(fs::exists(overlay));
}

TEST_F(OverlayTest, CommasInPathsAreFineForQemuImg) {
  fs::path base = make_image("im,ages/ba,se.qcow2", "qcow2", "64M");
  fs::path overlay = dir_ / "v,m" / "disk.qcow2";
  fs::create_directories(overlay.parent_path());
  create_overlay(base, overlay, 1, config_, host_);
  auto j = info(overlay);
  EXPECT_EQ(j.at("backing-filename"), base.string());
  EXPECT_EQ(j.at("virtual-size").get<std::uint64_t>(), 1 * kGiB);
}

TEST_F(OverlayTest, InspectImageReportsFormatAndSize) {
  fs::path base = make_image("base.img", "raw", "32M");
  ImageInfo i = inspect_image(base, config_, host_);
  EXPECT_EQ(i.format, "raw");
  EXPECT_EQ(i.virtual_size, 32ull * 1024 * 1024);
}

// --- scripted qemu-img failures (no real qemu-img) ------------------------

class ScriptedQemuImgTest : public ::testing::Test {
 protected:
  ScriptedQemuImgTest() {
    config_.qemu_img = "/fake/qemu-img";
    base_ = dir_ / "base.qcow2";
    // Not read by the fake qemu-img; a sector with a boot signature, so
    // that it passes as a raw image too.
    std::string sector(512, '\0');
    sector[510] = '\x55';
    sector[511] = '\xaa';
    std::ofstream(base_, std::ios::binary) << sector;
  }
  TempDir dir_;
  QemuConfig config_;
  FakeHost host_;
  fs::path base_;
};

TEST_F(ScriptedQemuImgTest, UsesTheConfiguredQemuImgAndPassesFormatAndBacking) {
  host_.on_run({"/fake/qemu-img", "info"}, FakeHost::success(R"({"format": "raw", "virtual-size": 1073741824})"));
  host_.on_run({"/fake/qemu-img", "create"}, FakeHost::success());
  create_overlay(base_, dir_ / "disk.qcow2", 5, config_, host_);
  auto runs = host_.run_argvs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0], (std::vector<std::string>{"/fake/qemu-img", "info", "--output=json", base_.string()}));
  EXPECT_EQ(runs[1], (std::vector<std::string>{"/fake/qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                                               base_.string(), (dir_ / "disk.qcow2").string(), "5G"}));
}

TEST_F(ScriptedQemuImgTest, WithoutDiskGbNoSizeIsPassed) {
  host_.on_run({"/fake/qemu-img", "info"}, FakeHost::success(R"({"format": "qcow2", "virtual-size": 1})"));
  host_.on_run({"/fake/qemu-img", "create"}, FakeHost::success());
  create_overlay(base_, dir_ / "disk.qcow2", std::nullopt, config_, host_);
  auto runs = host_.run_argvs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1].back(), (dir_ / "disk.qcow2").string());
}

TEST_F(ScriptedQemuImgTest, FailingCreateIsSpecInvalidWithTheFirstLineOfItsError) {
  host_.on_run({"/fake/qemu-img", "info"}, FakeHost::success(R"({"format": "qcow2", "virtual-size": 1})"));
  host_.on_run({"/fake/qemu-img", "create"},
               FakeHost::exit_code(1, "", "qemu-img: disk.qcow2: Could not create: No space left on device\nmore\n"));
  try {
    create_overlay(base_, dir_ / "disk.qcow2", std::nullopt, config_, host_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::spec_invalid);
    EXPECT_THAT(e.message(), HasSubstr("No space left on device"));
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
  }
}

TEST_F(ScriptedQemuImgTest, UnexpectedInfoOutputIsSpecInvalid) {
  for (const char* output : {"not json", R"({"format": "qcow2"})", R"({"virtual-size": 5})",
                             R"({"format": 3, "virtual-size": 5})", R"([])"}) {
    FakeHost host;
    host.on_run({"/fake/qemu-img", "info"}, FakeHost::success(output));
    try {
      create_overlay(base_, dir_ / "disk.qcow2", std::nullopt, config_, host);
      ADD_FAILURE() << "accepted: " << output;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::spec_invalid) << output;
      EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
    }
    EXPECT_FALSE(fs::exists(dir_ / "disk.qcow2"));
  }
}

}  // namespace
}  // namespace vm_manager::qemu

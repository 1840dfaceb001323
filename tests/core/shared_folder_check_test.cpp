// validate_shared_folders: what a shared folder must be before a backend
// starts a virtiofsd for it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {
namespace {
namespace fs = std::filesystem;

class SharedFolderCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "src");
    fs::create_directories(dir_ / "data");
    std::ofstream(dir_ / "notes.txt") << "a file\n";
  }

  std::string path(const char* name) const { return (dir_.path() / name).string(); }

  // Raises `code`, naming `mentioned`, with a hint.
  static void expect_refused(const std::vector<SharedFolder>& folders, std::string_view code,
                             const std::string& mentioned) {
    try {
      validate_shared_folders(folders);
      ADD_FAILURE() << "accepted; expected " << code;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.message();
      EXPECT_NE(e.message().find(mentioned), std::string::npos) << e.message();
      EXPECT_FALSE(e.help().empty());
    }
  }

  vmctl::test::TempDir dir_;
};

TEST_F(SharedFolderCheck, FoldersWithAbsoluteDistinctGuestPathsAreAccepted) {
  EXPECT_NO_THROW(validate_shared_folders({{path("src"), "/srv/src", false}, {path("data"), "/srv/data", true}}));
  EXPECT_NO_THROW(validate_shared_folders({}));
}

TEST_F(SharedFolderCheck, AMissingHostFolderIsRefused) {
  expect_refused({{path("gone"), "/srv/gone", false}}, errc::mount_host_dir_missing, path("gone"));
}

TEST_F(SharedFolderCheck, AFileIsNotAFolder) {
  expect_refused({{path("notes.txt"), "/srv/notes", false}}, errc::mount_not_a_directory, path("notes.txt"));
}

TEST_F(SharedFolderCheck, ARelativeHostPathIsRefusedNotResolved) {
  expect_refused({{"src", "/srv/src", false}}, errc::mount_invalid_path, "src");
}

TEST_F(SharedFolderCheck, GuestPathsMustBeAbsoluteFstabFields) {
  expect_refused({{path("src"), "srv/src", false}}, errc::mount_invalid_path, "srv/src");
  expect_refused({{path("src"), "", false}}, errc::mount_invalid_path, "guest path");
  expect_refused({{path("src"), "/srv/my src", false}}, errc::mount_invalid_path, "/srv/my src");
  expect_refused({{path("src"), "/srv/a\tb", false}}, errc::mount_invalid_path, "guest path");
  expect_refused({{path("src"), "/", false}}, errc::mount_invalid_path, "root");
  expect_refused({{path("src"), "//.", false}}, errc::mount_invalid_path, "root");
}

TEST_F(SharedFolderCheck, TwoFoldersOnOneGuestPathAreRefused) {
  expect_refused({{path("src"), "/srv/x", false}, {path("data"), "/srv/x/", true}}, errc::mount_invalid_path,
                 "/srv/x");
}

TEST_F(SharedFolderCheck, ValidateSpecChecksTheFolders) {
  VmSpec spec;
  spec.name = "web";
  spec.shared_folders = {{path("gone"), "/srv/gone", false}};
  try {
    validate_spec(spec);
    ADD_FAILURE() << "validate_spec accepted a missing shared folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::mount_host_dir_missing);
  }
}

}  // namespace
}  // namespace vm_manager

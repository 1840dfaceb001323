// Session::upload_folder and download_folder against a real OpenSSH sshd on
// 127.0.0.1 (tests/support/sshd.hpp). The tiny guest's Dropbear with
// OpenSSH's sftp-server is covered by tests/vmctl/ssh_cli_test.cpp.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ssh/session.hpp"
#include "support/file_tree.hpp"
#include "support/error_from.hpp"
#include "support/sshd.hpp"
#include "vm_manager/error.hpp"

namespace {

namespace fs = std::filesystem;
namespace ssh = vm_manager::ssh;
using vmctl::test::expect_error;
namespace errc = vm_manager::errc;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using vmctl::test::describe_tree;
using vmctl::test::make_sample_tree;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

bool is_link(const fs::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

class FolderCopyTest : public ::testing::Test {
 protected:
  ssh::Session connect() {
    ssh::ConnectOptions options;
    options.timeout = 20s;
    return ssh::Session::connect(sshd.target(), options);
  }
  fs::path scratch(const std::string& name) const { return sshd.scratch() / name; }

  vmctl::test::Sshd sshd;
};

TEST_F(FolderCopyTest, UploadKeepsTheTreeItsModesAndItsSymlinksAsSymlinks) {
  const fs::path tree = scratch("tree");
  make_sample_tree(tree);
  auto session = connect();
  const fs::path remote = scratch("remote") / "x" / "copy";  // its parents are missing too
  const vm_manager::FolderCopy copy = session.upload_folder(tree, remote.string());
  EXPECT_EQ(copy.destination, remote.string());
  EXPECT_EQ(describe_tree(remote), describe_tree(tree));
  EXPECT_EQ(copy.files, 4u);
  EXPECT_EQ(copy.folders, 6u);  // ., a, a/b, a/b/c, empty, private
  EXPECT_EQ(copy.symlinks, 5u);
  EXPECT_TRUE(copy.skipped.empty());
  EXPECT_TRUE(is_link(remote / "link-out")) << "never followed out of the tree";
  EXPECT_TRUE(is_link(remote / "a" / "link-to-folder")) << "a symlink to a folder is not descended into";
}

TEST_F(FolderCopyTest, DownloadKeepsTheTreeItsModesAndItsSymlinksAsSymlinks) {
  const fs::path tree = scratch("tree");
  make_sample_tree(tree);
  auto session = connect();
  const fs::path local = scratch("down") / "copy";
  const vm_manager::FolderCopy copy = session.download_folder(tree.string(), local);
  EXPECT_EQ(copy.destination, local.string());
  EXPECT_EQ(describe_tree(local), describe_tree(tree));
  EXPECT_EQ(copy.files, 4u);
  EXPECT_EQ(copy.symlinks, 5u);
}

TEST_F(FolderCopyTest, AnExistingFolderReceivesTheTreeUnderItsName) {
  const fs::path tree = scratch("tree");
  make_sample_tree(tree);
  fs::create_directories(scratch("into-remote"));
  fs::create_directories(scratch("into-local"));
  auto session = connect();
  EXPECT_EQ(session.upload_folder(tree, scratch("into-remote").string() + "/").destination,
            (scratch("into-remote") / "tree").string());
  EXPECT_EQ(describe_tree(scratch("into-remote") / "tree"), describe_tree(tree));
  EXPECT_EQ(session.download_folder(tree.string(), scratch("into-local")).destination,
            (scratch("into-local") / "tree").string());
  EXPECT_EQ(describe_tree(scratch("into-local") / "tree"), describe_tree(tree));

  // "." names no folder of its own: its content fills the destination.
  const fs::path merged = scratch("merged");
  fs::create_directories(merged);
  EXPECT_EQ(session.upload_folder(tree / ".", merged.string()).destination, merged.string());
  EXPECT_TRUE(fs::exists(merged / "secret.txt"));
}

// A symlink already in the destination is replaced, never written through.
TEST_F(FolderCopyTest, SymlinksInTheDestinationAreReplacedNotFollowed) {
  const fs::path tree = scratch("tree");
  make_sample_tree(tree);
  const fs::path victim = scratch("victim.txt");
  std::ofstream(victim) << "untouched\n";
  for (const fs::path& destination : {scratch("up"), scratch("down")}) {
    fs::create_directories(destination);
    fs::create_symlink(victim, destination / "secret.txt");
    fs::create_symlink(victim, destination / "link-in");
  }
  auto session = connect();
  session.upload_folder(tree / ".", scratch("up").string());
  session.download_folder(tree.string() + "/.", scratch("down"));
  EXPECT_EQ(read_all(victim), "untouched\n");
  for (const fs::path& destination : {scratch("up"), scratch("down")}) {
    EXPECT_FALSE(is_link(destination / "secret.txt")) << destination;
    EXPECT_EQ(read_all(destination / "secret.txt"), "only mine\n");
    EXPECT_EQ(fs::read_symlink(destination / "link-in"), "a/b/c/deep.txt");
  }
}

TEST_F(FolderCopyTest, FifosAreSkippedAndListed) {
  const fs::path tree = scratch("tree");
  make_sample_tree(tree);
  ASSERT_EQ(::mkfifo((tree / "a" / "pipe").c_str(), 0600), 0);
  auto session = connect();
  const vm_manager::FolderCopy up = session.upload_folder(tree, scratch("up").string());
  EXPECT_THAT(up.skipped, ::testing::ElementsAre("a/pipe"));
  EXPECT_FALSE(fs::exists(scratch("up") / "a" / "pipe"));
  const vm_manager::FolderCopy down = session.download_folder(tree.string(), scratch("down"));
  EXPECT_THAT(down.skipped, ::testing::ElementsAre("a/pipe"));
  EXPECT_EQ(describe_tree(scratch("down")), describe_tree(scratch("up")));
}

TEST_F(FolderCopyTest, WhatIsNoFolderOrIsInTheWayIsAClearError) {
  const fs::path tree = scratch("tree");
  make_sample_tree(tree);
  auto session = connect();
  const fs::path file = tree / "secret.txt";
  auto up = expect_error(errc::cp_not_a_folder, [&] { session.upload_folder(file, scratch("x").string()); });
  EXPECT_THAT(up.message(), HasSubstr(file.string()));
  auto down = expect_error(errc::cp_not_a_folder, [&] { session.download_folder(file.string(), scratch("y")); });
  EXPECT_THAT(down.message(), HasSubstr(file.string()));
  expect_error(errc::ssh_sftp_failed, [&] { session.download_folder(scratch("absent").string(), scratch("z")); });

  // A folder where the tree has a file, and a file as the destination.
  fs::create_directories(scratch("blocked") / "secret.txt");
  auto blocked = expect_error(errc::cp_in_the_way, [&] { session.upload_folder(tree / ".", scratch("blocked").string()); });
  EXPECT_THAT(blocked.message(), HasSubstr("secret.txt"));
  expect_error(errc::cp_in_the_way, [&] { session.download_folder(tree.string() + "/.", scratch("blocked")); });
  expect_error(errc::cp_in_the_way, [&] { session.upload_folder(tree, file.string()); });
  expect_error(errc::cp_in_the_way, [&] { session.download_folder(tree.string(), file); });
}

}  // namespace

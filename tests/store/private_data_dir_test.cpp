// Issue 12: the data dir is private like ~/.ssh, lock files are never
// written through a link, and no lock file is made for a VM that does not
// exist. Each attack proves its decoy (outside the data dir) untouched.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <functional>
#include <iterator>
#include <string>

#include "support/child.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/store.hpp"

namespace vm_manager {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vmctl::test::Child;
using vmctl::test::TempDir;

constexpr uid_t kNobody = 65534;

std::string error_code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_FALSE(e.help().empty()) << e.message();
    return std::string(e.code());
  }
  return "(no error)";
}

// A file outside the data dir that must come out of every attack as it was.
class Decoy {
 public:
  explicit Decoy(fs::path path) : path_(std::move(path)) {
    std::ofstream(path_) << "decoy content\n";
    ::chmod(path_.c_str(), 0644);
    ::stat(path_.c_str(), &before_);
  }
  const fs::path& path() const { return path_; }
  void expect_untouched() const {
    struct stat now {};
    ASSERT_EQ(::stat(path_.c_str(), &now), 0);
    EXPECT_EQ(now.st_ino, before_.st_ino);
    EXPECT_EQ(now.st_mode, before_.st_mode);
    EXPECT_EQ(now.st_size, before_.st_size);
    std::ifstream in(path_);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "decoy content\n");
  }

 private:
  fs::path path_;
  struct stat before_ {};
};

class PrivateDataDir : public ::testing::Test {
 protected:
  void make_vm(const std::string& name) {
    data.ensure_exists();
    fs::create_directory(data.vm_dir(name));
  }
  TempDir temp;
  DataDir data{temp / "data"};
  VmStore store{data, [] {
    LockOptions o;
    o.timeout = 200ms;
    return o;
  }()};
};

TEST_F(PrivateDataDir, SymlinkedLockFileIsRefusedAndItsTargetUntouched) {
  Decoy decoy(temp / "decoy");
  data.ensure_exists();
  fs::create_symlink(decoy.path(), data.lock_file("ghost"));  // a VM that does not exist
  EXPECT_EQ(error_code_of([&] { store.lock("ghost"); }), errc::store_unsafe_lock);
  EXPECT_EQ(error_code_of([&] { store.lock_existing("ghost"); }), errc::store_unsafe_lock);
  make_vm("web");
  fs::create_symlink(decoy.path(), data.lock_file("web"));
  EXPECT_EQ(error_code_of([&] { store.lock_existing("web"); }), errc::store_unsafe_lock);
  EXPECT_EQ(error_code_of([&] { store.lock("web"); }), errc::store_unsafe_lock);
  decoy.expect_untouched();
}

TEST_F(PrivateDataDir, HardLinkedOrSpecialLockFilesAreRefused) {
  Decoy decoy(temp / "decoy");
  make_vm("web");
  fs::create_hard_link(decoy.path(), data.lock_file("web"));
  EXPECT_EQ(error_code_of([&] { store.lock_existing("web"); }), errc::store_unsafe_lock);
  decoy.expect_untouched();
  fs::remove(data.lock_file("web"));
  ASSERT_EQ(::mkfifo(data.lock_file("web").c_str(), 0600), 0);  // must not hang either
  EXPECT_EQ(error_code_of([&] { store.lock_existing("web"); }), errc::store_unsafe_lock);
}

TEST_F(PrivateDataDir, LockFileOfAnotherUserIsRefused) {
  ASSERT_EQ(::geteuid(), 0u) << "issue 12's tests run as root (CI does)";
  make_vm("web");
  { VmLock lock = store.lock_existing("web"); }
  ASSERT_EQ(::chown(data.lock_file("web").c_str(), kNobody, kNobody), 0);
  struct stat before {};
  ::stat(data.lock_file("web").c_str(), &before);
  EXPECT_EQ(error_code_of([&] { store.lock_existing("web"); }), errc::store_unsafe_lock);
  struct stat after {};
  ::stat(data.lock_file("web").c_str(), &after);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_EQ(after.st_uid, kNobody);
}

TEST_F(PrivateDataDir, NoLockFileForAVmThatDoesNotExist) {
  make_vm("web");
  EXPECT_EQ(error_code_of([&] { store.lock_existing("ghost"); }), errc::vm_not_found);
  EXPECT_FALSE(fs::exists(fs::symlink_status(data.lock_file("ghost"))));
  // A lock file an older release left for a name that never became a VM goes.
  std::ofstream(data.lock_file("ghost")) << "1\n";
  EXPECT_EQ(error_code_of([&] { store.lock_existing("ghost"); }), errc::vm_not_found);
  EXPECT_FALSE(fs::exists(fs::symlink_status(data.lock_file("ghost"))));
  // A VM whose lock file was removed gets a new one.
  { VmLock lock = store.lock_existing("web"); }
  EXPECT_TRUE(fs::is_regular_file(data.lock_file("web")));
}

TEST_F(PrivateDataDir, AWaiterOfADestroyedVmGetsNotFoundAndLeavesNoLockFile) {
  make_vm("web");
  std::optional<VmLock> held(store.lock_existing("web"));
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  Child waiter([&] {
    LockOptions o;
    o.timeout = 10s;
    o.on_wait = [&](std::string_view, long) { (void)!::write(pipe_fds[1], "w", 1); };
    try {
      VmStore(data, o).lock_existing("web");
      return 0;
    } catch (const Error& e) {
      return e.code() == errc::vm_not_found ? 1 : 2;
    }
  });
  char c = 0;
  ASSERT_EQ(::read(pipe_fds[0], &c, 1), 1);  // it waits
  store.remove(std::move(*held));
  EXPECT_EQ(waiter.wait(), 1);
  EXPECT_FALSE(fs::exists(fs::symlink_status(data.lock_file("web"))));
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

TEST_F(PrivateDataDir, WhatIsMadeIsPrivateWhateverTheUmask) {
  mode_t old = ::umask(0);
  data.ensure_exists();
  fs::path vm = data.create_vm_dir("web");
  VmLock lock = store.lock("web");
  ::umask(old);
  for (const fs::path& dir : {data.root(), data.vms_dir(), data.locks_dir(), vm}) {
    struct stat st {};
    ASSERT_EQ(::lstat(dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u) << dir;
  }
  struct stat st {};
  ASSERT_EQ(::lstat(data.lock_file("web").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(PrivateDataDir, FoldersWritableByOthersAreRefused) {
  data.ensure_exists();
  for (const fs::path& dir : {data.root(), data.vms_dir(), data.locks_dir()}) {
    for (mode_t mode : {0777, 0770, 0702, 01777}) {
      SCOPED_TRACE(dir.string() + " " + std::to_string(mode));
      ASSERT_EQ(::chmod(dir.c_str(), mode), 0);
      EXPECT_EQ(error_code_of([&] { store.list(); }), errc::data_dir_not_private);
      EXPECT_EQ(error_code_of([&] { store.lock("web"); }), errc::data_dir_not_private);
      EXPECT_EQ(error_code_of([&] { store.load("web"); }), errc::data_dir_not_private);
      EXPECT_EQ(error_code_of([&] { data.create_vm_dir("web"); }), errc::data_dir_not_private);
    }
    ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);  // readable by others is the owner's choice
    EXPECT_NO_THROW(store.list());
    ASSERT_EQ(::chmod(dir.c_str(), 0700), 0);
  }
  EXPECT_FALSE(fs::exists(data.vm_dir("web")));
  EXPECT_FALSE(fs::exists(data.lock_file("web")));
}

TEST_F(PrivateDataDir, SymlinkedVmsOrLocksFolderIsRefused) {
  for (const fs::path& link : {data.vms_dir(), data.locks_dir()}) {
    SCOPED_TRACE(link.string());
    fs::remove_all(data.root());
    data.ensure_exists();
    fs::path elsewhere = temp / ("elsewhere-" + link.filename().string());
    fs::create_directories(elsewhere);
    fs::remove(link);
    fs::create_directory_symlink(elsewhere, link);
    EXPECT_EQ(error_code_of([&] { store.list(); }), errc::data_dir_not_private);
    EXPECT_EQ(error_code_of([&] { store.lock("web"); }), errc::data_dir_not_private);
    EXPECT_EQ(error_code_of([&] { data.create_vm_dir("web"); }), errc::data_dir_not_private);
    EXPECT_TRUE(fs::is_empty(elsewhere));
  }
}

TEST_F(PrivateDataDir, ARootThatIsOurOwnSymlinkIsFollowed) {
  fs::create_directory(temp / "real");
  ::chmod((temp / "real").c_str(), 0700);
  fs::create_directory_symlink(temp / "real", temp / "link");
  DataDir linked(temp / "link");
  linked.create_vm_dir("web");
  EXPECT_TRUE(fs::is_directory(temp / "real" / "vms" / "web"));
}

// Root on a data dir that belongs to another user: refused unless allowed,
// and even then nothing may be writable by others or be a symlink.
TEST_F(PrivateDataDir, ForeignOwnerIsRefusedUnlessAllowed) {
  ASSERT_EQ(::geteuid(), 0u) << "issue 12's tests run as root (CI does)";
  data.ensure_exists();
  for (const fs::path& dir : {data.root(), data.vms_dir(), data.locks_dir()}) {
    ASSERT_EQ(::chown(dir.c_str(), kNobody, kNobody), 0);
  }
  try {
    store.list();
    ADD_FAILURE() << "root used a data dir of uid 65534";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::data_dir_not_private);
    EXPECT_NE(e.message().find("owned by uid 65534"), std::string::npos) << e.message();
    EXPECT_NE(e.help().find("foreign owner"), std::string::npos) << e.help();
  }
  DataDir allowed(data.root(), ForeignOwner::allow);
  VmStore trusting(allowed);
  EXPECT_NO_THROW(trusting.list());
  { VmLock lock = trusting.lock("web"); }  // root's own lock file in the user's locks/
  allowed.create_vm_dir("web");
  EXPECT_NO_THROW(trusting.lock_existing("web"));
  // A third user's folder is not trusted, nor a writable or linked one.
  ASSERT_EQ(::chown(allowed.vms_dir().c_str(), 65533, 65533), 0);
  EXPECT_EQ(error_code_of([&] { trusting.list(); }), errc::data_dir_not_private);
  ASSERT_EQ(::chown(allowed.vms_dir().c_str(), kNobody, kNobody), 0);
  ASSERT_EQ(::chmod(allowed.root().c_str(), 0770), 0);
  EXPECT_EQ(error_code_of([&] { trusting.list(); }), errc::data_dir_not_private);
  ASSERT_EQ(::chmod(allowed.root().c_str(), 0700), 0);
  fs::create_directories(temp / "elsewhere");
  fs::rename(allowed.locks_dir(), temp / "old-locks");
  fs::create_directory_symlink(temp / "elsewhere", allowed.locks_dir());
  EXPECT_EQ(error_code_of([&] { trusting.lock("db"); }), errc::data_dir_not_private);
  EXPECT_TRUE(fs::is_empty(temp / "elsewhere"));
}

// The same data dir is the user's own: it works for that user.
TEST_F(PrivateDataDir, TheOwnerUsesItsOwnDataDir) {
  ASSERT_EQ(::geteuid(), 0u) << "issue 12's tests run as root (CI does)";
  ASSERT_EQ(::chmod(temp.path().c_str(), 0711), 0);  // let uid 65534 reach its folder
  fs::create_directory(temp / "user");
  ASSERT_EQ(::chown((temp / "user").c_str(), kNobody, kNobody), 0);
  DataDir users(temp / "user" / "data");
  Child as_user([&] {
    if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) return 3;
    try {
      VmStore own(users);
      { VmLock lock = own.lock("web"); }
      users.create_vm_dir("web");
      VmLock lock = own.lock_existing("web");
      return own.list().size() == 1 ? 0 : 4;
    } catch (const Error&) {
      return 2;
    }
  });
  EXPECT_EQ(as_user.wait(), 0);
  struct stat st {};
  ASSERT_EQ(::stat(users.root().c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody);  // really made by the user
}

}  // namespace
}  // namespace vm_manager

// Issue 12 from the command line: a data dir that is not private is refused
// with a clear error, --allow-foreign-owner lets root use a user's data dir,
// and commands on a VM that does not exist make no lock file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <gmock/gmock.h>

#include "support/child.hpp"
#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
constexpr uid_t kNobody = 65534;

void expect_error(const ProcessResult& r, const std::string& code) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out, "");
  ASSERT_EQ(r.err.rfind("error[" + code + "]: ", 0), 0u) << r.err;
  auto first_newline = r.err.find('\n');
  ASSERT_NE(first_newline, std::string::npos);
  EXPECT_EQ(r.err.substr(first_newline + 1, 8), "  help: ") << r.err;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(VmctlTest, CommandsOnAMissingVmMakeNoLockFile) {
  ok({"create", "--name", "web", "--backend", "noop"});
  for (const char* command : {"status", "start", "stop", "suspend", "resume", "destroy"}) {
    expect_error(vmctl({command, "ghost"}), "vm_manager::vm::not_found");
  }
  EXPECT_FALSE(fs::exists(fs::symlink_status(data_ / "locks" / "ghost.lock")));
  ok({"destroy", "web"});
  EXPECT_FALSE(fs::exists(data_ / "locks" / "web.lock"));
}

TEST_F(VmctlTest, ASymlinkedLockFileLeavesItsTargetUntouched) {
  TempDir outside;
  const fs::path decoy = outside / "decoy";
  std::ofstream(decoy) << "decoy\n";
  ::chmod(decoy.c_str(), 0644);
  struct stat before {};
  ::stat(decoy.c_str(), &before);
  ok({"create", "--name", "web", "--backend", "noop"});
  fs::create_symlink(decoy, data_ / "locks" / "ghost.lock");
  fs::remove(data_ / "locks" / "web.lock");
  fs::create_symlink(decoy, data_ / "locks" / "web.lock");
  for (const char* vm : {"ghost", "web"}) {
    for (const char* command : {"start", "stop", "destroy"}) {
      expect_error(vmctl({command, vm}), "vm_manager::store::unsafe_lock");
    }
  }
  expect_error(vmctl({"create", "--name", "ghost", "--backend", "noop"}), "vm_manager::store::unsafe_lock");
  struct stat after {};
  ASSERT_EQ(::stat(decoy.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(after.st_mode, before.st_mode);
  EXPECT_EQ(read_all(decoy), "decoy\n");
}

TEST_F(VmctlTest, ADataDirWritableByOthersIsRefused) {
  ok({"create", "--name", "web", "--backend", "noop"});
  for (const fs::path& dir : {data_.path(), data_ / "vms", data_ / "locks"}) {
    for (mode_t mode : {0777, 0770}) {
      ASSERT_EQ(::chmod(dir.c_str(), mode), 0);
      ProcessResult r = vmctl({"list"});
      expect_error(r, "vm_manager::data_dir::not_private");
      EXPECT_THAT(r.err, HasSubstr(dir.string() + " is writable by")) << r.err;
      EXPECT_THAT(r.err, HasSubstr("  help: take away their write access: chmod go-w " + dir.string())) << r.err;
      expect_error(vmctl({"start", "web"}), "vm_manager::data_dir::not_private");
    }
    ASSERT_EQ(::chmod(dir.c_str(), 0700), 0);
  }
  fs::rename(data_ / "vms", data_ / "real-vms");
  fs::create_directory_symlink(data_ / "real-vms", data_ / "vms");
  ProcessResult r = vmctl({"list"});
  expect_error(r, "vm_manager::data_dir::not_private");
  EXPECT_THAT(r.err, HasSubstr("is a symbolic link")) << r.err;
}

// Root against a data dir owned by uid 65534: refused without the flag; with
// it, a VM can be created and listed.
TEST_F(VmctlTest, RootNeedsAllowForeignOwnerForAnotherUsersDataDir) {
  ASSERT_EQ(::geteuid(), 0u) << "issue 12's tests run as root (CI does)";
  ok({"create", "--name", "web", "--backend", "noop"});
  for (const fs::path& dir : {data_.path(), data_ / "vms", data_ / "locks"}) {
    ASSERT_EQ(::chown(dir.c_str(), kNobody, kNobody), 0);
  }
  ProcessResult refused = vmctl({"list"});
  expect_error(refused, "vm_manager::data_dir::not_private");
  EXPECT_THAT(refused.err, HasSubstr("is owned by uid 65534, not by uid 0")) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("  try: pass --allow-foreign-owner")) << refused.err;
  expect_error(vmctl({"create", "--name", "db", "--backend", "noop"}), "vm_manager::data_dir::not_private");
  EXPECT_FALSE(fs::exists(data_ / "vms" / "db"));

  ok({"--allow-foreign-owner", "create", "--name", "db", "--backend", "noop"});
  ok({"start", "db", "--allow-foreign-owner"});
  nlohmann::json all = nlohmann::json::parse(ok({"--allow-foreign-owner", "list", "--json"}));
  ASSERT_EQ(all.size(), 2u) << all.dump();
  EXPECT_EQ(all[0].at("name"), "db");
  EXPECT_EQ(all[0].at("state"), "running");
  ok({"--allow-foreign-owner", "destroy", "db"});
}

// The owner itself, no flag needed: the normal flow on its own data dir.
TEST_F(VmctlTest, AnUnprivilegedUserUsesItsOwnDataDir) {
  ASSERT_EQ(::geteuid(), 0u) << "issue 12's tests run as root (CI does)";
  ASSERT_EQ(::chown(data_.path().c_str(), kNobody, kNobody), 0);
  const fs::path dir = data_ / "user-data";
  const fs::path out = data_ / "out";
  Child as_user([&] {
    if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) return 3;
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0) return 4;
    for (std::vector<std::string> args : {std::vector<std::string>{"create", "--name", "web", "--backend", "noop"},
                                          {"start", "web"}, {"list"}, {"stop", "web"}, {"destroy", "web"}}) {
      std::vector<std::string> argv = vmctl_argv(dir.string(), args);
      std::vector<char*> c_argv;
      for (std::string& a : argv) c_argv.push_back(a.data());
      c_argv.push_back(nullptr);
      pid_t pid = ::fork();
      if (pid == 0) {
        ::execv(c_argv[0], c_argv.data());
        ::_exit(127);
      }
      int status = 0;
      if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 5;
    }
    return 0;
  });
  EXPECT_EQ(as_user.wait(), 0) << read_all(out);
  EXPECT_THAT(read_all(out), HasSubstr("web"));
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

}  // namespace
}  // namespace vmctl::test

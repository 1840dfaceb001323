// DataDir: where the data dir is, which paths it owns, and that removal never
// reaches outside vms/.
#include "vm_manager/data_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager {
namespace {

namespace fs = std::filesystem;
using vmctl::test::TempDir;

// Sets environment variables for one test and restores them afterwards.
// What a program hands DataDir::resolve; unset is the same as empty.
class EnvGuard : public Environment {
 public:
  void unset(const char* name) { Environment::set(name, ""); }
};

void touch(const fs::path& path, const std::string& content = "canary\n") {
  std::ofstream(path) << content;
  ASSERT_TRUE(fs::exists(path)) << path;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void expect_error(std::string_view code, const std::function<void()>& f) {
  try {
    f();
    ADD_FAILURE() << "expected an Error with code " << code;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.message();
    EXPECT_FALSE(e.help().empty()) << e.message();
  }
}

class DataDirResolve : public ::testing::Test {
 protected:
  TempDir temp;
  EnvGuard env;
  fs::path flag = temp / "flag";
  fs::path from_env = temp / "env";
  fs::path xdg = temp / "xdg";
  fs::path home = temp / "home";

  void set_all() {
    env.set("VMCTL_DATA_DIR", from_env.string());
    env.set("XDG_DATA_HOME", xdg.string());
    env.set("HOME", home.string());
  }
};

TEST_F(DataDirResolve, FlagWins) {
  set_all();
  EXPECT_EQ(DataDir::resolve(flag, env).root(), flag);
}

TEST_F(DataDirResolve, EnvironmentVariableWithoutFlag) {
  set_all();
  EXPECT_EQ(DataDir::resolve(std::nullopt, env).root(), from_env);
  // An empty flag counts as no flag.
  EXPECT_EQ(DataDir::resolve(fs::path(), env).root(), from_env);
}

TEST_F(DataDirResolve, XdgDataHomeWithoutVmctlDataDir) {
  set_all();
  env.unset("VMCTL_DATA_DIR");
  EXPECT_EQ(DataDir::resolve(std::nullopt, env).root(), xdg / "vmctl");
  // Set but empty counts as unset.
  env.set("VMCTL_DATA_DIR", "");
  EXPECT_EQ(DataDir::resolve(std::nullopt, env).root(), xdg / "vmctl");
}

TEST_F(DataDirResolve, HomeLast) {
  set_all();
  env.unset("VMCTL_DATA_DIR");
  env.unset("XDG_DATA_HOME");
  EXPECT_EQ(DataDir::resolve(std::nullopt, env).root(), home / ".local" / "share" / "vmctl");
  env.set("XDG_DATA_HOME", "");
  EXPECT_EQ(DataDir::resolve(std::nullopt, env).root(), home / ".local" / "share" / "vmctl");
}

TEST_F(DataDirResolve, NothingSetRaises) {
  env.unset("VMCTL_DATA_DIR");
  env.unset("XDG_DATA_HOME");
  env.unset("HOME");
  expect_error(errc::data_dir_invalid, [&] { DataDir::resolve(std::nullopt, env); });
  // The flag alone is enough.
  EXPECT_EQ(DataDir::resolve(flag, env).root(), flag);
}

TEST_F(DataDirResolve, ResolveCreatesNothing) {
  set_all();
  DataDir::resolve(std::nullopt, env);
  DataDir::resolve(flag, env);
  EXPECT_FALSE(fs::exists(from_env));
  EXPECT_FALSE(fs::exists(flag));
}

TEST_F(DataDirResolve, ResultIsAbsoluteAndNormal) {
  set_all();
  DataDir from_flag = DataDir::resolve(fs::path("relative/dir"), env);
  EXPECT_TRUE(from_flag.root().is_absolute()) << from_flag.root();
  EXPECT_EQ(from_flag.root(), fs::current_path() / "relative" / "dir");

  env.set("VMCTL_DATA_DIR", "rel-env/./x/../data/");
  DataDir from_var = DataDir::resolve(std::nullopt, env);
  EXPECT_TRUE(from_var.root().is_absolute());
  EXPECT_EQ(from_var.root(), fs::current_path() / "rel-env" / "data");

  env.unset("VMCTL_DATA_DIR");
  env.set("XDG_DATA_HOME", "xdg-rel");
  EXPECT_EQ(DataDir::resolve(std::nullopt, env).root(), fs::current_path() / "xdg-rel" / "vmctl");
}

TEST(DataDir, Layout) {
  TempDir temp;
  DataDir dir(temp / "data");
  EXPECT_EQ(dir.root(), temp / "data");
  EXPECT_EQ(dir.vms_dir(), temp / "data" / "vms");
  EXPECT_EQ(dir.locks_dir(), temp / "data" / "locks");
  EXPECT_EQ(dir.vm_dir("web"), temp / "data" / "vms" / "web");
  EXPECT_EQ(dir.vm_file("web"), temp / "data" / "vms" / "web" / "vm.json");
  EXPECT_EQ(dir.lock_file("web"), temp / "data" / "locks" / "web.lock");
  // A trailing separator makes no difference.
  DataDir slashed(temp.str() + "/data/");
  EXPECT_EQ(slashed.root(), dir.root());
  EXPECT_EQ(slashed.vm_dir("web"), dir.vm_dir("web"));
}

TEST(DataDir, VmDirRejectsInvalidNames) {
  TempDir temp;
  DataDir dir(temp / "data");
  for (std::string bad : std::vector<std::string>{"", ".", "..", "../etc", "a/b", "/etc", "-x", std::string(64, 'a')}) {
    expect_error(errc::vm_invalid_name, [&] { dir.vm_dir(bad); });
    expect_error(errc::vm_invalid_name, [&] { dir.vm_file(bad); });
    expect_error(errc::vm_invalid_name, [&] { dir.lock_file(bad); });
  }
}

TEST(DataDir, EnsureExistsMakesPrivateFolders) {
  TempDir temp;
  mode_t old_umask = ::umask(022);
  DataDir dir(temp / "deep" / "er" / "data");
  dir.ensure_exists();
  dir.ensure_exists();  // idempotent
  ::umask(old_umask);
  for (const fs::path& p : {dir.root(), dir.vms_dir(), dir.locks_dir()}) {
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << p;
    EXPECT_EQ(st.st_mode & 07777, 0700u) << p;
  }
}

TEST(DataDir, EnsureExistsRefusesAFileInTheWay) {
  TempDir temp;
  touch(temp / "data");
  expect_error(errc::data_dir_invalid, [&] { DataDir(temp / "data").ensure_exists(); });
}

TEST(DataDir, OwnsOnlyWhatIsStrictlyInsideVms) {
  TempDir temp;
  DataDir dir(temp / "data");
  const fs::path vms = dir.vms_dir();

  EXPECT_TRUE(dir.owns(vms / "web"));
  EXPECT_TRUE(dir.owns(vms / "web" / "vm.json"));
  EXPECT_TRUE(dir.owns(vms / "web" / "sub" / ".." / "disk"));
  EXPECT_TRUE(dir.owns(vms / "." / "web"));
  EXPECT_TRUE(dir.owns(vms / "web" / ""));

  EXPECT_FALSE(dir.owns(vms));
  EXPECT_FALSE(dir.owns(vms / ""));
  EXPECT_FALSE(dir.owns(vms / "."));
  EXPECT_FALSE(dir.owns(vms / "web" / ".."));
  EXPECT_FALSE(dir.owns(dir.root()));
  EXPECT_FALSE(dir.owns(dir.locks_dir()));
  EXPECT_FALSE(dir.owns(dir.locks_dir() / "web.lock"));
  EXPECT_FALSE(dir.owns(vms / ".." / "x"));
  EXPECT_FALSE(dir.owns(vms / "web" / ".." / ".." / "x"));
  EXPECT_FALSE(dir.owns(vms / ".." / "vms2" / "web"));
  EXPECT_FALSE(dir.owns(dir.root() / "vms2"));
  EXPECT_FALSE(dir.owns(dir.root() / "vms2" / "web"));
  EXPECT_FALSE(dir.owns(dir.root().string() + "/vmsx"));
  EXPECT_FALSE(dir.owns("/etc"));
  EXPECT_FALSE(dir.owns("/"));
  EXPECT_FALSE(dir.owns(temp.path()));
}

// An empty path (a handle without work_dir) is simply not owned.
TEST(DataDir, EmptyPathIsNotOwned) {
  TempDir temp;
  DataDir dir(temp / "data");
  EXPECT_FALSE(dir.owns(""));
  expect_error(errc::store_io, [&] { dir.remove_inside(""); });
}

// The layout outside vms/ that removal must never touch.
class RemoveInside : public ::testing::Test {
 protected:
  void SetUp() override {
    dir.ensure_exists();
    fs::create_directories(outside);
    touch(canary);
    touch(dir.root() / "root-canary");
    touch(dir.locks_dir() / "web.lock", "");
  }

  void expect_everything_outside_survives() {
    EXPECT_EQ(read_all(canary), "canary\n");
    EXPECT_TRUE(fs::exists(dir.root() / "root-canary"));
    EXPECT_TRUE(fs::exists(dir.locks_dir() / "web.lock"));
    EXPECT_TRUE(fs::is_directory(dir.vms_dir()));
  }

  TempDir temp;
  DataDir dir{temp / "data"};
  fs::path outside = temp / "outside";
  fs::path canary = outside / "canary.txt";
};

TEST_F(RemoveInside, RemovesAVmFolderAndEverythingBelow) {
  fs::path vm = dir.vms_dir() / "web";
  fs::create_directories(vm / "a" / "b");
  touch(vm / "vm.json");
  touch(vm / "a" / "b" / "disk");
  dir.remove_inside(vm);
  EXPECT_FALSE(fs::exists(vm));
  expect_everything_outside_survives();
}

TEST_F(RemoveInside, MissingPathIsNotAnError) {
  EXPECT_NO_THROW(dir.remove_inside(dir.vms_dir() / "nothing-here"));
  expect_everything_outside_survives();
}

TEST_F(RemoveInside, RefusesPathsOutside) {
  fs::create_directories(dir.root() / "vms2" / "web");
  touch(dir.root() / "vms2" / "web" / "keep");
  for (const fs::path& p :
       {outside, canary, dir.vms_dir() / ".." / ".." / "outside", dir.vms_dir() / "web" / ".." / ".." / "outside",
        dir.vms_dir(), dir.vms_dir() / "", dir.root(), dir.locks_dir(), dir.locks_dir() / "web.lock",
        dir.root() / "vms2", dir.root() / "vms2" / "web", temp.path()}) {
    SCOPED_TRACE(p.string());
    expect_error(errc::store_io, [&] { dir.remove_inside(p); });
  }
  EXPECT_TRUE(fs::exists(dir.root() / "vms2" / "web" / "keep"));
  expect_everything_outside_survives();
}

TEST_F(RemoveInside, SymlinkToAFolderOutsideRemovesTheLinkOnly) {
  fs::path link = dir.vms_dir() / "web";
  fs::create_directory_symlink(outside, link);
  dir.remove_inside(link);
  EXPECT_FALSE(fs::exists(fs::symlink_status(link)));
  expect_everything_outside_survives();
}

TEST_F(RemoveInside, SymlinkToAFileOutsideRemovesTheLinkOnly) {
  fs::path link = dir.vms_dir() / "web";
  fs::create_symlink(canary, link);
  dir.remove_inside(link);
  EXPECT_FALSE(fs::exists(fs::symlink_status(link)));
  expect_everything_outside_survives();
}

TEST_F(RemoveInside, SymlinkInsideAVmFolderIsNotFollowed) {
  fs::path vm = dir.vms_dir() / "web";
  fs::create_directories(vm);
  fs::create_directory_symlink(outside, vm / "escape");
  fs::create_symlink(canary, vm / "escape-file");
  dir.remove_inside(vm);
  EXPECT_FALSE(fs::exists(fs::symlink_status(vm)));
  expect_everything_outside_survives();
}

TEST_F(RemoveInside, DanglingSymlinkIsRemoved) {
  fs::path link = dir.vms_dir() / "web";
  fs::create_symlink(temp / "does-not-exist", link);
  dir.remove_inside(link);
  EXPECT_FALSE(fs::exists(fs::symlink_status(link)));
}

// The kernel follows symlinks before ".."; owns() must judge a path the same
// way, or a symlink inside vms/ would let a removal reach outside.
TEST_F(RemoveInside, SymlinkedParentCannotReachOutside) {
  fs::create_directory_symlink(outside, dir.vms_dir() / "link");
  try {
    dir.remove_inside(dir.vms_dir() / "link" / "canary.txt");
  } catch (const Error&) {
  }
  expect_everything_outside_survives();
}

TEST_F(RemoveInside, DotDotAfterSymlinkCannotReachOutside) {
  fs::create_directories(outside / "deeper");
  fs::create_directory_symlink(outside / "deeper", dir.vms_dir() / "link");
  // Lexically vms/canary.txt; to the kernel outside/canary.txt.
  try {
    dir.remove_inside(dir.vms_dir() / "link" / ".." / "canary.txt");
  } catch (const Error&) {
  }
  expect_everything_outside_survives();
}

}  // namespace
}  // namespace vm_manager

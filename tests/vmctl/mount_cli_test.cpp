// `vmctl create --mount` on the noop backend: folders recorded as given
// (relative ones from the current folder), shown by status, refused with
// their own errors.
#include <filesystem>
#include <fstream>

#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {
namespace fs = std::filesystem;

TEST_F(VmctlTest, MountsAreRecordedAndShownByStatus) {
  fs::create_directories(data_ / "project" / "src");
  fs::create_directories(data_ / "cache");
  ProcessOptions in_project;
  in_project.cwd = (data_ / "project").string();
  ProcessResult created = run_vmctl(data_.str(),
                                    {"create", "--name", "web", "--backend", "noop", "--mount", "src:/srv/src",
                                     "--mount", (data_ / "cache").string() + ":ro"},
                                    in_project);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  nlohmann::json mounts = status("web").at("mounts");
  ASSERT_EQ(mounts.size(), 2u) << mounts.dump();
  EXPECT_EQ(mounts[0].at("host_path"), (data_ / "project" / "src").string());
  EXPECT_EQ(mounts[0].at("guest_path"), "/srv/src");
  EXPECT_EQ(mounts[0].at("read_only"), false);
  EXPECT_EQ(mounts[1].at("guest_path"), (data_ / "cache").string()) << "the guest path defaults to the host path";
  EXPECT_EQ(mounts[1].at("read_only"), true);

  std::string human = ok({"status", "web"});
  EXPECT_NE(human.find("mounts:     " + (data_ / "project" / "src").string() + " -> /srv/src, " +
                       (data_ / "cache").string() + " -> " + (data_ / "cache").string() + " (read-only)\n"),
            std::string::npos)
      << human;
}

TEST_F(VmctlTest, AVmWithoutMountsHasNoMountsLine) {
  ok({"create", "--name", "web", "--backend", "noop"});
  EXPECT_TRUE(status("web").at("mounts").is_null());
  EXPECT_EQ(ok({"status", "web"}).find("mounts:"), std::string::npos);
}

TEST_F(VmctlTest, BadMountsAreRefusedBeforeAnythingIsCreated) {
  std::ofstream(data_ / "file.txt") << "not a folder\n";
  fs::create_directories(data_ / "dir");
  struct Case {
    std::string mount;
    std::string code;
  };
  for (const Case& c : {Case{(data_ / "missing").string(), "mount::host_dir_missing"},
                        Case{(data_ / "file.txt").string(), "mount::not_a_directory"},
                        Case{(data_ / "dir").string() + ":srv", "mount::invalid_path"},
                        Case{(data_ / "dir").string() + ":/srv:x:y", "mount::invalid_path"}}) {
    ProcessResult r = vmctl({"create", "--name", "web", "--backend", "noop", "--mount", c.mount});
    EXPECT_EQ(r.exit_code, 1) << c.mount;
    EXPECT_NE(r.err.find("error[vm_manager::" + c.code + "]"), std::string::npos) << c.mount << ": " << r.err;
    EXPECT_NE(r.err.find("help:"), std::string::npos) << r.err;
  }
  ProcessResult twice = vmctl({"create", "--name", "web", "--backend", "noop", "--mount",
                               (data_ / "dir").string() + ":/srv", "--mount", (data_ / "dir").string() + ":/srv"});
  EXPECT_NE(twice.err.find("error[vm_manager::mount::invalid_path]"), std::string::npos) << twice.err;
  EXPECT_TRUE(list().empty());
}

}  // namespace
}  // namespace vmctl::test

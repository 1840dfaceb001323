// parse_mount_flag: `vmctl create --mount HOST[:GUEST][:ro]`.
#include "vmctl/mount_flag.hpp"

#include <gtest/gtest.h>

#include "vm_manager/error.hpp"

namespace vmctl {
namespace {
using vm_manager::SharedFolder;

TEST(MountFlag, TheGuestPathDefaultsToTheHostPathAsInLima) {
  EXPECT_EQ(parse_mount_flag("/home/me/src", "/work"), (SharedFolder{"/home/me/src", "/home/me/src", false}));
  EXPECT_EQ(parse_mount_flag("/home/me/src:ro", "/work"), (SharedFolder{"/home/me/src", "/home/me/src", true}));
}

TEST(MountFlag, HostGuestAndMode) {
  EXPECT_EQ(parse_mount_flag("/home/me/src:/srv/src", "/work"), (SharedFolder{"/home/me/src", "/srv/src", false}));
  EXPECT_EQ(parse_mount_flag("/home/me/src:/srv/src:ro", "/work"), (SharedFolder{"/home/me/src", "/srv/src", true}));
  EXPECT_EQ(parse_mount_flag("/home/me/src:/srv/src:rw", "/work"), (SharedFolder{"/home/me/src", "/srv/src", false}));
}

TEST(MountFlag, ARelativeHostPathIsTakenFromTheCurrentFolder) {
  EXPECT_EQ(parse_mount_flag("src/", "/work/project"), (SharedFolder{"/work/project/src", "/work/project/src", false}));
  EXPECT_EQ(parse_mount_flag("../data:/data", "/work/project"), (SharedFolder{"/work/data", "/data", false}));
  EXPECT_EQ(parse_mount_flag(".", "/work/project").host_path, "/work/project");
}

TEST(MountFlag, TheGuestPathIsLeftForTheLibraryToJudge) {
  EXPECT_EQ(parse_mount_flag("/a:relative", "/w").guest_path, "relative");
}

TEST(MountFlag, MalformedOnesAreRefused) {
  for (const char* text : {"", ":/srv", "/a:/b:ro:x", "/a:/b:/c", "/a:"}) {
    try {
      parse_mount_flag(text, "/w");
      ADD_FAILURE() << "accepted --mount " << text;
    } catch (const vm_manager::Error& e) {
      EXPECT_EQ(e.code(), vm_manager::errc::mount_invalid_path) << text;
      EXPECT_NE(e.help().find("HOST_DIR[:GUEST_DIR][:ro]"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace vmctl

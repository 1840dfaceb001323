// libisofs is loaded when the first seed is written (cloudinit/libisofs.hpp),
// not linked.
#include "cloudinit/libisofs.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "cloudinit/seed_iso.hpp"
#include "support/mapped_library.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::cloudinit {
namespace {

using ::testing::HasSubstr;
using vmctl::test::library_mapped;

TEST(LibIsofsLoadingTest, AMissingLibisofsIsAnErrorNamingThePackage) {
  try {
    (void)load_libisofs("libisofs-that-is-not-installed.so.6");
    ADD_FAILURE() << "loading a missing library succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::seed_unavailable);
    EXPECT_THAT(e.message(), HasSubstr("libisofs-that-is-not-installed.so.6"));
    EXPECT_THAT(e.help(), HasSubstr("libisofs6"));
  }
}

// In a fresh process: nothing maps libisofs before the first seed is
// written, and writing it does.
TEST(LibIsofsLoadingTest, LibisofsIsLoadedByTheFirstSeedNotBefore) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        if (library_mapped("libisofs.so")) {
          std::fputs("libisofs was mapped before the first seed\n", stderr);
          std::_Exit(1);
        }
        {
          const vmctl::test::TempDir dir;  // removed before _Exit
          write_seed_iso(dir.path() / "seed.iso", SeedFiles{"#cloud-config\n", "instance-id: x\n", std::nullopt});
        }
        if (!library_mapped("libisofs.so")) {
          std::fputs("libisofs is not mapped after writing a seed\n", stderr);
          std::_Exit(2);
        }
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace vm_manager::cloudinit

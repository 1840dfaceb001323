// libssh is loaded on first use (ssh/libssh.hpp), not linked.
#include "ssh/libssh.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "ssh/keys.hpp"
#include "support/mapped_library.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::ssh {
namespace {

using ::testing::HasSubstr;
using vmctl::test::library_mapped;

TEST(LibSshLoadingTest, AMissingLibsshIsAnErrorNamingThePackage) {
  try {
    (void)load_libssh("libssh-that-is-not-installed.so.4");
    ADD_FAILURE() << "loading a missing library succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::ssh_unavailable);
    EXPECT_THAT(e.message(), HasSubstr("libssh-that-is-not-installed.so.4"));
    EXPECT_THAT(e.help(), HasSubstr("libssh-4"));
  }
}

TEST(LibSshLoadingTest, TheInstalledLibsshHasEveryFunctionWeUse) {
  const LibSsh api = load_libssh(kLibSshSoname);
  EXPECT_NE(api.ssh_new, nullptr);
  EXPECT_NE(api.sftp_new, nullptr);
}

// In a fresh process (the death-test child re-runs only this test): nothing
// maps libssh before the first key is made, and making it does.
TEST(LibSshLoadingTest, LibsshIsLoadedByItsFirstUseNotBefore) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        if (library_mapped("libssh.so")) {
          std::fputs("libssh was mapped before its first use\n", stderr);
          std::_Exit(1);
        }
        (void)generate_ed25519("test");
        if (!library_mapped("libssh.so")) {
          std::fputs("libssh is not mapped after making a key\n", stderr);
          std::_Exit(2);
        }
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace vm_manager::ssh

#include "os/shared_library.hpp"

#include <gtest/gtest.h>
#include <gmock/gmock.h>
#include <unistd.h>

#include <string>

#include "vm_manager/error.hpp"

namespace vm_manager::os {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kTestUnavailable = "test::unavailable";

[[noreturn]] void raise_unavailable(const std::string& why) { throw Error(kTestUnavailable, why, "install it"); }

void returns_instead_of_raising(const std::string&) {}

TEST(SharedLibraryTest, ResolvesAFunctionByName) {
  const SharedLibrary libc("libc.so.6", raise_unavailable);
  pid_t (*get_pid)() = nullptr;
  libc.resolve("getpid", get_pid);
  ASSERT_NE(get_pid, nullptr);
  EXPECT_EQ(get_pid(), ::getpid());
}

TEST(SharedLibraryTest, AMissingLibraryIsRaisedWithTheLoadersWords) {
  try {
    const SharedLibrary missing("libvmctl-that-is-not-installed.so.1", raise_unavailable);
    ADD_FAILURE() << "loading a missing library succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), kTestUnavailable);
    EXPECT_THAT(e.message(), HasSubstr("libvmctl-that-is-not-installed.so.1"));
  }
}

TEST(SharedLibraryTest, AMissingFunctionNamesTheLibraryAndTheFunction) {
  const SharedLibrary libc("libc.so.6", raise_unavailable);
  void (*function)() = nullptr;
  try {
    libc.resolve("vmctl_no_such_function", function);
    ADD_FAILURE() << "resolving a missing function succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), kTestUnavailable);
    EXPECT_EQ(e.message(), "libc.so.6 has no vmctl_no_such_function");
  }
}

TEST(SharedLibraryTest, AnUnavailableThatReturnsIsStillAFailure) {
  EXPECT_THROW(SharedLibrary("libvmctl-that-is-not-installed.so.1", returns_instead_of_raising), std::logic_error);
}

struct Table {
  int loads = 0;
};

int g_loads = 0;

Table load_counting() { return Table{++g_loads}; }

[[noreturn]] Table load_failing() {
  ++g_loads;
  raise_unavailable("no such library");
}

TEST(LazyLibraryTest, LoadsOnFirstUseOnce) {
  g_loads = 0;
  LazyLibrary<Table> library(load_counting);
  EXPECT_EQ(g_loads, 0);
  EXPECT_EQ(library.get().loads, 1);
  EXPECT_EQ(library.get().loads, 1);
  EXPECT_EQ(g_loads, 1);
}

TEST(LazyLibraryTest, AFailedLoadIsRaisedAgainWithoutAnotherAttempt) {
  g_loads = 0;
  LazyLibrary<Table> library(load_failing);
  for (int i = 0; i < 2; ++i) {
    try {
      (void)library.get();
      ADD_FAILURE() << "a failed load returned a table";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), kTestUnavailable);
      EXPECT_EQ(e.message(), "no such library");
    }
  }
  EXPECT_EQ(g_loads, 1);
}

}  // namespace
}  // namespace vm_manager::os

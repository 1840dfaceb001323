// util/: the rollback guard and the string helpers.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "util/rollback.hpp"
#include "util/strings.hpp"

namespace vm_manager::util {
namespace {

TEST(Rollback, UndoesWhenTheScopeIsLeftByAnError) {
  int undone = 0;
  try {
    Rollback undo([&] { ++undone; });
    throw std::runtime_error("step failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(undone, 1);
}

TEST(Rollback, CommittedStepsAreKept) {
  int undone = 0;
  {
    Rollback undo([&] { ++undone; });
    undo.commit();
  }
  EXPECT_EQ(undone, 0);
}

// The error that left the scope is the one the caller sees, never the undo's.
TEST(Rollback, AFailingUndoNeitherReplacesNorHidesTheError) {
  try {
    Rollback undo([] { throw std::logic_error("undo failed too"); });
    throw std::runtime_error("step failed");
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "step failed");
  } catch (...) {
    FAIL() << "the undo's error escaped";
  }
}

TEST(Strings, LowerIsAsciiOnly) {
  EXPECT_EQ(lower("Content-Type: ABC-xyz 09"), "content-type: abc-xyz 09");
  EXPECT_EQ(lower("\xc3\x89t\xc3\xa9"), "\xc3\x89t\xc3\xa9");  // bytes above 0x7f unchanged
  EXPECT_EQ(lower(""), "");
}

TEST(Strings, TrimDropsSurroundingWhiteSpace) {
  EXPECT_EQ(trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(trim("\v\fx\f"), "x");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("x"), "x");
}

}  // namespace
}  // namespace vm_manager::util

// VM names: what is refused (with vm::invalid_name and a one-line message)
// and what is accepted.
#include "vm_manager/names.hpp"

#include <gtest/gtest.h>

#include <string>

#include "vm_manager/error.hpp"

namespace vm_manager {
namespace {

using namespace std::string_literals;

struct NameCase {
  std::string label;
  std::string name;
};

// Names may contain bytes gtest would print raw; show them escaped.
void PrintTo(const NameCase& c, std::ostream* os) { *os << c.label << " (" << c.name.size() << " bytes)"; }

class InvalidName : public ::testing::TestWithParam<NameCase> {};

// Snapshot names follow the same rules, under their own code.
TEST_P(InvalidName, IsRefusedAsASnapshotName) {
  try {
    validate_snapshot_name(GetParam().name);
    FAIL() << "validate_snapshot_name accepted " << GetParam().label;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::snapshot_invalid_name);
    EXPECT_NE(e.message().find("snapshot name"), std::string::npos) << e.message();
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
    EXPECT_LT(e.message().size(), 500u) << e.message();
    EXPECT_FALSE(e.help().empty());
  }
}

TEST_P(InvalidName, IsRefused) {
  const std::string& name = GetParam().name;
  EXPECT_FALSE(is_valid_vm_name(name));
  try {
    validate_vm_name(name);
    FAIL() << "validate_vm_name accepted " << GetParam().label;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::vm_invalid_name);
    EXPECT_FALSE(e.message().empty());
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
    EXPECT_EQ(e.message().find('\r'), std::string::npos) << e.message();
    EXPECT_EQ(e.message().find('\0'), std::string::npos) << e.message();
    EXPECT_EQ(std::string(e.what()), e.message());
    EXPECT_FALSE(e.help().empty());
    EXPECT_EQ(e.help().find('\n'), std::string::npos);
    // The name is cut short in the message, however long it is.
    EXPECT_LT(e.message().size(), 500u) << e.message();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidName,
    ::testing::Values(NameCase{"empty", ""}, NameCase{"dot", "."}, NameCase{"dotdot", ".."},
                      NameCase{"slash", "/"}, NameCase{"a_slash_b", "a/b"}, NameCase{"dash_x", "-x"},
                      NameCase{"underscore_x", "_x"}, NameCase{"hidden", ".hidden"},
                      NameCase{"comma", "a,b"}, NameCase{"space", "a b"}, NameCase{"newline", "a\nb"},
                      NameCase{"newline_at_end", "web\n"}, NameCase{"carriage_return", "a\rb"},
                      NameCase{"tab", "a\tb"}, NameCase{"nul", "a\0b"s}, NameCase{"nul_only", "\0"s},
                      NameCase{"e_acute", "\xc3\xa9"}, NameCase{"e_acute_inside", "caf\xc3\xa9"},
                      NameCase{"byte_ff", "a\xff"}, NameCase{"colon", "a:b"}, NameCase{"equals", "a=b"},
                      NameCase{"backslash", "a\\b"}, NameCase{"quote", "a'b"}, NameCase{"dollar", "$x"},
                      NameCase{"dotdot_slash", "../x"}, NameCase{"len_64", std::string(64, 'a')},
                      NameCase{"len_300", std::string(300, 'b')},
                      NameCase{"len_300_newlines", "a" + std::string(299, '\n')}),
    [](const auto& row) { return row.param.label; });

class ValidName : public ::testing::TestWithParam<NameCase> {};

TEST_P(ValidName, IsAccepted) {
  EXPECT_TRUE(is_valid_vm_name(GetParam().name));
  EXPECT_NO_THROW(validate_vm_name(GetParam().name));
  EXPECT_NO_THROW(validate_snapshot_name(GetParam().name));
}

INSTANTIATE_TEST_SUITE_P(Table, ValidName,
                         ::testing::Values(NameCase{"a", "a"}, NameCase{"web", "web"}, NameCase{"Web_1", "Web-1"},
                                           NameCase{"all_punctuation", "a.b_c-d"}, NameCase{"digit_first", "9lives"},
                                           NameCase{"uppercase", "WEB"},
                                           NameCase{"len_63", std::string(63, 'z')},
                                           NameCase{"len_63_mixed", "v" + std::string(61, '-') + "1"}),
                         [](const auto& row) { return row.param.label; });

TEST(Names, MaxLengthIs63) { EXPECT_EQ(kMaxVmNameLength, 63u); }

TEST(Names, MessageNamesTheReason) {
  auto message_for = [](std::string_view name) {
    try {
      validate_vm_name(name);
    } catch (const Error& e) {
      return e.message();
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(message_for("").find("empty"), std::string::npos);
  EXPECT_NE(message_for(std::string(64, 'a')).find("64"), std::string::npos);
  EXPECT_NE(message_for("-x").find("begin"), std::string::npos);
  EXPECT_NE(message_for("a,b").find("','"), std::string::npos);
  // Control characters are escaped, not printed.
  EXPECT_NE(message_for("a\nb").find("\\x0a"), std::string::npos);
  EXPECT_NE(message_for("a\0b"s).find("\\x00"), std::string::npos);
}

}  // namespace
}  // namespace vm_manager

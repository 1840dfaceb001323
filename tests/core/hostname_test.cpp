// RFC 1123 host names (--hostname, cloud-init { hostname }): the table of
// what is refused, with the reason in a one-line message, and what is
// accepted; and that validate_spec applies it.
#include <gtest/gtest.h>

#include <string>

#include "support/error_from.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {
namespace {

using vmctl::test::error_from;

struct HostnameCase {
  std::string label;
  std::string hostname;
  std::string reason;  // what the message must say (invalid cases)
};

void PrintTo(const HostnameCase& c, std::ostream* os) { *os << c.label << " (" << c.hostname.size() << " bytes)"; }

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

// Four labels joined by dots, the last one `last` characters long.
std::string four_labels(std::size_t last) {
  return repeat('a', 63) + "." + repeat('b', 63) + "." + repeat('c', 63) + "." + repeat('d', last);
}

class ValidHostname : public ::testing::TestWithParam<HostnameCase> {};

TEST_P(ValidHostname, IsAccepted) {
  EXPECT_TRUE(is_valid_hostname(GetParam().hostname));
  EXPECT_NO_THROW(validate_hostname(GetParam().hostname));
}

INSTANTIATE_TEST_SUITE_P(
    Table, ValidHostname,
    ::testing::Values(HostnameCase{"one_letter", "a", ""}, HostnameCase{"plain", "web", ""},
                      HostnameCase{"digits_only", "123", ""}, HostnameCase{"inner_hyphens", "web-1--a", ""},
                      HostnameCase{"dotted", "web.example.com", ""}, HostnameCase{"upper_case", "Web.EXAMPLE.com", ""},
                      HostnameCase{"label_63", repeat('x', 63), ""},
                      HostnameCase{"total_253", four_labels(61), ""}),
    [](const auto& row) { return row.param.label; });

class InvalidHostname : public ::testing::TestWithParam<HostnameCase> {};

TEST_P(InvalidHostname, IsRefusedWithItsReason) {
  const HostnameCase& c = GetParam();
  EXPECT_FALSE(is_valid_hostname(c.hostname));
  Error e = error_from([&] { validate_hostname(c.hostname); });
  EXPECT_EQ(e.code(), errc::spec_invalid);
  EXPECT_TRUE(e.message().starts_with("invalid hostname '")) << e.message();
  EXPECT_NE(e.message().find(c.reason), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
  EXPECT_EQ(e.help(), "use labels of 1-63 letters, digits and inner '-', joined by dots, 253 characters at most");
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidHostname,
    ::testing::Values(HostnameCase{"empty", "", "it is empty"},
                      HostnameCase{"label_64", repeat('x', 64), "is 64 characters long (at most 63)"},
                      HostnameCase{"inner_label_64", "a." + repeat('x', 64) + ".b", "is 64 characters long"},
                      HostnameCase{"total_254", four_labels(62), "it is 254 characters long (at most 253)"},
                      HostnameCase{"leading_hyphen", "-web", "the label '-web' begins or ends with '-'"},
                      HostnameCase{"trailing_hyphen", "web.a-", "the label 'a-' begins or ends with '-'"},
                      HostnameCase{"underscore", "web_1", "it contains '_'"},
                      HostnameCase{"empty_label", "web..com", "empty label"},
                      HostnameCase{"leading_dot", ".web", "empty label"},
                      HostnameCase{"trailing_dot", "web.", "empty label"},
                      HostnameCase{"space", "my host", "it contains ' '"},
                      HostnameCase{"newline", "web\nevil", "\\x0a"},
                      HostnameCase{"utf8", "caf\xc3\xa9", "it contains"}),
    [](const auto& row) { return row.param.label; });

TEST(HostnameInSpec, ValidateSpecChecksTheCloudInitHostname) {
  VmSpec spec;
  spec.name = "my_vm";  // a VM name may hold '_'; only a hostname given is checked
  spec.cloud_init = CloudInitConfig{};
  EXPECT_NO_THROW(validate_spec(spec));
  spec.cloud_init->hostname = "web.example.com";
  EXPECT_NO_THROW(validate_spec(spec));
  spec.cloud_init->hostname = "web_1";
  Error e = error_from([&] { validate_spec(spec); });
  EXPECT_EQ(e.code(), errc::spec_invalid);
  EXPECT_EQ(e.message(), "invalid hostname 'web_1': it contains '_'");
}

}  // namespace
}  // namespace vm_manager

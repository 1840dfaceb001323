// validate_data_disks (spec_check.hpp), alone and through validate_spec.
#include <gtest/gtest.h>

#include "support/error_from.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {
namespace {

using vmctl::test::error_from;

TEST(DataDiskCheck, NamesFollowTheVmNameRulesUpToTwentyCharacters) {
  EXPECT_NO_THROW(validate_data_disks({}));
  EXPECT_NO_THROW(validate_data_disks({{"data1", 1}, {"scratch_2.db-x", 20}, {std::string(20, 'a'), 5}}));
  for (const std::string& bad : std::vector<std::string>{"", std::string(21, 'a'), "-lead", ".hidden", "a,b", "a b", "a/b", "../x", "a:b",
                                "serial=x", std::string("a\nb")}) {
    Error e = error_from([&] { validate_data_disks({{bad, 1}}); });
    EXPECT_EQ(e.code(), errc::spec_invalid) << bad;
    EXPECT_NE(e.help().find("20"), std::string::npos) << e.help();
  }
}

TEST(DataDiskCheck, TwoDisksOfOneNameAreRefused) {
  Error e = error_from([] { validate_data_disks({{"scratch", 1}, {"other", 2}, {"scratch", 3}}); });
  EXPECT_EQ(e.code(), errc::spec_invalid);
  EXPECT_NE(e.message().find("'scratch'"), std::string::npos) << e.message();
}

TEST(DataDiskCheck, SizeIsOneGbToTheRootDisksLimit) {
  EXPECT_NO_THROW(validate_data_disks({{"a", 1}, {"b", kMaxDiskGb}}));
  for (std::uint64_t bad : {std::uint64_t{0}, kMaxDiskGb + 1, ~std::uint64_t{0}}) {
    Error e = error_from([&] { validate_data_disks({{"a", bad}}); });
    EXPECT_EQ(e.code(), errc::spec_invalid) << bad;
    EXPECT_NE(e.message().find("data disk 'a'"), std::string::npos) << e.message();
  }
}

TEST(DataDiskCheck, AtMostSixteenDisks) {
  std::vector<DataDisk> disks;
  for (std::size_t i = 1; i <= kMaxDataDisks; ++i) disks.push_back({"d" + std::to_string(i), 1});
  EXPECT_NO_THROW(validate_data_disks(disks));
  disks.push_back({"one-more", 1});
  EXPECT_EQ(error_from([&] { validate_data_disks(disks); }).code(), errc::spec_invalid);
}

TEST(DataDiskCheck, ValidateSpecChecksTheDataDisks) {
  VmSpec spec;
  spec.name = "web";
  spec.data_disks = {{"scratch", 10}};
  EXPECT_NO_THROW(validate_spec(spec));
  spec.data_disks.push_back({"scratch", 10});
  EXPECT_EQ(error_from([&] { validate_spec(spec); }).code(), errc::spec_invalid);
}

}  // namespace
}  // namespace vm_manager

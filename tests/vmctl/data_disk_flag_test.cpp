// parse_data_disk_flag: `vmctl create --data-disk SIZE[:NAME]`.
#include "vmctl/data_disk_flag.hpp"

#include <gtest/gtest.h>

#include "support/error_from.hpp"
#include "vm_manager/error.hpp"

namespace vmctl {
namespace {
using test::error_from;
using vm_manager::DataDisk;

TEST(DataDiskFlag, SizeInGbWithOrWithoutTheUnit) {
  EXPECT_EQ(parse_data_disk_flag("20", 1), (DataDisk{"data1", 20}));
  EXPECT_EQ(parse_data_disk_flag("20G", 1), (DataDisk{"data1", 20}));
  EXPECT_EQ(parse_data_disk_flag("20g", 1), (DataDisk{"data1", 20}));
  EXPECT_EQ(parse_data_disk_flag("20GB", 1), (DataDisk{"data1", 20}));
}

TEST(DataDiskFlag, WithoutANameTheDiskIsNamedByItsPosition) {
  EXPECT_EQ(parse_data_disk_flag("5", 3), (DataDisk{"data3", 5}));
  EXPECT_EQ(parse_data_disk_flag("5G:scratch", 3), (DataDisk{"scratch", 5}));
}

TEST(DataDiskFlag, TheNameIsLeftForTheLibraryToJudge) {
  EXPECT_EQ(parse_data_disk_flag("1:a,b", 1).name, "a,b");
  EXPECT_EQ(parse_data_disk_flag("1:x:y", 1).name, "x:y");
}

TEST(DataDiskFlag, ASizeThatIsNotWholeGigabytesIsRefused) {
  for (const char* bad : {"", ":x", "G", "1.5", "20M", "-1", "20 G", "0x10", "20GiB", "99999999999999999999999"}) {
    vm_manager::Error e = error_from([&] { parse_data_disk_flag(bad, 1); });
    EXPECT_EQ(e.code(), vm_manager::errc::spec_invalid) << bad;
    EXPECT_NE(e.message().find(std::string("--data-disk ") + bad + ":"), std::string::npos) << e.message();
  }
  EXPECT_EQ(error_from([] { parse_data_disk_flag("20:", 1); }).code(), vm_manager::errc::spec_invalid);
}

}  // namespace
}  // namespace vmctl

// vmctl set with real QEMU: the tiny guest, booted again after set, sees
// its new vCPUs, memory and disk; a running VM and a shrinking disk are
// refused. tests/vmctl/set_cli_test.cpp covers the CLI on the noop backend.
#include <string>

#include "vmctl/qemu_cli_fixture.hpp"

namespace vmctl::test {
namespace {

using nlohmann::json;

constexpr std::uint64_t kSectorsPerGiB = 1024ull * 1024 * 1024 / 512;

class ResizeQemuCliTest : public QemuCliTest {
 protected:
  // What a command prints in the guest, trailing newline cut.
  std::string in_guest(const std::string& name, const std::vector<std::string>& command) {
    std::vector<std::string> args{"ssh", name, "--"};
    args.insert(args.end(), command.begin(), command.end());
    ProcessResult r = vmctl(args);
    EXPECT_EQ(r.exit_code, 0) << join(args) << "\n" << r.err;
    std::string out = r.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

  // /proc/meminfo's MemTotal, in kB.
  std::uint64_t mem_total_kb(const std::string& name) {
    std::string line = in_guest(name, {"grep", "MemTotal:", "/proc/meminfo"});
    std::string digits;
    for (char c : line) {
      if (c >= '0' && c <= '9') digits += c;
    }
    EXPECT_FALSE(digits.empty()) << line;
    return digits.empty() ? 0 : std::stoull(digits);
  }

  std::uint64_t disk_sectors(const std::string& name) {
    return std::stoull(in_guest(name, {"cat", "/sys/block/vda/size"}));
  }

  void start_ready(const std::string& name) {
    ProcessResult r = slow({"start", name, "--wait", "--wait-timeout", "240"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
};

TEST_F(ResizeQemuCliTest, TheGuestSeesItsNewSizeAfterSetAndARestart) {
  auto args = create_args("grow", "192");
  args.insert(args.end(), {"--start", "--wait", "--wait-timeout", "240"});
  ProcessResult created = slow(args);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  EXPECT_EQ(in_guest("grow", {"cat", "/sys/devices/system/cpu/online"}), "0");
  const std::uint64_t memory_before = mem_total_kb("grow");
  const std::uint64_t sectors_before = disk_sectors("grow");
  ASSERT_LT(sectors_before, 2 * kSectorsPerGiB) << "the tiny guest's disk is smaller than 2 GB";

  // Running: refused, and nothing changes.
  ProcessResult running = vmctl({"set", "grow", "--vcpus", "2", "--memory", "256", "--disk", "2"});
  EXPECT_EQ(running.exit_code, 1);
  EXPECT_NE(running.err.find("error[vm_manager::resize::running]: cannot resize VM 'grow': it is running"),
            std::string::npos)
      << running.err;
  EXPECT_EQ(status("grow").at("vcpus"), 1);

  ok({"stop", "grow"});
  EXPECT_EQ(ok({"set", "grow", "--vcpus", "2", "--memory", "256", "--disk", "2"}),
            "Resized VM 'grow': vcpus 1 -> 2, memory 192 MB -> 256 MB, disk image size -> 2 GB (from its next start)\n");
  start_ready("grow");
  EXPECT_EQ(in_guest("grow", {"cat", "/sys/devices/system/cpu/online"}), "0-1");
  const std::uint64_t memory_after = mem_total_kb("grow");
  // 64 MB more RAM, less what the kernel keeps for itself of it.
  EXPECT_GT(memory_after, memory_before + 48 * 1024) << memory_before << " kB before";
  EXPECT_LE(memory_after, 256u * 1024);
  EXPECT_EQ(disk_sectors("grow"), 2 * kSectorsPerGiB);
  EXPECT_GT(disk_sectors("grow"), sectors_before);

  // A smaller disk is refused, a larger one given again is not.
  ok({"stop", "grow"});
  ProcessResult shrink = vmctl({"set", "grow", "--disk", "1"});
  EXPECT_EQ(shrink.exit_code, 1);
  EXPECT_NE(shrink.err.find("error[vm_manager::resize::shrink]: cannot shrink the disk of VM 'grow' from 2.0 GB "
                            "to 1 GB: a disk only grows"),
            std::string::npos)
      << shrink.err;
  EXPECT_EQ(status("grow").at("disk_gb"), 2);
}

// A snapshot keeps the disk size it was taken at: after set grows the disk,
// list shows the old size for it, and restoring it (into the running guest,
// with RAM, and into the stopped VM, disks only) brings the smaller disk
// back, which status and the guest agree on.
TEST_F(ResizeQemuCliTest, ASnapshotFromBeforeAGrowBringsTheSmallerDiskBack) {
  auto args = create_args("shrinkback", "192");
  args.insert(args.end(), {"--disk", "1", "--start", "--wait", "--wait-timeout", "240"});
  ProcessResult created = slow(args);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  ASSERT_EQ(disk_sectors("shrinkback"), 1 * kSectorsPerGiB);
  ProcessResult live = slow({"snapshot", "create", "shrinkback", "live"});
  ASSERT_EQ(live.exit_code, 0) << live.out << live.err;
  ok({"stop", "shrinkback"});
  ok({"snapshot", "create", "shrinkback", "disks"});
  ok({"set", "shrinkback", "--disk", "2"});
  ok({"snapshot", "create", "shrinkback", "grown"});

  json all = json::parse(ok({"snapshot", "list", "shrinkback", "--json"}));
  ASSERT_EQ(all.size(), 3u) << all.dump();
  EXPECT_EQ(all[0].at("name"), "live");
  EXPECT_EQ(all[0].at("disk_bytes"), 1 * kSectorsPerGiB * 512);
  EXPECT_EQ(all[1].at("disk_bytes"), 1 * kSectorsPerGiB * 512);
  EXPECT_EQ(all[2].at("disk_bytes"), 2 * kSectorsPerGiB * 512);

  // Running on the grown disk, back to the RAM snapshot: QEMU 7.2's
  // snapshot-load brings the smaller disk back with the guest's memory.
  start_ready("shrinkback");
  ASSERT_EQ(disk_sectors("shrinkback"), 2 * kSectorsPerGiB);
  ProcessResult restored = slow({"snapshot", "restore", "shrinkback", "live"});
  ASSERT_EQ(restored.exit_code, 0) << restored.out << restored.err;
  EXPECT_EQ(status("shrinkback").at("disk_gb"), 1);
  EXPECT_EQ(disk_sectors("shrinkback"), 1 * kSectorsPerGiB);

  // Stopped, to the grown disks, then back to the small ones.
  ok({"stop", "shrinkback"});
  ok({"snapshot", "restore", "shrinkback", "grown"});
  EXPECT_EQ(status("shrinkback").at("disk_gb"), 2);
  ok({"snapshot", "restore", "shrinkback", "disks"});
  EXPECT_EQ(status("shrinkback").at("disk_gb"), 1);
  start_ready("shrinkback");
  EXPECT_EQ(disk_sectors("shrinkback"), 1 * kSectorsPerGiB);
}

}  // namespace
}  // namespace vmctl::test

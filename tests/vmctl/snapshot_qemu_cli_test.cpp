// Snapshots end to end with the tiny guest under QEMU/TCG: a marker written
// to its disk comes back with the snapshot, taken of the stopped VM (qemu-img)
// and of the running one (QMP, with its RAM: a counter process in the guest
// keeps counting from where it was), with a data disk's marker coming back
// too; and the refusals: a disk-only snapshot into a running VM, RAM with
// shared folders, raw UEFI variables, a disk that no longer rests on its base
// image, unknown and malformed names.
#include <fstream>
#include <thread>

#include "vmctl/qemu_cli_fixture.hpp"

namespace vmctl::test {
namespace {

using namespace std::chrono_literals;

// Where on the guest's root disk (/dev/vda, blank: the guest runs from its
// initramfs) the marker goes, in 512-byte sectors.
constexpr int kMarkerSector = 100;

class SnapshotQemuCliTest : public QemuCliTest {
 protected:
  void create_running(const std::string& name, const std::vector<std::string>& extra = {}) {
    auto args = create_args(name);
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--start", "--wait", "--wait-timeout", "240"});
    ProcessResult created = slow(args);
    ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  }

  void start(const std::string& name) {
    ProcessResult started = slow({"start", name, "--wait", "--wait-timeout", "240"});
    ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  }

  std::string remote(const std::string& name, const std::string& command) {
    ProcessResult r = slow({"ssh", name, "--", "sudo", "-n", "sh", "-c", "'" + command + "'"});
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.out << r.err;
    return r.out;
  }

  void write_marker(const std::string& name, const std::string& text, const std::string& device = "/dev/vda") {
    remote(name, "printf " + text + " | dd of=" + device + " bs=512 seek=" + std::to_string(kMarkerSector) +
                     " conv=fsync 2>/dev/null");
  }

  std::string marker(const std::string& name, const std::string& device = "/dev/vda") {
    return remote(name, "dd if=" + device + " bs=512 skip=" + std::to_string(kMarkerSector) +
                            " count=1 2>/dev/null | tr -d \"\\000\"");
  }

  // A marker on the root disk and one on the data disk `scratch`; the texts
  // are of one length, so that each overwrites the last whole.
  void write_markers(const std::string& name, const std::string& text) {
    write_marker(name, text + "-ROOT");
    write_marker(name, text + "-DATA", kScratch);
  }

  // Read from the disks, not from the guest's page cache, which a RAM
  // snapshot brings back by itself.
  std::string markers(const std::string& name) {
    remote(name, "sync; echo 3 >/proc/sys/vm/drop_caches");
    return marker(name) + " " + marker(name, kScratch);
  }

  static constexpr const char* kScratch = "/dev/disk/by-id/virtio-scratch";

  // The guest's counter (/tmp/count, in its RAM): adds the number in
  // /tmp/step every tenth of a second.
  void start_counter(const std::string& name) {
    remote(name, "echo 1 >/tmp/step; sh -c \"i=0; while :; do i=\\$((i+\\$(cat /tmp/step))); "
                 "echo \\$i >/tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.1; done\" "
                 ">/dev/null 2>&1 </dev/null &");
  }

  long count(const std::string& name) {
    std::string text = remote(name, "cat /tmp/count 2>/dev/null || echo 0");
    return std::stol(text);
  }

  // The counter once it has passed `value`; only a hang reaches the deadline.
  long count_above(const std::string& name, long value) {
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    long now = count(name);
    while (now <= value && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(200ms);
      now = count(name);
    }
    return now;
  }

  nlohmann::json snapshots(const std::string& name) { return nlohmann::json::parse(ok({"snapshot", "list", name, "--json"})); }

  void expect_error(const ProcessResult& r, const std::string& code, const std::string& text) {
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find(code), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
  }

  std::filesystem::path work_dir(const std::string& name) { return data_.path() / "vms" / name; }
};

TEST_F(SnapshotQemuCliTest, AStoppedVmGoesBackToItsDisks) {
  create_running("disk");
  write_marker("disk", "MARKER-ONE");
  ok({"stop", "disk"});
  EXPECT_EQ(ok({"snapshot", "create", "disk", "one"}), "Created snapshot 'one' of VM 'disk' (disks only)\n");
  nlohmann::json all = snapshots("disk");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].at("has_ram"), false);
  EXPECT_EQ(all[0].at("disk_bytes"), 64 << 20);

  start("disk");
  EXPECT_EQ(marker("disk"), "MARKER-ONE");
  write_marker("disk", "GONE------");
  EXPECT_EQ(marker("disk"), "GONE------");
  // Without RAM it restores only into a VM that does not run.
  expect_error(vmctl({"snapshot", "restore", "disk", "one"}), "snapshot::needs_stopped", "holds no RAM");
  ok({"stop", "disk"});
  EXPECT_EQ(ok({"snapshot", "restore", "disk", "one"}), "Restored VM 'disk' to snapshot 'one'; it is stopped\n");
  start("disk");
  EXPECT_EQ(marker("disk"), "MARKER-ONE");

  expect_error(vmctl({"snapshot", "restore", "disk", "two"}), "snapshot::not_found", "no snapshot 'two'");
  expect_error(vmctl({"snapshot", "create", "disk", "no/slash"}), "snapshot::invalid_name", "no/slash");
  expect_error(vmctl({"snapshot", "create", "disk", "one", "--no-memory"}), "snapshot::already_exists", "'one'");
  ok({"snapshot", "rm", "disk", "one"});
  EXPECT_EQ(snapshots("disk"), nlohmann::json::array());
}

TEST_F(SnapshotQemuCliTest, ARamSnapshotResumesTheGuestWhereItWas) {
  create_running("ram");
  write_marker("ram", "MARKER-RAM");
  start_counter("ram");
  const long before_snapshot = count_above("ram", 0);
  ProcessResult saved = slow({"snapshot", "create", "ram", "live"});
  ASSERT_EQ(saved.exit_code, 0) << saved.out << saved.err;
  EXPECT_EQ(saved.out, "Created snapshot 'live' of VM 'ram' (disks, RAM and device state)\n");
  nlohmann::json all = snapshots("ram");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].at("has_ram"), true);
  EXPECT_GT(all[0].at("ram_bytes").get<std::uint64_t>(), 0u);
  EXPECT_GT(all[0].at("vm_clock_ms").get<std::uint64_t>(), 0u);
  EXPECT_EQ(state_of("ram"), "running");

  // The counter jumps far ahead, and the disk changes, after the snapshot.
  count_above("ram", before_snapshot);
  remote("ram", "echo 1000000 >/tmp/step");
  const long before_restore = count_above("ram", 1000000);
  write_marker("ram", "GONE------");

  ProcessResult restored = slow({"snapshot", "restore", "ram", "live"});
  ASSERT_EQ(restored.exit_code, 0) << restored.out << restored.err;
  EXPECT_EQ(restored.out, "Restored VM 'ram' to snapshot 'live'; it is running\n");
  const long after_restore = count("ram");
  EXPECT_GE(after_restore, before_snapshot);
  EXPECT_LT(after_restore, before_restore);
  EXPECT_GT(count_above("ram", after_restore), after_restore) << "the counter stopped";
  EXPECT_EQ(marker("ram"), "MARKER-RAM");

  // Into a stopped VM: it boots into the saved state and runs.
  ok({"stop", "ram"});
  restored = slow({"snapshot", "restore", "ram", "live"});
  ASSERT_EQ(restored.exit_code, 0) << restored.out << restored.err;
  EXPECT_EQ(restored.out, "Restored VM 'ram' to snapshot 'live'; it is running\n");
  const long after_boot_restore = count("ram");
  EXPECT_GE(after_boot_restore, before_snapshot);
  EXPECT_LT(after_boot_restore, 1000000);
  EXPECT_EQ(marker("ram"), "MARKER-RAM");

  // A disk-only snapshot of the running VM, which only a stopped VM takes back.
  EXPECT_EQ(ok({"snapshot", "create", "ram", "disks", "--no-memory"}),
            "Created snapshot 'disks' of VM 'ram' (disks only)\n");
  expect_error(vmctl({"snapshot", "restore", "ram", "disks"}), "snapshot::needs_stopped", "holds no RAM");
  ok({"snapshot", "rm", "ram", "live"});
  ASSERT_EQ(snapshots("ram").size(), 1u);
  EXPECT_EQ(snapshots("ram")[0].at("name"), "disks");

  // Snapshots live in the VM's disks: gone with it.
  ok({"destroy", "ram"});
  EXPECT_FALSE(std::filesystem::exists(work_dir("ram")));
}

// Data disks are snapshotted with the VM: a marker on the data disk comes
// back with the root disk's, from a snapshot of the stopped VM (qemu-img on
// each image), of the running one with its RAM (snapshot-save/-load over
// every node) and without it (one QMP transaction).
TEST_F(SnapshotQemuCliTest, DataDisksGoBackWithTheVm) {
  create_running("data", {"--data-disk", "1:scratch"});
  write_markers("data", "FIRST");
  ok({"stop", "data"});
  EXPECT_EQ(ok({"snapshot", "create", "data", "stopped"}), "Created snapshot 'stopped' of VM 'data' (disks only)\n");
  start("data");
  EXPECT_EQ(markers("data"), "FIRST-ROOT FIRST-DATA");
  write_markers("data", "SECND");
  EXPECT_EQ(markers("data"), "SECND-ROOT SECND-DATA");
  ok({"stop", "data"});
  EXPECT_EQ(ok({"snapshot", "restore", "data", "stopped"}), "Restored VM 'data' to snapshot 'stopped'; it is stopped\n");
  start("data");
  EXPECT_EQ(markers("data"), "FIRST-ROOT FIRST-DATA");

  write_markers("data", "SAVED");
  ProcessResult saved = slow({"snapshot", "create", "data", "live"});
  ASSERT_EQ(saved.exit_code, 0) << saved.out << saved.err;
  EXPECT_EQ(saved.out, "Created snapshot 'live' of VM 'data' (disks, RAM and device state)\n");
  write_markers("data", "AFTER");
  EXPECT_EQ(markers("data"), "AFTER-ROOT AFTER-DATA");
  ProcessResult restored = slow({"snapshot", "restore", "data", "live"});
  ASSERT_EQ(restored.exit_code, 0) << restored.out << restored.err;
  EXPECT_EQ(restored.out, "Restored VM 'data' to snapshot 'live'; it is running\n");
  EXPECT_EQ(state_of("data"), "running");
  EXPECT_EQ(markers("data"), "SAVED-ROOT SAVED-DATA");
  ok({"stop", "data"});
  start("data");  // a fresh boot reads what the disks hold
  EXPECT_EQ(markers("data"), "SAVED-ROOT SAVED-DATA");

  write_markers("data", "NORAM");
  EXPECT_EQ(ok({"snapshot", "create", "data", "noram", "--no-memory"}),
            "Created snapshot 'noram' of VM 'data' (disks only)\n");
  write_markers("data", "LATER");
  ok({"stop", "data"});
  EXPECT_EQ(ok({"snapshot", "restore", "data", "noram"}), "Restored VM 'data' to snapshot 'noram'; it is stopped\n");
  start("data");
  EXPECT_EQ(markers("data"), "NORAM-ROOT NORAM-DATA");
  EXPECT_EQ(snapshots("data").size(), 3u);
}

TEST_F(SnapshotQemuCliTest, WhatCannotBeSnapshottedIsRefusedByName) {
  // Shared folders: virtiofs cannot be migrated, so no RAM snapshot; the
  // disks alone can be saved.
  std::filesystem::create_directories(data_.path() / "shared");
  auto args = create_args("folders");
  args.insert(args.end(), {"--mount", (data_.path() / "shared").string() + ":/mnt/shared", "--start"});
  ProcessResult created = slow(args);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  expect_error(vmctl({"snapshot", "create", "folders", "s"}), "snapshot::blocked", "virtiofs (vhost-user-fs)");
  EXPECT_EQ(ok({"snapshot", "create", "folders", "s", "--no-memory"}),
            "Created snapshot 's' of VM 'folders' (disks only)\n");
  ok({"destroy", "folders"});

  // UEFI variables kept raw, as VMs made before snapshots have them.
  args = create_args("efi");
  args.push_back("--uefi");
  ok(args);
  ASSERT_TRUE(std::filesystem::exists(work_dir("efi") / "OVMF_VARS.qcow2"));
  ok({"snapshot", "create", "efi", "fine"});
  // Running, its RAM is saved with the qcow2 variables among the devices.
  ok({"start", "efi"});
  EXPECT_EQ(ok({"snapshot", "create", "efi", "live"}),
            "Created snapshot 'live' of VM 'efi' (disks, RAM and device state)\n");
  EXPECT_EQ(ok({"snapshot", "restore", "efi", "live"}), "Restored VM 'efi' to snapshot 'live'; it is running\n");
  ok({"stop", "efi", "--force"});
  std::filesystem::remove(work_dir("efi") / "OVMF_VARS.qcow2");
  std::filesystem::copy_file("/usr/share/OVMF/OVMF_VARS_4M.fd", work_dir("efi") / "OVMF_VARS.fd");
  expect_error(vmctl({"snapshot", "create", "efi", "raw"}), "snapshot::blocked", "UEFI variables (OVMF_VARS.fd)");

  // A disk that no longer rests on the base image recorded at create.
  ok(create_args("moved"));
  const std::filesystem::path other = data_.path() / "other.qcow2";
  ProcessResult made = run_process({"qemu-img", "create", "-q", "-f", "qcow2", other.string(), "64M"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ProcessResult rebased = run_process({"qemu-img", "rebase", "-u", "-F", "qcow2", "-b", other.string(),
                                       (work_dir("moved") / "disk.qcow2").string()});
  ASSERT_EQ(rebased.exit_code, 0) << rebased.err;
  expect_error(vmctl({"snapshot", "create", "moved", "s"}), "snapshot::backing_changed", other.string());
}

}  // namespace
}  // namespace vmctl::test

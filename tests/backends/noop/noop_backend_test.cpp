// NoopBackend: an honest lifecycle without a VM behind it.
#include "vm_manager/noop_backend.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <functional>
#include <string>

#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/json.hpp"

namespace vm_manager {

[[maybe_unused]] static void PrintTo(const VmHandle& h, std::ostream* os) { *os << nlohmann::json(h).dump(); }

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vmctl::test::TempDir;

VmSpec spec_named(const std::string& name) {
  VmSpec spec;
  spec.name = name;
  return spec;
}

// Lowercase 8-4-4-4-12 hex, version 4, RFC 4122 variant.
bool is_uuid_v4(const std::string& id) {
  if (id.size() != 36) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = id[i];
    if (dash != (c == '-')) return false;
    if (!dash && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return id[14] == '4' && std::string_view("89ab").find(id[19]) != std::string_view::npos;
}

void expect_error(std::string_view code, const std::function<void()>& f) {
  try {
    f();
    ADD_FAILURE() << "expected an Error with code " << code;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.message();
    EXPECT_FALSE(e.help().empty()) << e.message();
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
  }
}

class Noop : public ::testing::Test {
 public:
  TempDir temp;
  DataDir data{temp / "data"};
  NoopBackend noop{data};

  VmHandle prepared(const std::string& name = "web") { return noop.prepare(spec_named(name)); }
  VmHandle running(const std::string& name = "web") { return noop.start(prepared(name)); }
  VmHandle suspended(const std::string& name = "web") { return noop.suspend(running(name)); }
  VmHandle stopped(const std::string& name = "web") { return noop.stop(running(name), 1s); }
};

TEST_F(Noop, PrepareMakesAHandleFromTheSpec) {
  VmSpec spec = spec_named("web");
  spec.image_path = "/images/x.qcow2";
  spec.vcpus = 3;
  spec.memory_mb = 3072;
  spec.disk_gb = 12;
  spec.network = TapNetwork{"br0"};
  spec.uefi = true;
  spec.accel = Accel::tcg;
  spec.kernel = "/k";
  spec.initrd = "/i";
  spec.cmdline = "console=ttyS0";
  VmHandle h = noop.prepare(spec);
  EXPECT_EQ(h.name, "web");
  EXPECT_EQ(h.backend, std::string("noop"));
  EXPECT_EQ(fs::path(h.work_dir), data.vm_dir("web"));
  EXPECT_TRUE(fs::is_directory(h.work_dir));
  EXPECT_TRUE(is_uuid_v4(h.id)) << h.id;
  EXPECT_EQ(h.vcpus, 3u);
  EXPECT_EQ(h.memory_mb, 3072u);
  EXPECT_EQ(h.disk_gb, 12u);
  EXPECT_EQ(h.network, spec.network);
  // It runs nothing: the rest of the spec (image, boot options) is not its
  // to keep, and its state lives in a file, not in the handle.
  EXPECT_EQ(h.backend_state, BackendState{});
  EXPECT_EQ(noop.state(h), VmState::prepared);
  // Each VM gets its own id.
  EXPECT_NE(prepared("db").id, h.id);
}

// The host a VMFile places the VM on, named as libvirt names it (the
// host's name, else the URI), so that list and --host can be tried.
TEST_F(Noop, PrepareRecordsTheHostItIsPlacedOn) {
  EXPECT_EQ(prepared("here").host, "") << "this machine";
  VmSpec spec = spec_named("named");
  spec.backend_options = {{"host", "build1"}, {"connect", "qemu+ssh://ci@build1/system"}};
  EXPECT_EQ(noop.prepare(spec).host, "build1");
  spec = spec_named("by-uri");
  spec.backend_options = {{"connect", "qemu+ssh://ci@build1/system"}};
  EXPECT_EQ(noop.prepare(spec).host, "qemu+ssh://ci@build1/system");
  spec = spec_named("other");
  spec.backend_options = {{"propolis_api", "10.0.0.5/24"}};
  EXPECT_EQ(noop.prepare(spec).host, "");
}

TEST_F(Noop, WholeLifecycle) {
  VmHandle h = noop.prepare(spec_named("web"));
  EXPECT_EQ(noop.state(h), VmState::prepared);
  h = noop.start(h);
  EXPECT_EQ(noop.state(h), VmState::running);
  h = noop.suspend(h);
  EXPECT_EQ(noop.state(h), VmState::suspended);
  h = noop.resume(h);
  EXPECT_EQ(noop.state(h), VmState::running);
  h = noop.stop(h, 5s);
  EXPECT_EQ(noop.state(h), VmState::stopped);
  h = noop.start(h);
  EXPECT_EQ(noop.state(h), VmState::running);
  h = noop.stop(h, 5s);
  EXPECT_EQ(noop.state(h), VmState::stopped);
  noop.destroy(h);
  EXPECT_EQ(noop.state(h), VmState::destroyed);
  EXPECT_FALSE(fs::exists(h.work_dir));
  EXPECT_TRUE(fs::is_directory(data.vms_dir()));
}

TEST_F(Noop, StopOfSuspendedVm) {
  VmHandle h = suspended();
  h = noop.stop(h, 1s);
  EXPECT_EQ(noop.state(h), VmState::stopped);
}

TEST_F(Noop, StateIsSharedBetweenInstances) {
  NoopBackend other(DataDir(temp / "data"));
  VmHandle h = noop.prepare(spec_named("web"));
  EXPECT_EQ(other.state(h), VmState::prepared);
  other.start(h);
  EXPECT_EQ(noop.state(h), VmState::running);
  noop.suspend(h);
  EXPECT_EQ(other.state(h), VmState::suspended);
  other.resume(h);
  noop.stop(h, 1s);
  EXPECT_EQ(other.state(h), VmState::stopped);
  other.destroy(h);
  EXPECT_EQ(noop.state(h), VmState::destroyed);
  // It lives in the work dir.
  EXPECT_FALSE(fs::exists(data.vm_dir("web")));
}

TEST_F(Noop, StateLivesInTheWorkDir) {
  VmHandle h = running();
  bool found = false;
  for (const auto& entry : fs::directory_iterator(h.work_dir)) {
    std::ifstream in(entry.path());
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (content.find("running") != std::string::npos) found = true;
  }
  EXPECT_TRUE(found);
}

struct Transition {
  const char* label;
  std::function<VmHandle(Noop&)> setup;  // makes a VM in some state
  std::function<void(NoopBackend&, const VmHandle&)> act;
  VmState state_before;
};

class NoopInvalid : public Noop, public ::testing::WithParamInterface<Transition> {};

TEST_P(NoopInvalid, RaisesAndChangesNothing) {
  const Transition& t = GetParam();
  VmHandle h = t.setup(*this);
  ASSERT_EQ(noop.state(h), t.state_before);
  expect_error(errc::vm_invalid_state, [&] { t.act(noop, h); });
  EXPECT_EQ(noop.state(h), t.state_before);
}

INSTANTIATE_TEST_SUITE_P(
    Transitions, NoopInvalid,
    ::testing::Values(
        Transition{"resume_stopped", [](Noop& n) { return n.stopped(); },
                   [](NoopBackend& b, const VmHandle& h) { b.resume(h); }, VmState::stopped},
        Transition{"resume_prepared", [](Noop& n) { return n.prepared(); },
                   [](NoopBackend& b, const VmHandle& h) { b.resume(h); }, VmState::prepared},
        Transition{"resume_running", [](Noop& n) { return n.running(); },
                   [](NoopBackend& b, const VmHandle& h) { b.resume(h); }, VmState::running},
        Transition{"suspend_stopped", [](Noop& n) { return n.stopped(); },
                   [](NoopBackend& b, const VmHandle& h) { b.suspend(h); }, VmState::stopped},
        Transition{"suspend_prepared", [](Noop& n) { return n.prepared(); },
                   [](NoopBackend& b, const VmHandle& h) { b.suspend(h); }, VmState::prepared},
        Transition{"suspend_suspended", [](Noop& n) { return n.suspended(); },
                   [](NoopBackend& b, const VmHandle& h) { b.suspend(h); }, VmState::suspended},
        Transition{"start_running", [](Noop& n) { return n.running(); },
                   [](NoopBackend& b, const VmHandle& h) { b.start(h); }, VmState::running},
        Transition{"start_suspended", [](Noop& n) { return n.suspended(); },
                   [](NoopBackend& b, const VmHandle& h) { b.start(h); }, VmState::suspended},
        Transition{"guest_ip_prepared", [](Noop& n) { return n.prepared(); },
                   [](NoopBackend& b, const VmHandle& h) { b.guest_ip(h); }, VmState::prepared},
        Transition{"guest_ip_suspended", [](Noop& n) { return n.suspended(); },
                   [](NoopBackend& b, const VmHandle& h) { b.guest_ip(h); }, VmState::suspended},
        Transition{"guest_ip_stopped", [](Noop& n) { return n.stopped(); },
                   [](NoopBackend& b, const VmHandle& h) { b.guest_ip(h); }, VmState::stopped}),
    [](const auto& row) { return std::string(row.param.label); });

TEST_F(Noop, DestroyedVmRefusesEverythingButDestroyAndState) {
  VmHandle h = running();
  noop.destroy(h);
  EXPECT_EQ(noop.state(h), VmState::destroyed);
  expect_error(errc::vm_invalid_state, [&] { noop.start(h); });
  expect_error(errc::vm_invalid_state, [&] { noop.stop(h, 1s); });
  expect_error(errc::vm_invalid_state, [&] { noop.suspend(h); });
  expect_error(errc::vm_invalid_state, [&] { noop.resume(h); });
  expect_error(errc::vm_invalid_state, [&] { noop.guest_ip(h); });
  EXPECT_EQ(noop.state(h), VmState::destroyed);
  // Nothing was recreated by the failed calls.
  EXPECT_FALSE(fs::exists(data.vm_dir("web")));
}

TEST_F(Noop, StopOfAVmThatDoesNotRunIsANoOp) {
  VmHandle h = prepared();
  EXPECT_EQ(noop.stop(h, 1s), h);
  EXPECT_EQ(noop.state(h), VmState::prepared);
  h = noop.stop(noop.start(h), 1s);
  EXPECT_EQ(noop.state(h), VmState::stopped);
  EXPECT_EQ(noop.stop(h, 1s), h);
  EXPECT_EQ(noop.state(h), VmState::stopped);
}

TEST_F(Noop, DestroyTwiceIsNotAnError) {
  VmHandle h = running();
  noop.destroy(h);
  EXPECT_NO_THROW(noop.destroy(h));
  EXPECT_EQ(noop.state(h), VmState::destroyed);
}

TEST_F(Noop, DestroyFromEveryState) {
  std::vector<VmHandle> handles{prepared("a"), running("b"), suspended("c"), stopped("d")};
  for (const VmHandle& h : handles) {
    noop.destroy(h);
    EXPECT_EQ(noop.state(h), VmState::destroyed) << h.name;
    EXPECT_FALSE(fs::exists(h.work_dir)) << h.name;
  }
}

// The record's work_dir is never trusted: destroy removes vms/<name> only.
TEST_F(Noop, DestroyIgnoresAWorkDirOutsideTheDataDir) {
  fs::create_directories(temp / "outside");
  std::ofstream(temp / "outside" / "canary") << "x";
  for (std::string outside : {(temp / "outside").string(), (data.vms_dir() / ".." / ".." / "outside").string()}) {
    VmHandle h = prepared();
    h.work_dir = outside;
    noop.destroy(h);
    EXPECT_FALSE(fs::exists(data.vm_dir("web")));
    EXPECT_TRUE(fs::exists(temp / "outside" / "canary"));
  }
}

// Nor is it where the state goes.
TEST_F(Noop, StateIsKeptInTheVmsOwnFolderWhateverTheRecordSays) {
  fs::create_directories(temp / "outside");
  VmHandle h = prepared();
  h.work_dir = (temp / "outside").string();
  h = noop.start(h);
  EXPECT_EQ(noop.state(h), VmState::running);
  EXPECT_TRUE(fs::is_empty(temp / "outside"));
  EXPECT_TRUE(fs::exists(data.vm_dir("web") / "noop-state"));
}

// A symlink planted as the state file is replaced, never written through; one
// planted as the VM's folder is refused.
TEST_F(Noop, StateFileSymlinksAreNotFollowed) {
  const fs::path decoy = temp / "decoy";
  std::ofstream(decoy) << "decoy\n";
  fs::permissions(decoy, fs::perms(0644));
  struct stat before {};
  ASSERT_EQ(::stat(decoy.c_str(), &before), 0);
  auto expect_decoy_untouched = [&] {
    struct stat after {};
    ASSERT_EQ(::stat(decoy.c_str(), &after), 0);
    EXPECT_EQ(after.st_ino, before.st_ino);
    EXPECT_EQ(after.st_mode, before.st_mode);
    std::ifstream in(decoy);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "decoy\n");
  };

  VmHandle h = prepared();
  fs::remove(data.vm_dir("web") / "noop-state");
  fs::create_symlink(decoy, data.vm_dir("web") / "noop-state");
  EXPECT_EQ(noop.state(h), VmState::failed);  // not read through the link
  h = noop.stop(h, 1s);
  EXPECT_FALSE(fs::is_symlink(data.vm_dir("web") / "noop-state"));
  EXPECT_EQ(noop.state(h), VmState::stopped);
  expect_decoy_untouched();

  fs::create_directories(temp / "elsewhere");
  fs::remove_all(data.vm_dir("web"));
  fs::create_directory_symlink(temp / "elsewhere", data.vm_dir("web"));
  expect_error(errc::store_io, [&] { noop.start(h); });
  EXPECT_TRUE(fs::is_empty(temp / "elsewhere"));
  expect_decoy_untouched();
}

TEST_F(Noop, StateFileIsPrivateWhateverTheUmask) {
  mode_t old = ::umask(0);
  VmHandle h = running();
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat((data.vm_dir("web") / "noop-state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat(data.vm_dir("web").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(Noop, HandleWithoutWorkDir) {
  VmHandle h;
  h.name = "web";
  EXPECT_EQ(noop.state(h), VmState::destroyed);
  EXPECT_NO_THROW(noop.destroy(h));
  expect_error(errc::vm_invalid_state, [&] { noop.start(h); });
}

TEST_F(Noop, GuestIp) {
  VmHandle h = running();
  EXPECT_EQ(noop.guest_ip(h), "127.0.0.1");
  h = noop.resume(noop.suspend(h));
  EXPECT_EQ(noop.guest_ip(h), "127.0.0.1");
}

TEST_F(Noop, ConsoleEndpointIsNone) {
  VmHandle h = running();
  EXPECT_TRUE(std::holds_alternative<NoConsole>(noop.console_endpoint(h)));
  EXPECT_TRUE(std::holds_alternative<NoConsole>(noop.console_endpoint(prepared("db"))));
}

TEST_F(Noop, WorkDirWithoutStateIsFailed) {
  VmHandle h = running();
  for (const auto& entry : fs::directory_iterator(h.work_dir)) fs::remove(entry.path());
  EXPECT_EQ(noop.state(h), VmState::failed);
  // A failed VM can be stopped (and then started again).
  h = noop.stop(h, 1s);
  EXPECT_EQ(noop.state(h), VmState::stopped);
  h = noop.start(h);
  EXPECT_EQ(noop.state(h), VmState::running);
}

TEST_F(Noop, PrepareOfAnExistingName) {
  VmHandle first = running();
  expect_error(errc::vm_already_exists, [&] { noop.prepare(spec_named("web")); });
  EXPECT_EQ(noop.state(first), VmState::running);  // the first VM is untouched
  EXPECT_TRUE(fs::is_directory(first.work_dir));
}

TEST_F(Noop, PrepareValidatesTheSpec) {
  expect_error(errc::vm_invalid_name, [&] { noop.prepare(spec_named("../web")); });
  expect_error(errc::vm_invalid_name, [&] { noop.prepare(spec_named("")); });
  VmSpec spec = spec_named("web");
  spec.vcpus = 0;
  expect_error(errc::spec_invalid, [&] { noop.prepare(spec); });
  spec = spec_named("web");
  spec.memory_mb = 1;
  expect_error(errc::spec_invalid, [&] { noop.prepare(spec); });
  spec = spec_named("web");
  spec.network = TapNetwork{"br 0"};
  expect_error(errc::spec_invalid, [&] { noop.prepare(spec); });
  EXPECT_FALSE(fs::exists(data.vm_dir("web")));
  EXPECT_FALSE(fs::exists(temp / "web"));
}

TEST_F(Noop, WorksAfterReprepareOfADestroyedName) {
  VmHandle old = running();
  noop.destroy(old);
  VmHandle again = prepared();
  EXPECT_NE(again.id, old.id);
  EXPECT_EQ(noop.state(again), VmState::prepared);
}

// Snapshots are recorded with the qemu backend's rules.
TEST_F(Noop, SnapshotsAreRecordedWithTheQemuRules) {
  VmHandle h = running();
  noop.create_snapshot(h, "live", SnapshotMemory::include);
  noop.create_snapshot(h, "disks", SnapshotMemory::exclude);
  std::vector<SnapshotInfo> all = noop.list_snapshots(h);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "live");
  EXPECT_TRUE(all[0].has_ram);
  EXPECT_EQ(all[0].ram_bytes, h.memory_mb << 20);
  EXPECT_FALSE(all[1].has_ram);
  expect_error(errc::snapshot_already_exists, [&] { noop.create_snapshot(h, "live", SnapshotMemory::include); });
  expect_error(errc::snapshot_invalid_name, [&] { noop.create_snapshot(h, "../x", SnapshotMemory::include); });
  expect_error(errc::snapshot_needs_stopped, [&] { noop.restore_snapshot(h, "disks"); });
  expect_error(errc::snapshot_not_found, [&] { noop.restore_snapshot(h, "nope"); });
  expect_error(errc::snapshot_not_found, [&] { noop.delete_snapshot(h, "nope"); });
  noop.stop(h, 0s);
  noop.restore_snapshot(h, "disks");
  EXPECT_EQ(noop.state(h), VmState::stopped);
  noop.restore_snapshot(h, "live");
  EXPECT_EQ(noop.state(h), VmState::running);
  noop.delete_snapshot(h, "live");
  ASSERT_EQ(noop.list_snapshots(h).size(), 1u);
  // A stopped VM's snapshot holds its disks alone, whatever was asked.
  noop.stop(h, 0s);
  noop.create_snapshot(h, "stopped", SnapshotMemory::include);
  EXPECT_FALSE(noop.list_snapshots(h).back().has_ram);
  noop.destroy(h);
  expect_error(errc::vm_invalid_state, [&] { noop.list_snapshots(h); });
}

// As on qemu: each snapshot keeps the disk size it was taken at, and a
// restore brings it back into the handle.
TEST_F(Noop, ARestoreBringsTheSnapshotsDiskSizeBack) {
  VmHandle h = prepared();
  h.disk_gb = std::nullopt;
  noop.create_snapshot(h, "image-size", SnapshotMemory::exclude);
  h = noop.resize(h, VmResize{std::nullopt, std::nullopt, 10});
  noop.create_snapshot(h, "ten", SnapshotMemory::exclude);
  h = noop.resize(h, VmResize{std::nullopt, std::nullopt, 20});
  std::vector<SnapshotInfo> all = noop.list_snapshots(h);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].disk_bytes, 0u);
  EXPECT_EQ(all[1].disk_bytes, 10ull << 30);
  VmHandle restored = noop.restore_snapshot(h, "ten");
  EXPECT_EQ(restored.disk_gb, 10u);
  VmHandle expected = h;
  expected.disk_gb = 10;
  EXPECT_EQ(restored, expected);
  EXPECT_EQ(noop.restore_snapshot(restored, "image-size").disk_gb, std::nullopt);
}

TEST_F(Noop, ASnapshotsDiskSizeThatIsNoDiskIsStoreCorrupt) {
  VmHandle h = prepared();
  std::ofstream(fs::path(h.work_dir) / "noop-snapshots")
      << R"([{"name": "odd", "created_unix": 1, "disk_bytes": 1000, "has_ram": false, "ram_bytes": 0,)"
      << R"( "vm_clock_ms": 0}])";
  expect_error(errc::store_corrupt, [&] { noop.restore_snapshot(h, "odd"); });
}

TEST_F(Noop, AnUnreadableSnapshotsFileIsStoreCorrupt) {
  VmHandle h = prepared();
  std::ofstream(fs::path(h.work_dir) / "noop-snapshots") << "{not json";
  expect_error(errc::store_corrupt, [&] { noop.list_snapshots(h); });
}

}  // namespace
}  // namespace vm_manager

// up/down/reload/provision on the noop backend: the decisions (create,
// start, resume, leave alone, drift) and the parallel runner. The same
// flows with real QEMU guests are in tests/vmctl/vmfile_cli_test.cpp.
#include "vmfile/apply.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "support/error_from.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/router.hpp"
#include "vm_manager/vmfile.hpp"

namespace {
using namespace vm_manager;
using vmctl::test::error_from;
using vmctl::test::TempDir;
using namespace std::chrono_literals;

VmSpec spec_named(const std::string& name) {
  VmSpec spec;
  spec.name = name;
  spec.backend = std::string("noop");
  spec.image_path = "/images/base.qcow2";
  return spec;
}

ManagerConfig noop_config(const std::filesystem::path& dir) {
  ManagerConfig config{DataDir(dir)};
  config.backends = BackendRegistry::noop_only();
  config.image_cache = dir / "images";
  return config;
}

class ApplyTest : public ::testing::Test {
 protected:
  ApplyTest()
      : manager_(noop_config(dir_.path())),
        store_(manager_.store()),
        router_(manager_.hypervisor()) {
    ctx_.manager = &manager_;
    // The manager resolves a definition's image as its backend would: a file.
    std::filesystem::create_directories(dir_.path() / "base");
    std::ofstream(base_image_) << "not really a disk";
    ctx_.on_event = [this](const std::string& vm, const std::string& line) {
      std::lock_guard<std::mutex> hold(mutex_);
      lines_.push_back(vm + " | " + line);
    };
  }

  vmfile::VmDefinition definition(const std::string& name) {
    vmfile::VmDefinition vm;
    vm.spec = spec_named(name);
    vm.spec.image_path = base_image_.string();
    return vm;
  }

  VmState state_of(const std::string& name) { return router_.state(store_.load(name).handle); }

  TempDir dir_;
  std::filesystem::path base_image_ = dir_.path() / "base" / "base.qcow2";
  VmManager manager_;
  VmStore& store_;
  RouterHypervisor& router_;
  vmfile::ApplyContext ctx_;
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

TEST_F(ApplyTest, UpCreatesStartsThenLeavesRunningVmsAlone) {
  auto vm = definition("web");
  vmfile::VmOutcome first = vmfile::up(ctx_, vm);
  EXPECT_TRUE(first.ok) << first.error;
  EXPECT_EQ(first.result, "created");
  EXPECT_EQ(state_of("web"), VmState::running);
  EXPECT_NE(std::find(lines_.begin(), lines_.end(), "web | started"), lines_.end());

  vmfile::VmOutcome again = vmfile::up(ctx_, vm);
  EXPECT_EQ(again.result, "running");
  EXPECT_TRUE(again.drift.empty());
}

TEST_F(ApplyTest, UpStartsStoppedAndResumesSuspendedVms) {
  auto vm = definition("db");
  vmfile::up(ctx_, vm);
  EXPECT_EQ(vmfile::down(ctx_, vm, false).result, "stopped");
  EXPECT_EQ(state_of("db"), VmState::stopped);
  EXPECT_EQ(vmfile::up(ctx_, vm).result, "started");
  EXPECT_EQ(state_of("db"), VmState::running);

  {
    VmLock lock = store_.lock("db");
    VmRecord record = store_.load("db");
    record.handle = router_.suspend(record.handle);
    store_.save(lock, record);
  }
  EXPECT_EQ(vmfile::up(ctx_, vm).result, "resumed");
  EXPECT_EQ(state_of("db"), VmState::running);
}

TEST_F(ApplyTest, DriftIsReportedNotApplied) {
  auto vm = definition("app");
  vmfile::up(ctx_, vm);
  vm.spec.vcpus = 4;
  vm.spec.memory_mb = 2048;
  vm.spec.network = TapNetwork{"br0"};
  vmfile::VmOutcome outcome = vmfile::up(ctx_, vm);
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.result, "running, drifted");
  EXPECT_EQ(outcome.drift, (std::vector<std::string>{"vcpus 1 -> 4", "memory 1024 MB -> 2048 MB",
                                                     "network user -> tap bridge=br0"}));
  EXPECT_EQ(store_.load("app").spec.vcpus, 1u) << "up never changes an existing VM";

  vmfile::VmOutcome reloaded = vmfile::reload(ctx_, vm);
  EXPECT_TRUE(reloaded.ok) << reloaded.error;
  EXPECT_EQ(reloaded.result, "recreated");
  EXPECT_EQ(store_.load("app").spec.vcpus, 4u);
  EXPECT_TRUE(vmfile::up(ctx_, vm).drift.empty());
}

TEST_F(ApplyTest, DriftIsToldEvenWhenTheVmCannotBeBroughtUp) {
  auto vm = definition("gone");
  vmfile::up(ctx_, vm);
  // The noop backend keeps its state in a file: a broken one reads as failed.
  std::ofstream(std::filesystem::path(store_.load("gone").handle.work_dir) / "noop-state") << "garbage\n";
  vm.spec.vcpus = 2;
  vmfile::VmOutcome outcome = vmfile::up(ctx_, vm);
  EXPECT_FALSE(outcome.ok) << outcome.result;
  EXPECT_NE(outcome.error.find("is failed"), std::string::npos) << outcome.error;
  EXPECT_NE(std::find_if(lines_.begin(), lines_.end(),
                         [](const std::string& line) {
                           return line.starts_with("gone | drifted from its definition (vcpus 1 -> 2)");
                         }),
            lines_.end());
}

TEST_F(ApplyTest, DriftNamesEveryDefiningField) {
  VmSpec a = spec_named("x");
  VmSpec b = a;
  EXPECT_TRUE(vmfile::drift_between(a, b).empty());
  b.image_path = "/images/other.qcow2";
  b.disk_gb = 20;
  auto drift = vmfile::drift_between(a, b);
  EXPECT_EQ(drift, (std::vector<std::string>{"image /images/base.qcow2 -> /images/other.qcow2",
                                             "disk image size -> 20 GB"}));
  b = a;
  b.image_path = "/images/./base.qcow2";
  EXPECT_TRUE(vmfile::drift_between(a, b).empty()) << "the same file spelled differently is no drift";
  b.kernel = "/boot/vmlinuz";  // not a defining field: reload is not needed for it
  EXPECT_TRUE(vmfile::drift_between(a, b).empty());
  b = a;
  b.vnc = VncMode::tcp;  // fixed when the VM is made: a reload applies it
  EXPECT_EQ(vmfile::drift_between(a, b), (std::vector<std::string>{"vnc unix -> tcp"}));
  b = a;
  b.shared_folders = {{"/home/me/src", "/srv/src", false}, {"/home/me/data", "/srv/data", true}};
  EXPECT_EQ(vmfile::drift_between(a, b),
            (std::vector<std::string>{"mounts none -> /home/me/src:/srv/src, /home/me/data:/srv/data:ro"}));
  b = a;
  b.port_forwards = {PortForward{"127.0.0.1", 8080, 80, PortProtocol::tcp},
                     PortForward{"0.0.0.0", 5353, 53, PortProtocol::udp}};
  EXPECT_EQ(vmfile::drift_between(a, b),
            (std::vector<std::string>{"forwards [] -> [127.0.0.1:8080->80/tcp, 0.0.0.0:5353->53/udp]"}));
  b = a;
  b.data_disks = {{"scratch", 20}, {"logs", 5}};
  EXPECT_EQ(vmfile::drift_between(a, b), (std::vector<std::string>{"data disks none -> scratch 20 GB, logs 5 GB"}));
  a.data_disks = {{"scratch", 10}};
  EXPECT_EQ(vmfile::drift_between(a, b),
            (std::vector<std::string>{"data disks scratch 10 GB -> scratch 20 GB, logs 5 GB"}));
}

TEST_F(ApplyTest, DriftNamesWhereTheVmRuns) {
  VmSpec a = spec_named("x");
  VmSpec b = a;
  b.backend_options = {{"host", "build1"}, {"connect", "qemu+ssh://ci@build1/system"}};
  EXPECT_EQ(vmfile::drift_between(a, b),
            (std::vector<std::string>{"host none -> build1", "connect none -> qemu+ssh://ci@build1/system"}));
  a = b;
  b.backend_options["connect"] = "qemu+ssh://ci@build2/system";
  b.backend_options["pool"] = "fast";
  b.backend_options["network"] = "nat2";
  EXPECT_EQ(vmfile::drift_between(a, b),
            (std::vector<std::string>{"connect qemu+ssh://ci@build1/system -> qemu+ssh://ci@build2/system",
                                      "pool none -> fast", "host network none -> nat2"}));
  b = a;
  b.backend_options["propolis_api"] = "10.0.0.5/24";  // another backend's setting: not where the VM runs
  EXPECT_TRUE(vmfile::drift_between(a, b).empty());
  b = a;
  b.vcpus = 2;
  b.backend_options["host"] = "build2";
  EXPECT_EQ(vmfile::in_place_change(a, b), std::nullopt) << "a VM on another host is another VM";
}

// A VM whose definition moves it to another host is drift up reports and
// reload applies by making the VM anew there (the noop backend records the
// host it was given).
TEST_F(ApplyTest, AVmMovedToAnotherHostIsRecreatedByReload) {
  auto vm = definition("web");
  vm.spec.backend_options = {{"host", "build1"}, {"connect", "qemu+ssh://ci@build1/system"}};
  ASSERT_TRUE(vmfile::up(ctx_, vm).ok);
  const VmRecord first = store_.load("web");
  EXPECT_EQ(first.handle.host, "build1");
  vm.spec.backend_options = {{"host", "build2"}, {"connect", "qemu+ssh://ci@build2/system"}};
  vm.spec.vcpus = 2;
  vmfile::VmOutcome outcome = vmfile::up(ctx_, vm);
  EXPECT_EQ(outcome.result, "running, drifted");
  EXPECT_EQ(outcome.drift, (std::vector<std::string>{"vcpus 1 -> 2", "host build1 -> build2",
                                                     "connect qemu+ssh://ci@build1/system -> "
                                                     "qemu+ssh://ci@build2/system"}));
  EXPECT_EQ(store_.load("web").handle.host, "build1") << "up never moves an existing VM";
  vmfile::VmOutcome reloaded = vmfile::reload(ctx_, vm);
  EXPECT_TRUE(reloaded.ok) << reloaded.error;
  EXPECT_EQ(reloaded.result, "recreated") << "not resized in place: the host changed too";
  const VmRecord second = store_.load("web");
  EXPECT_NE(second.handle.id, first.handle.id);
  EXPECT_EQ(second.handle.host, "build2");
  EXPECT_TRUE(vmfile::up(ctx_, vm).drift.empty());
}

TEST_F(ApplyTest, UpCreatesTheDataDisksAndReportsTheirDrift) {
  auto vm = definition("web");
  vm.spec.data_disks = {{"scratch", 20}};
  ASSERT_TRUE(vmfile::up(ctx_, vm).ok);
  EXPECT_EQ(store_.load("web").handle.data_disks, (std::vector<DataDisk>{{"scratch", 20}}));
  EXPECT_TRUE(vmfile::up(ctx_, vm).drift.empty());
  vm.spec.data_disks.push_back({"logs", 5});
  EXPECT_EQ(vmfile::up(ctx_, vm).drift,
            (std::vector<std::string>{"data disks scratch 20 GB -> scratch 20 GB, logs 5 GB"}));
}

TEST(InPlaceChange, OnlyVcpusMemoryAndAGrowingDiskAreResizedInPlace) {
  VmSpec a = spec_named("x");
  VmSpec b = a;
  EXPECT_EQ(vmfile::in_place_change(a, b), std::nullopt) << "no drift, nothing to change";
  b.vcpus = 2;
  b.disk_gb = 20;
  EXPECT_EQ(vmfile::in_place_change(a, b), (VmResize{2, std::nullopt, 20}));
  b.vnc = VncMode::tcp;
  EXPECT_EQ(vmfile::in_place_change(a, b), std::nullopt) << "the VNC mode needs a new VM";
  b = a;
  b.memory_mb = 4096;
  b.image_path = "/images/other.qcow2";
  EXPECT_EQ(vmfile::in_place_change(a, b), std::nullopt) << "a new image needs a new VM";
  a.disk_gb = 20;
  b = a;
  b.disk_gb = 10;
  EXPECT_EQ(vmfile::in_place_change(a, b), std::nullopt) << "a disk never shrinks";
  b.disk_gb = std::nullopt;
  EXPECT_EQ(vmfile::in_place_change(a, b), std::nullopt) << "a grown disk cannot go back to the image's size";
  b.disk_gb = 30;
  b.memory_mb = 512;
  EXPECT_EQ(vmfile::in_place_change(a, b), (VmResize{std::nullopt, 512, 30}));
}

TEST_F(ApplyTest, UpResizesAStoppedVmInPlaceBeforeStartingIt) {
  auto vm = definition("app");
  vmfile::up(ctx_, vm);
  vmfile::down(ctx_, vm, false);
  const std::string id = store_.load("app").handle.id;
  vm.spec.vcpus = 2;
  vm.spec.memory_mb = 2048;
  vm.spec.disk_gb = 20;
  vmfile::VmOutcome outcome = vmfile::up(ctx_, vm);
  EXPECT_TRUE(outcome.ok) << outcome.error;
  EXPECT_EQ(outcome.result, "resized, started");
  EXPECT_TRUE(outcome.drift.empty());
  EXPECT_NE(std::find(lines_.begin(), lines_.end(),
                      "app | resized in place: vcpus 1 -> 2, memory 1024 MB -> 2048 MB, disk image size -> 20 GB"),
            lines_.end());
  VmRecord record = store_.load("app");
  EXPECT_EQ(record.handle.id, id) << "the same VM, not a new one";
  EXPECT_EQ(record.handle.vcpus, 2u);
  EXPECT_EQ(record.handle.memory_mb, 2048u);
  EXPECT_EQ(record.handle.disk_gb, 20u);
  EXPECT_EQ(record.spec.vcpus, 2u);
  EXPECT_EQ(state_of("app"), VmState::running);
  EXPECT_EQ(vmfile::up(ctx_, vm).result, "running") << "no drift is left";
}

TEST_F(ApplyTest, UpOnARunningVmSaysThatStoppingItLetsUpResizeIt) {
  auto vm = definition("app");
  vmfile::up(ctx_, vm);
  vm.spec.vcpus = 2;
  vmfile::VmOutcome outcome = vmfile::up(ctx_, vm);
  EXPECT_TRUE(outcome.ok) << outcome.error;
  EXPECT_EQ(outcome.result, "running, drifted");
  EXPECT_EQ(outcome.drift, (std::vector<std::string>{"vcpus 1 -> 2"}));
  EXPECT_NE(std::find(lines_.begin(), lines_.end(),
                      "app | drifted from its definition (vcpus 1 -> 2); stopping the VM lets up apply it in place"),
            lines_.end());
  EXPECT_EQ(store_.load("app").spec.vcpus, 1u);
  vmfile::down(ctx_, vm, false);
  EXPECT_EQ(vmfile::up(ctx_, vm).result, "resized, started");
  EXPECT_EQ(store_.load("app").handle.vcpus, 2u);
}

TEST_F(ApplyTest, ReloadStopsResizesAndStartsWhenOnlyTheSizeDrifted) {
  auto vm = definition("app");
  vmfile::up(ctx_, vm);
  const std::string id = store_.load("app").handle.id;
  vm.spec.memory_mb = 2048;
  vmfile::VmOutcome outcome = vmfile::reload(ctx_, vm);
  EXPECT_TRUE(outcome.ok) << outcome.error;
  EXPECT_EQ(outcome.result, "resized, started");
  const std::vector<std::string> said(lines_.begin(), lines_.end());
  auto at = std::find(said.begin(), said.end(), "app | stopping to resize in place");
  ASSERT_NE(at, said.end());
  EXPECT_EQ(std::vector<std::string>(at, at + 4),
            (std::vector<std::string>{"app | stopping to resize in place", "app | stopped",
                                      "app | resized in place: memory 1024 MB -> 2048 MB", "app | started"}));
  VmRecord record = store_.load("app");
  EXPECT_EQ(record.handle.id, id) << "resized, not recreated";
  EXPECT_EQ(record.handle.memory_mb, 2048u);
  EXPECT_EQ(state_of("app"), VmState::running);
}

TEST_F(ApplyTest, ADiskThatWouldShrinkIsLeftToReloadToRecreate) {
  auto vm = definition("app");
  vm.spec.disk_gb = 20;
  vmfile::up(ctx_, vm);
  vmfile::down(ctx_, vm, false);
  const std::string id = store_.load("app").handle.id;
  vm.spec.disk_gb = 10;
  vmfile::VmOutcome outcome = vmfile::up(ctx_, vm);
  EXPECT_EQ(outcome.result, "started, drifted");
  EXPECT_NE(std::find(lines_.begin(), lines_.end(),
                      "app | drifted from its definition (disk 20 GB -> 10 GB); a reload applies it"),
            lines_.end());
  vmfile::VmOutcome reloaded = vmfile::reload(ctx_, vm);
  EXPECT_EQ(reloaded.result, "recreated");
  EXPECT_NE(store_.load("app").handle.id, id);
  EXPECT_EQ(store_.load("app").handle.disk_gb, 10u);
}

TEST_F(ApplyTest, AForwardAddedToTheVmIsDriftFromAVmFileWithoutIt) {
  auto vm = definition("web");
  vmfile::up(ctx_, vm);
  manager_.add_port_forward("web", PortForward{"127.0.0.1", 8080, 80, PortProtocol::tcp});
  EXPECT_EQ(vmfile::up(ctx_, vm).drift, (std::vector<std::string>{"forwards [127.0.0.1:8080->80/tcp] -> []"}));
  vm.spec.port_forwards = {PortForward{"127.0.0.1", 8080, 80, PortProtocol::tcp}};
  EXPECT_TRUE(vmfile::up(ctx_, vm).drift.empty());
}

TEST_F(ApplyTest, DownDestroyRemovesTheVm) {
  auto vm = definition("gone");
  vmfile::up(ctx_, vm);
  EXPECT_EQ(vmfile::down(ctx_, vm, true).result, "destroyed");
  EXPECT_FALSE(store_.exists("gone"));
  EXPECT_EQ(vmfile::down(ctx_, vm, true).result, "not created");
  EXPECT_EQ(vmfile::down(ctx_, vm, false).result, "not created");
}

TEST_F(ApplyTest, ProvisionNeedsARunningVm) {
  auto vm = definition("p");
  vm.provisioners.push_back(provision::ShellInline{"true"});
  vmfile::VmOutcome missing = vmfile::provision(ctx_, vm);
  EXPECT_FALSE(missing.ok);
  EXPECT_EQ(missing.error_code, errc::vm_not_found);
  vmfile::up(ctx_, vm);  // noop: no SSH, so nothing to provision with
  vmfile::down(ctx_, vm, false);
  vmfile::VmOutcome stopped = vmfile::provision(ctx_, vm);
  EXPECT_FALSE(stopped.ok);
  EXPECT_EQ(stopped.error_code, errc::vm_invalid_state);
  EXPECT_NE(stopped.error.find("not running"), std::string::npos);
}

TEST_F(ApplyTest, AFailingVmDoesNotStopTheOthers) {
  auto good = definition("good");
  auto bad = definition("bad");
  bad.spec.vcpus = 0;  // refused by every backend's spec check
  auto also_good = definition("also-good");
  auto outcomes = vmfile::apply_parallel({&good, &bad, &also_good}, 0,
                                         [&](const vmfile::VmDefinition& vm) { return vmfile::up(ctx_, vm); });
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_TRUE(outcomes[0].ok);
  EXPECT_FALSE(outcomes[1].ok);
  EXPECT_EQ(outcomes[1].result, "failed");
  EXPECT_EQ(outcomes[1].error_code, errc::spec_invalid);
  EXPECT_TRUE(outcomes[2].ok);
  EXPECT_EQ(outcomes[2].name, "also-good");
  EXPECT_NE(std::find(lines_.begin(), lines_.end(), "bad | failed: " + outcomes[1].error), lines_.end());
}

// The public API (vm_manager/vmfile.hpp): a file parsed from text, applied
// through the manager, each VM's events handed to the caller.
TEST_F(ApplyTest, ThePublicApiAppliesAParsedFileAndReportsEachVmsEvents) {
  VmFile file = parse_vmfile(fmt::format(R"kdl(
vm "one" {{
    image "{0}"
    backend "noop"
}}
vm "two" {{
    image "{0}"
    backend "noop"
    vcpus 2
}}
)kdl", base_image_.string()), dir_.path() / "VMFile.kdl");
  ASSERT_EQ(file.vms.size(), 2u);
  ASSERT_NE(file.find("two"), nullptr);
  EXPECT_EQ(file.find("two")->position, (SourcePosition{6, 1}));
  EXPECT_EQ(file.find("three"), nullptr);

  std::mutex mutex;
  std::vector<std::string> events;
  ApplyOptions options;
  options.on_event = [&](const std::string& vm, const std::string& line) {
    std::lock_guard<std::mutex> hold(mutex);
    events.push_back(vm + ": " + line);
  };
  std::vector<VmOutcome> up = apply_up(manager_, file, options);
  ASSERT_EQ(up.size(), 2u);
  EXPECT_EQ(up[0].name, "one");
  EXPECT_EQ(up[0].result, "created");
  EXPECT_EQ(up[1].result, "created");
  EXPECT_NE(std::find(events.begin(), events.end(), "two: created (noop backend)"), events.end());
  EXPECT_EQ(manager_.get("two").spec.vcpus, 2u);

  options.only = "two";
  std::vector<VmOutcome> down = apply_down(manager_, file, /*destroy=*/false, options);
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].result, "stopped");
  EXPECT_EQ(state_of("one"), VmState::running);
  EXPECT_EQ(apply_reload(manager_, file, options)[0].result, "recreated");
  EXPECT_EQ(apply_provision(manager_, file, options)[0].result, "nothing to provision");

  options.only = "three";
  Error missing = error_from([&] { apply_up(manager_, file, options); });
  EXPECT_EQ(missing.code(), errc::vm_not_found);
  EXPECT_EQ(missing.help(), "it defines: one, two");
}

TEST(ApplyParallel, RunsAtMostJobsAtOnceAndKeepsOrder) {
  std::vector<vmfile::VmDefinition> defs(8);
  std::vector<const vmfile::VmDefinition*> vms;
  for (std::size_t i = 0; i < defs.size(); ++i) {
    defs[i].spec.name = "vm" + std::to_string(i);
    vms.push_back(&defs[i]);
  }
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  auto outcomes = vmfile::apply_parallel(vms, 3, [&](const vmfile::VmDefinition& vm) {
    int now = ++running;
    for (int seen = peak.load(); now > seen && !peak.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(20ms);
    --running;
    vmfile::VmOutcome outcome;
    outcome.name = vm.spec.name;
    return outcome;
  });
  EXPECT_LE(peak.load(), 3);
  EXPECT_GE(peak.load(), 2) << "jobs run side by side";
  for (std::size_t i = 0; i < outcomes.size(); ++i) EXPECT_EQ(outcomes[i].name, "vm" + std::to_string(i));
}

}  // namespace

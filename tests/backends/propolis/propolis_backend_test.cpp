// PropolisBackend's snapshots, data disks, hard reset and resize through the
// Hypervisor calls, on Linux against the zone simulator: the fake illumos
// tools (tests/propolis/fake-tools), whose `zoneadm boot` boots the zone and
// starts the fake propolis-server in it. The fake zfs keeps each volume's
// bytes in a file (and each snapshot's copy), so what a rollback brings back
// is read from the volume itself; the fake server validates every request
// against the API document and opens each disk's path in the zone.
#include "backends/propolis/propolis_backend.hpp"

#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "backends/propolis/propolis_state.hpp"
#include "support/fake_propolis.hpp"
#include "support/ports.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::propolis {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using nlohmann::json;

const fs::path kFakeTools = fs::path(VMCTL_SOURCE_DIR) / "tests/propolis/fake-tools";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class FakeToolsRunner : public CommandRunner {
 public:
  os::ProcessOutput run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) override {
    os::ProcessSpec spec;
    spec.argv = argv;
    spec.argv[0] = (kFakeTools / argv.at(0)).string();
    spec.env_overrides = env;
    return os::run_process(spec, timeout);
  }
  std::map<std::string, std::string> env;
};

// Raises unless `call` raises an Error with `code`; returns its message.
template <typename F>
std::string error_of(F call, std::string_view code) {
  try {
    call();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.message();
    EXPECT_FALSE(e.help().empty());
    return e.message();
  }
  ADD_FAILURE() << "no error " << code;
  return "";
}

class PropolisBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_ip_ = "127.0.0." + std::to_string(2 + ::getpid() % 250);
    vmctl::test::install_fake_propolis(tmp_ / "propolis");
    auto runner = std::make_unique<FakeToolsRunner>();
    runner->env = {{"VMCTL_FAKE_TOOLS_STATE", state_dir().string()}};
    tools_ = runner.get();
    ASSERT_TRUE(tool({"zfs", "create", "-p", "-V", "10G", "rpool/images/debian"}).ok());
    ASSERT_TRUE(tool({"zfs", "snapshot", "rpool/images/debian@base"}).ok());
    PropolisConfig config;
    config.physical_link = "net0";
    config.zones_root = (tmp_ / "zones").string();
    config.propolis_dir = (tmp_ / "propolis").string();
    config.api_port = static_cast<std::uint16_t>(vmctl::test::free_port(api_ip_));
    config.start_timeout = 60s;
    backend_ = std::make_unique<PropolisBackend>(DataDir(tmp_ / "data"), config, std::move(runner));
  }

  // Every zone's processes die with the test, by pid.
  void TearDown() override {
    os::ProcessSpec spec;
    spec.argv = {"python3", (kFakeTools / "zone_sim.py").string(), "kill-all", state_dir().string()};
    os::run_process(spec, 60s);
  }

  fs::path state_dir() const { return tmp_ / "state"; }
  os::ProcessOutput tool(const std::vector<std::string>& argv) { return tools_->run(argv, 60s); }
  // A volume's bytes, as the fake zfs keeps them.
  fs::path volume(const std::string& dataset) const { return state_dir() / "zvol/rdsk" / dataset; }
  void write_at(const std::string& dataset, std::uint64_t offset, const std::string& data) {
    std::fstream f(volume(dataset), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f << data;
  }
  std::string read_at(const std::string& dataset, std::uint64_t offset, std::size_t n) {
    std::ifstream f(volume(dataset), std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    std::string out(n, '\0');
    f.read(out.data(), static_cast<std::streamsize>(n));
    return out;
  }
  std::vector<std::string> datasets_named(const std::string& part) {
    std::vector<std::string> out;
    json st = json::parse(slurp(state_dir() / "state.json"));
    for (auto& [name, _] : st["datasets"].items())
      if (name.find(part) != std::string::npos) out.push_back(name);
    return out;
  }
  // The fake server's ensure requests for the VM's zone, across its boots.
  std::vector<json> ensures(const std::string& vm) {
    std::vector<json> out;
    std::istringstream in(slurp(state_dir() / "propolis-server" / ("vmctl-" + vm) / "requests.jsonl"));
    for (std::string line; std::getline(in, line);) {
      json r = json::parse(line);
      if (r["method"] == "PUT" && r["path"] == "/instance") out.push_back(r["body"]);
    }
    return out;
  }
  std::vector<std::string> state_requests(const std::string& vm) {
    std::vector<std::string> out;
    std::istringstream in(slurp(state_dir() / "propolis-server" / ("vmctl-" + vm) / "requests.jsonl"));
    for (std::string line; std::getline(in, line);) {
      json r = json::parse(line);
      if (r["method"] == "PUT" && r["path"] == "/instance/state") out.push_back(r["body"].get<std::string>());
    }
    return out;
  }

  VmSpec spec(const std::string& name) const {
    VmSpec s;
    s.name = name;
    s.image_path = "debian@base";
    s.network = VnicNetwork{};
    s.backend_options[kApiOption] = api_ip_ + "/8";
    s.vcpus = 2;
    s.memory_mb = 2048;
    s.data_disks = {{"db", 2}, {"logs", 1}};
    return s;
  }

  vmctl::test::TempDir tmp_;
  std::string api_ip_;
  FakeToolsRunner* tools_ = nullptr;
  std::unique_ptr<PropolisBackend> backend_;
};

TEST_F(PropolisBackendTest, DataDisksAreNvmeDisksNamedByTheirSerialAndGoWithDestroy) {
  VmHandle h = backend_->prepare(spec("web"));
  EXPECT_EQ(h.data_disks, (std::vector<DataDisk>{{"db", 2}, {"logs", 1}}));
  EXPECT_EQ(fs::file_size(volume("rpool/vm-disks/web/db")), 2ull << 30);
  h = backend_->start(h);
  ASSERT_EQ(backend_->state(h), VmState::running);
  // The fake server took the request (schema-checked) and found each
  // disk's device in the zone (zonecfg's device matches).
  auto sent = ensures("web");
  ASSERT_EQ(sent.size(), 1u);
  json components = sent[0]["init"]["value"]["spec"]["components"];
  json db = components.at("data:db");
  EXPECT_EQ(db["type"], "nvme_disk");
  json serial = db["component"]["serial_number"];
  std::string text;
  for (auto& b : serial) text += static_cast<char>(b.get<int>());
  EXPECT_EQ(text, "db                  ");
  json backend = components.at(db["component"]["backend_id"].get<std::string>());
  EXPECT_EQ(backend["component"]["path"], "/dev/zvol/rdsk/rpool/vm-disks/web/db");
  EXPECT_EQ(backend["component"]["readonly"], false);
  EXPECT_EQ(components.at("data:logs")["component"]["pci_path"]["device"], 17);
  h = backend_->stop(h, 30s);
  backend_->destroy(h);
  EXPECT_THAT(datasets_named("web"), ::testing::IsEmpty());
}

TEST_F(PropolisBackendTest, ASnapshotOfTheStoppedVmBringsEveryDiskBack) {
  VmHandle h = backend_->prepare(spec("web"));
  write_at("rpool/vms/web", 1 << 20, "marker-root");
  write_at("rpool/vm-disks/web/db", 4096, "marker-db");
  h = backend_->create_snapshot(h, "clean", SnapshotMemory::include);  // stopped: the disks alone
  write_at("rpool/vms/web", 1 << 20, "changed----");
  write_at("rpool/vm-disks/web/db", 4096, "changed--");

  auto list = backend_->list_snapshots(h);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "clean");
  EXPECT_EQ(list[0].disk_bytes, 10ull << 30);
  EXPECT_FALSE(list[0].has_ram);
  EXPECT_GT(list[0].created_unix, 1600000000);

  EXPECT_THAT(error_of([&] { backend_->create_snapshot(h, "clean", SnapshotMemory::exclude); },
                       errc::snapshot_already_exists),
              HasSubstr("clean"));
  error_of([&] { backend_->create_snapshot(h, "bad name", SnapshotMemory::exclude); }, errc::snapshot_invalid_name);
  error_of([&] { backend_->restore_snapshot(h, "nope"); }, errc::snapshot_not_found);
  error_of([&] { backend_->delete_snapshot(h, "nope"); }, errc::snapshot_not_found);

  h = backend_->restore_snapshot(h, "clean");
  EXPECT_EQ(read_at("rpool/vms/web", 1 << 20, 11), "marker-root");
  EXPECT_EQ(read_at("rpool/vm-disks/web/db", 4096, 9), "marker-db");
  EXPECT_EQ(backend_->state(h), VmState::prepared);

  // The VM starts from the restored disks.
  h = backend_->start(h);
  h = backend_->stop(h, 30s);
  EXPECT_EQ(backend_->state(h), VmState::stopped);
  h = backend_->delete_snapshot(h, "clean");
  EXPECT_TRUE(backend_->list_snapshots(h).empty());
  EXPECT_THAT(datasets_named("@"), ::testing::ElementsAre("rpool/images/debian@base"));
}

// zfs rollback -r: going back to an older snapshot destroys the later ones.
TEST_F(PropolisBackendTest, RestoringAnOlderSnapshotDropsTheLaterOnes) {
  VmHandle h = backend_->prepare(spec("web"));
  h = backend_->create_snapshot(h, "one", SnapshotMemory::exclude);
  h = backend_->create_snapshot(h, "two", SnapshotMemory::exclude);
  auto list = backend_->list_snapshots(h);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "one");
  EXPECT_EQ(list[1].name, "two");
  h = backend_->restore_snapshot(h, "one");
  list = backend_->list_snapshots(h);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "one");
  EXPECT_THAT(datasets_named("@two"), ::testing::IsEmpty());
}

// A snapshot made by hand of the root volume alone is listed, but restoring
// it would bring the disks back from different times: refused, nothing
// rolled back. It can be deleted.
TEST_F(PropolisBackendTest, ASnapshotOfTheRootVolumeAloneIsNotRestored) {
  VmHandle h = backend_->prepare(spec("web"));
  ASSERT_TRUE(tool({"zfs", "snapshot", "rpool/vms/web@by-hand"}).ok());
  write_at("rpool/vms/web", 0, "after");
  ASSERT_EQ(backend_->list_snapshots(h).size(), 1u);
  EXPECT_THAT(error_of([&] { backend_->restore_snapshot(h, "by-hand"); }, errc::snapshot_failed),
              HasSubstr("rpool/vm-disks/web/db has no such snapshot"));
  EXPECT_EQ(read_at("rpool/vms/web", 0, 5), "after");
  h = backend_->delete_snapshot(h, "by-hand");
  EXPECT_TRUE(backend_->list_snapshots(h).empty());
}

TEST_F(PropolisBackendTest, SnapshotsGoWithDestroy) {
  VmHandle h = backend_->prepare(spec("web"));
  h = backend_->create_snapshot(h, "one", SnapshotMemory::exclude);
  backend_->destroy(h);
  EXPECT_THAT(datasets_named("web"), ::testing::IsEmpty());
  EXPECT_FALSE(fs::exists(state_dir() / "zvol/snap/rpool/vms/web@one"));
}

TEST_F(PropolisBackendTest, ARunningVmRefusesSnapshotsAndResizeButResetsAndListsThem) {
  VmHandle h = backend_->prepare(spec("web"));
  h = backend_->create_snapshot(h, "before", SnapshotMemory::exclude);
  error_of([&] { backend_->hard_reset(h); }, errc::vm_invalid_state);
  h = backend_->start(h);
  EXPECT_THAT(error_of([&] { backend_->create_snapshot(h, "s", SnapshotMemory::include); }, errc::snapshot_unsupported),
              HasSubstr("RAM"));
  EXPECT_THAT(error_of([&] { backend_->create_snapshot(h, "s", SnapshotMemory::exclude); },
                       errc::snapshot_needs_stopped),
              HasSubstr("it is running"));
  error_of([&] { backend_->restore_snapshot(h, "before"); }, errc::snapshot_needs_stopped);
  VmResize more;
  more.vcpus = 4;
  error_of([&] { backend_->resize(h, more); }, errc::resize_running);
  EXPECT_EQ(backend_->list_snapshots(h).size(), 1u);

  h = backend_->hard_reset(h);
  EXPECT_EQ(backend_->state(h), VmState::running);
  EXPECT_THAT(state_requests("web"), ::testing::ElementsAre("Run", "Reboot"));
  // The fake guest's boot banner, once per boot, on the same console: the
  // reset rebooted the guest, not the server.
  auto boots = [&] {
    std::string console = backend_->console_history(h).data;
    std::size_t n = 0;
    for (auto at = console.find("Debian GNU/Linux 12"); at != std::string::npos;
         at = console.find("Debian GNU/Linux 12", at + 1))
      ++n;
    return n;
  };
  auto deadline = std::chrono::steady_clock::now() + 60s;  // catches hangs only
  while (boots() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(boots(), 2u);
  backend_->stop(h, 30s);
}

TEST_F(PropolisBackendTest, ResizeTakesEffectAtTheNextStartAndTheDiskOnlyGrows) {
  VmHandle h = backend_->prepare(spec("web"));
  h = backend_->create_snapshot(h, "small", SnapshotMemory::exclude);
  VmResize change;
  change.vcpus = 4;
  change.memory_mb = 4096;
  change.disk_gb = 20;
  h = backend_->resize(h, change);
  EXPECT_EQ(h.vcpus, 4u);
  EXPECT_EQ(h.memory_mb, 4096u);
  EXPECT_EQ(h.disk_gb, std::optional<std::uint64_t>(20));
  EXPECT_EQ(fs::file_size(volume("rpool/vms/web")), 20ull << 30);
  h = backend_->start(h);
  json board = ensures("web").at(0)["init"]["value"]["spec"]["board"];
  EXPECT_EQ(board["cpus"], 4);
  EXPECT_EQ(board["memory_mb"], 4096);
  h = backend_->stop(h, 30s);

  VmResize shrink;
  shrink.disk_gb = 15;
  EXPECT_THAT(error_of([&] { backend_->resize(h, shrink); }, errc::resize_shrink), HasSubstr("from 20 GB to 15 GB"));
  VmResize too_many;
  too_many.vcpus = 1000;
  error_of([&] { backend_->resize(h, too_many); }, errc::spec_invalid);
  EXPECT_EQ(fs::file_size(volume("rpool/vms/web")), 20ull << 30);
  // A snapshot from before brings the old size back.
  h = backend_->restore_snapshot(h, "small");
  EXPECT_EQ(fs::file_size(volume("rpool/vms/web")), 10ull << 30);
  EXPECT_EQ(h.disk_gb, std::optional<std::uint64_t>(10));
}

}  // namespace
}  // namespace vm_manager::propolis

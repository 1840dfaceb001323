// VmManager's operations on the noop backend and a real HTTP server on
// 127.0.0.1 (tests/image/http_server.py): restart, list and status, the
// image cache it owns, and create from a URL; and its guest access (exec,
// upload, download, provision, ssh_access) against a real sshd on 127.0.0.1
// standing in for a VM's. vmctl drives the same against real guests in
// tests/vmctl/ (ssh_cli_test, vmfile_cli_test, qemu_cli_test).
#include "vm_manager/manager.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include "core/handle_from_spec.hpp"
#include "image/sha256.hpp"
#include "ssh/keys.hpp"
#include "support/error_from.hpp"
#include "support/http_server.hpp"
#include "support/process.hpp"
#include "support/sshd.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace {
using namespace vm_manager;
using namespace std::chrono_literals;
using vmctl::test::error_from;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class ManagerTest : public ::testing::Test {
 protected:
  ManagerTest() : manager_(config()) {}

  ManagerConfig config() const {
    ManagerConfig c{DataDir(dir_.path() / "data")};
    c.backends = BackendRegistry::noop_only();
    c.image_cache = dir_.path() / "images";
    return c;
  }

  VmSpec noop(const std::string& name, const std::string& image = "") const {
    VmSpec spec;
    spec.name = name;
    spec.backend = "noop";
    spec.image_path = image;
    return spec;
  }

  // A small qcow2 image served over HTTP as served/disk.qcow2.
  std::string serve_image() {
    fs::create_directories(served_);
    auto made = vmctl::test::run_process({"qemu-img", "create", "-q", "-f", "qcow2", (served_ / "disk.qcow2").string(), "16M"});
    EXPECT_EQ(made.exit_code, 0) << "qemu-img is missing: make deps installs it";
    server_.emplace(served_);
    EXPECT_NE(server_->port(), 0) << "the test HTTP server did not start";
    return server_->url("disk.qcow2");
  }

  vmctl::test::TempDir dir_;
  VmManager manager_;
  fs::path served_ = dir_.path() / "served";
  std::optional<vmctl::test::TestHttpServer> server_;
};

// A backend whose VMs are the test's sshd: always running, reached at its
// port with its user, key and host key, as a real backend records them; with
// a jump sshd, reached through that one as a VM on another host is.
class SshdBackend : public Hypervisor {
 public:
  SshdBackend(const vmctl::test::Sshd& sshd, DataDir data_dir, const vmctl::test::Sshd* jump = nullptr)
      : sshd_(sshd), data_dir_(std::move(data_dir)), jump_(jump) {}

  VmHandle prepare(const VmSpec& spec) override {
    fs::path work_dir = data_dir_.create_vm_dir(spec.name);
    VmHandle handle = handle_from_spec(spec, "noop", work_dir);
    handle.ssh_host = "127.0.0.1";
    handle.ssh_port = sshd_.port();
    handle.ssh_user = sshd_.user();
    handle.ssh_identity_file = sshd_.identity_file().string();
    handle.ssh_host_key_alias = "vmctl-" + spec.name;
    handle.ssh_known_hosts = (work_dir / "known_hosts").string();
    ssh::write_known_hosts(handle.ssh_known_hosts, handle.ssh_host_key_alias, 22, sshd_.host_key());
    if (jump_ != nullptr) {
      const std::string known_hosts = (work_dir / "jump_known_hosts").string();
      ssh::write_known_hosts(known_hosts, "127.0.0.1", jump_->port(), jump_->host_key());
      handle.ssh_jump = SshJumpHost{jump_->user(), "127.0.0.1", jump_->port(), jump_->identity_file().string(),
                                    known_hosts};
    }
    return handle;
  }
  VmHandle start(const VmHandle& handle) override { return handle; }
  VmHandle stop(const VmHandle& handle, std::chrono::milliseconds) override { return handle; }
  VmHandle suspend(const VmHandle& handle) override { return handle; }
  VmHandle resume(const VmHandle& handle) override { return handle; }
  void destroy(VmHandle) override {}
  VmState state(const VmHandle&) override { return VmState::running; }
  std::string guest_ip(const VmHandle&) override { return "127.0.0.1"; }
  ConsoleEndpoint console_endpoint(const VmHandle&) override { return NoConsole{}; }

 private:
  const vmctl::test::Sshd& sshd_;
  DataDir data_dir_;
  const vmctl::test::Sshd* jump_;
};

class ManagerGuestTest : public ::testing::Test {
 protected:
  explicit ManagerGuestTest(const vmctl::test::Sshd* jump = nullptr) : manager_(config(jump)) {
    manager_.create(noop_spec());
  }

  ManagerConfig config(const vmctl::test::Sshd* jump) {
    ManagerConfig c{DataDir(dir_.path() / "data")};
    c.backends = BackendRegistry();
    c.backends.add(
        "noop",
        [this, jump](const BackendContext& context) {
          return std::make_unique<SshdBackend>(sshd_, context.data_dir, jump);
        },
        BackendDefault::platform);
    return c;
  }
  static VmSpec noop_spec() {
    VmSpec spec;
    spec.name = "guest";
    spec.backend = "noop";
    return spec;
  }

  vmctl::test::Sshd sshd_;
  vmctl::test::TempDir dir_;
  VmManager manager_;
};

TEST_F(ManagerGuestTest, StartCanWaitUntilTheGuestLetsUsIn) {
  std::vector<std::string> steps;
  ReadyOptions ready;
  ready.timeout = 30s;
  ready.progress = [&](const Progress& step) { steps.push_back(step.what + (step.finished ? " done" : "")); };
  bool was_running = false;
  VmRecord record = manager_.start("guest", ready, &was_running);
  EXPECT_EQ(record.handle.name, "guest");
  EXPECT_TRUE(was_running) << "this backend's VMs always run";
  // No seed, so nothing to wait for after SSH.
  EXPECT_THAT(steps, ElementsAre("ssh", "ssh done"));
}

TEST_F(ManagerGuestTest, ExecCollectsAndStreamsBothOutputs) {
  std::string streamed_out;
  std::string streamed_err;
  ExecOptions options;
  options.on_stdout = [&](std::string_view chunk) { streamed_out.append(chunk); };
  options.on_stderr = [&](std::string_view chunk) { streamed_err.append(chunk); };
  options.stdin_data = "from stdin\n";
  ExecResult result = manager_.exec("guest", "cat; echo oops >&2; exit 3", options);
  EXPECT_EQ(result.exit_status, 3);
  EXPECT_EQ(result.out, "from stdin\n");
  EXPECT_EQ(result.err, "oops\n");
  EXPECT_EQ(streamed_out, result.out);
  EXPECT_EQ(streamed_err, result.err);
  EXPECT_EQ(manager_.exec("guest", "echo plain").out, "plain\n");
}

TEST_F(ManagerGuestTest, UploadAndDownloadCopyAFileBothWays) {
  fs::path local = sshd_.scratch() / "local.txt";
  std::ofstream(local) << "payload";
  fs::path remote = sshd_.scratch() / "in" / "the" / "guest.txt";
  manager_.upload("guest", local, remote.string());
  EXPECT_EQ(read_bytes(remote), "payload");
  fs::path back = sshd_.scratch() / "back.txt";
  manager_.download("guest", remote.string(), back);
  EXPECT_EQ(read_bytes(back), "payload");
}

TEST_F(ManagerGuestTest, ProvisionRunsTheStepsAndReportsTheirOutputUnprefixed) {
  std::vector<std::string> lines;
  ProvisionOptions options;
  options.print = [&](std::string_view line) { lines.emplace_back(line); };
  fs::path copied = sshd_.scratch() / "copied.txt";
  fs::path source = sshd_.scratch() / "source.txt";
  std::ofstream(source) << "file step";
  manager_.provision("guest", {ProvisionShell{"echo first"}, ProvisionFile{source, copied.string()}}, options);
  EXPECT_THAT(lines, ElementsAre("first"));
  EXPECT_EQ(read_bytes(copied), "file step");
  fs::path log = manager_.data_dir().vm_dir("guest") / "provision.log";
  EXPECT_THAT(read_bytes(log), HasSubstr("first"));

  Error failed = error_from([&] { manager_.provision("guest", {ProvisionShell{"exit 7"}}); });
  EXPECT_EQ(failed.code(), errc::provision_failed);
}

// The VM's handle names a jump host (as a libvirt VM on another host does):
// everything that goes into the guest goes through it.
// (A base of its own, so that the jump sshd runs before the VM is created.)
struct JumpSshd {
  vmctl::test::Sshd jump_sshd_;
};
class ManagerJumpTest : protected JumpSshd, public ManagerGuestTest {
 protected:
  ManagerJumpTest() : ManagerGuestTest(&jump_sshd_) {}
};

TEST_F(ManagerJumpTest, WaitExecCopyAndProvisionGoThroughTheJumpHost) {
  ReadyOptions ready;
  ready.timeout = 30s;
  manager_.start("guest", ready);
  manager_.wait_for_ssh_server("guest", 20s);
  EXPECT_EQ(manager_.exec("guest", "echo via; exit 2").out, "via\n");
  fs::path local = sshd_.scratch() / "local.txt";
  std::ofstream(local) << "payload";
  manager_.upload("guest", local, (sshd_.scratch() / "up.txt").string());
  EXPECT_EQ(read_bytes(sshd_.scratch() / "up.txt"), "payload");
  manager_.provision("guest", {ProvisionShell{"true"}});
  EXPECT_THAT(jump_sshd_.log(), HasSubstr("Accepted publickey")) << "the jump host was not used";

  // The jump host shows another key than the one pinned for it: its own error.
  VmHandle handle = manager_.get("guest").handle;
  ASSERT_TRUE(handle.ssh_jump);
  ssh::write_known_hosts(handle.ssh_jump->known_hosts, "127.0.0.1", jump_sshd_.port(),
                         ssh::generate_ed25519("impostor").public_key);
  Error refused = error_from([&] { manager_.exec("guest", "true"); });
  EXPECT_EQ(refused.code(), errc::ssh_jump_failed) << refused.message();
}

TEST_F(ManagerGuestTest, SshAccessSaysWhereAndAsWhom) {
  SshAccess access = manager_.ssh_access("guest");
  EXPECT_EQ(access.host, "127.0.0.1");
  EXPECT_EQ(access.port, sshd_.port());
  EXPECT_EQ(access.user, sshd_.user());
  EXPECT_EQ(access.identity_file, sshd_.identity_file().string());
  EXPECT_EQ(access.host_key_alias, "vmctl-guest");
  EXPECT_TRUE(fs::exists(access.known_hosts));
}

TEST_F(ManagerTest, RestartStartsAStoppedVmAndCyclesARunningOne) {
  manager_.create(noop("a"));
  EXPECT_EQ(manager_.state(manager_.restart("a", 1s).handle), VmState::running);
  EXPECT_EQ(manager_.state(manager_.restart("a", 1s).handle), VmState::running);
  manager_.suspend("a");
  EXPECT_EQ(manager_.state(manager_.restart("a", 1s).handle), VmState::running);
  EXPECT_EQ(error_from([&] { manager_.restart("missing", 1s); }).code(), errc::vm_not_found);
}

TEST_F(ManagerTest, PortForwardsAreAddedAndRemovedDurablyInHandleAndSpec) {
  VmSpec spec = noop("web");
  spec.port_forwards = {PortForward{"127.0.0.1", 8080, 80, PortProtocol::tcp}};
  EXPECT_EQ(manager_.create(spec).handle.port_forwards, spec.port_forwards);
  manager_.start("web");
  const PortForward dns{"0.0.0.0", 5353, 53, PortProtocol::udp};
  VmRecord added = manager_.add_port_forward("web", dns);
  EXPECT_THAT(added.handle.port_forwards, ElementsAre(spec.port_forwards[0], dns));
  EXPECT_EQ(added.spec.port_forwards, added.handle.port_forwards);
  // Durable: in vm.json itself (run.json goes), so a host restart keeps it.
  const fs::path vm_dir = dir_.path() / "data" / "vms" / "web";
  EXPECT_THAT(read_bytes(vm_dir / "vm.json"), HasSubstr("5353"));
  EXPECT_FALSE(fs::exists(vm_dir / "run.json"));
  EXPECT_EQ(manager_.get("web").handle.port_forwards, added.handle.port_forwards);

  EXPECT_EQ(error_from([&] { manager_.add_port_forward("web", PortForward{"0.0.0.0", 8080, 81}); }).code(),
            errc::port_invalid);
  EXPECT_EQ(error_from([&] { manager_.remove_port_forward("web", 8080, PortProtocol::udp); }).code(),
            errc::port_not_found);
  manager_.stop("web", 0ms);
  VmRecord removed = manager_.remove_port_forward("web", 8080, PortProtocol::tcp);
  EXPECT_THAT(removed.handle.port_forwards, ElementsAre(dns));
  EXPECT_EQ(manager_.get("web").spec.port_forwards, removed.handle.port_forwards);
  EXPECT_EQ(error_from([&] { manager_.add_port_forward("nope", dns); }).code(), errc::vm_not_found);
}

TEST_F(ManagerTest, AVmWithoutUserNetworkingPublishesNoPorts) {
  VmSpec spec = noop("tapped");
  spec.network = TapNetwork{"br0"};
  manager_.create(spec);
  Error e = error_from([&] { manager_.add_port_forward("tapped", PortForward{"127.0.0.1", 8080, 80}); });
  EXPECT_EQ(e.code(), errc::port_unsupported);
  EXPECT_THAT(e.message(), HasSubstr("TAP"));
  spec.name = "tapped2";
  spec.port_forwards = {PortForward{"127.0.0.1", 8080, 80}};
  EXPECT_EQ(error_from([&] { manager_.create(spec); }).code(), errc::port_unsupported);
  EXPECT_FALSE(manager_.exists("tapped2"));
}

TEST_F(ManagerTest, ListShowsEveryVmWithItsLiveStateSortedByName) {
  manager_.create(noop("b"), /*start=*/true);
  manager_.create(noop("a"));
  fs::create_directories(manager_.data_dir().vm_dir("c"));  // a create that crashed
  std::vector<VmStatus> all = manager_.list();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, "a");
  EXPECT_EQ(all[0].state, VmState::prepared);
  ASSERT_TRUE(all[0].record);
  EXPECT_EQ(all[0].record->handle.name, "a");
  EXPECT_EQ(all[1].name, "b");
  EXPECT_EQ(all[1].state, VmState::running);
  EXPECT_EQ(all[2].name, "c");
  EXPECT_FALSE(all[2].record);
  EXPECT_EQ(all[2].state, VmState::failed);
  EXPECT_FALSE(all[2].problem.empty());

  VmStatus b = manager_.status("b");
  EXPECT_EQ(b.state, VmState::running);
  EXPECT_EQ(b.record, all[1].record);
  EXPECT_TRUE(manager_.exists("b"));
  EXPECT_FALSE(manager_.exists("c"));
  EXPECT_EQ(error_from([&] { manager_.status("d"); }).code(), errc::vm_not_found);
}

TEST_F(ManagerTest, ListOfFiftyVmsIsQuick) {
  for (int i = 0; i < 50; ++i) manager_.create(noop("vm" + std::to_string(i)), /*start=*/i % 2 == 0);
  auto started = std::chrono::steady_clock::now();
  std::vector<VmStatus> all = manager_.list();
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(all.size(), 50u);
  EXPECT_EQ(std::count_if(all.begin(), all.end(), [](const VmStatus& s) { return s.state == VmState::running; }), 25);
  EXPECT_LT(took, 60s);  // only a hang: make bench holds the real bound (its "list" group)
}

TEST_F(ManagerTest, CreateFromAUrlPullsIntoTheCacheAndTheImageKnowsItsUsers) {
  std::string url = serve_image();
  VmRecord record = manager_.create(noop("web", url));
  fs::path cached = manager_.images().path_for(url);
  EXPECT_EQ(record.spec.image_path, cached.string());
  EXPECT_TRUE(fs::is_regular_file(cached));
  EXPECT_TRUE(cached.string().starts_with((dir_.path() / "images").string()));

  std::vector<ImageInfo> images = manager_.images().list();
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].source, url);
  EXPECT_EQ(images[0].format, "qcow2");
  EXPECT_EQ(images[0].sha256, image::sha256_hex(read_bytes(cached)));
  EXPECT_EQ(manager_.images().inspect(images[0].key.substr(0, Images::kShortKey)).path, cached);
  EXPECT_THAT(manager_.images().users(images[0]), ElementsAre("web"));

  Error in_use = error_from([&] { manager_.images().remove(url); });
  EXPECT_EQ(in_use.code(), errc::image_in_use);
  EXPECT_THAT(in_use.message(), HasSubstr("'web'"));
  EXPECT_THAT(in_use.help(), Not(HasSubstr("--")));
  manager_.images().remove(url, /*even_if_used=*/true);
  EXPECT_TRUE(manager_.images().list().empty());
  EXPECT_EQ(error_from([&] { manager_.images().inspect(url); }).code(), errc::image_not_found);
}

TEST_F(ManagerTest, AWrongSha256LeavesNoVmAndNoImage) {
  std::string url = serve_image();
  CreateOptions options;
  options.image_sha256 = std::string(64, '0');
  Error e = error_from([&] { manager_.create(noop("web", url), options); });
  EXPECT_EQ(e.code(), errc::image_checksum_mismatch);
  EXPECT_FALSE(manager_.exists("web"));
  EXPECT_TRUE(manager_.list().empty());
  EXPECT_TRUE(manager_.images().list().empty());
}

TEST_F(ManagerTest, AnExistingNameIsRefusedBeforeAnyDownload) {
  std::string url = serve_image();
  manager_.create(noop("web"));
  EXPECT_EQ(error_from([&] { manager_.create(noop("web", url)); }).code(), errc::vm_already_exists);
  EXPECT_EQ(server_->log(), "");
  EXPECT_TRUE(manager_.images().list().empty());
}

TEST_F(ManagerTest, APathIsTheBackendsUnlessItGoesThroughTheCache) {
  fs::path file = dir_.path() / "local.img";
  std::ofstream(file) << "a raw disk";
  EXPECT_EQ(manager_.create(noop("plain", file.string())).spec.image_path, file.string());
  EXPECT_TRUE(manager_.images().list().empty());
  EXPECT_EQ(error_from([&] { manager_.create(noop("missing", (dir_.path() / "nope.img").string())); }).code(),
            errc::spec_invalid);

  CreateOptions through;
  through.through_cache = true;
  through.image_sha256 = image::sha256_hex("a raw disk");
  EXPECT_EQ(manager_.create(noop("cached", file.string()), through).spec.image_path, file.string());
  ASSERT_EQ(manager_.images().list().size(), 0u);  // an uncompressed local file is used in place
}

TEST_F(ManagerTest, ANoopVmHasNoConsoleAndNoLog) {
  manager_.create(noop("quiet"), /*start=*/true);
  EXPECT_TRUE(std::holds_alternative<NoConsole>(manager_.console_endpoint("quiet")));
  EXPECT_EQ(error_from([&] { manager_.attach_console("quiet", -1, -1); }).code(), errc::console_unavailable);
  Error no_log = error_from([&] { manager_.console_log("quiet", {}, [](std::string_view) {}); });
  EXPECT_EQ(no_log.code(), errc::console_no_log);
}

}  // namespace

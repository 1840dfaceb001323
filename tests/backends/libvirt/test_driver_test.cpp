// The backend against libvirt's in-process test driver (test:///default):
// real libvirt calls, no daemon. The driver keeps its state while one of the
// process's connections to it is open, so each test holds one (`keep_`).
// It cannot upload or download volumes, nor open consoles: those run in the
// real-daemon integration tests.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "backends/libvirt/connection.hpp"
#include "backends/libvirt/domain_xml.hpp"
#include "backends/libvirt/libvirt_backend.hpp"
#include "backends/libvirt/storage.hpp"
#include "backends/libvirt/vm_record.hpp"
#include "os/process.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::libvirt {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kUri = "test:///default";
constexpr const char* kPool = "default-pool";

template <typename F>
std::string error_code_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return std::string(e.code());
  }
  return "no error";
}

class LibvirtTestDriver : public ::testing::Test {
 protected:
  void SetUp() override {
    keep_ = Connection::open(parse_uri(kUri), 10s);
    data_dir_.ensure_exists();
  }

  LibvirtBackend backend() { return LibvirtBackend(data_dir_, LibvirtConfig{}); }

  // A VM as prepare would leave it, made by hand (the test driver cannot
  // upload the base image): an overlay volume and a defined domain.
  VmHandle define_vm(const std::string& name, const std::string& id) {
    Storage storage(keep_, kPool);
    VmHandle h;
    h.id = id;
    h.name = name;
    h.backend = "libvirt";
    h.work_dir = data_dir_.create_vm_dir(name).string();
    write_record({kUri, kPool, "default", storage.path(), false}, h);
    Vol overlay = storage.create(volume_xml(overlay_volume(id), 1 << 20, "qcow2"), "overlay");
    storage.create(volume_xml(console_log_volume(id), 0, "raw"), "log");
    DomainDefinition d;
    d.name = name;
    d.vm_id = id;
    d.type = "test";
    d.memory_mb = 64;
    d.disk_path = storage.volume_path(overlay.get());
    d.nic = NetworkNic{"default"};
    d.mac = "52:54:00:01:02:03";
    d.console_log = storage.path() + "/" + console_log_volume(id);
    Domain domain(api().virDomainDefineXML(keep_->get(), domain_xml(d).c_str()));
    if (!domain) keep_->fail("define");
    return h;
  }

  int shutoff_reason(const std::string& name) {
    Domain domain = keep_->find_domain(name);
    int state = 0;
    int reason = -1;
    api().virDomainGetState(domain.get(), &state, &reason, 0);
    EXPECT_EQ(state, VIR_DOMAIN_SHUTOFF);
    return reason;
  }

  std::string image_file() {
    fs::path image = dir_ / "base.qcow2";
    auto out = os::run_process({"qemu-img", "create", "-q", "-f", "qcow2", image.string(), "16M"}, 60s);
    EXPECT_TRUE(out.ok()) << out.err;
    return image.string();
  }

  vmctl::test::TempDir dir_;
  DataDir data_dir_{dir_ / "data"};
  std::shared_ptr<Connection> keep_;
};

TEST_F(LibvirtTestDriver, StoragePoolFoundWithItsFolder) {
  Storage storage(keep_, kPool);
  EXPECT_EQ(storage.path(), "/default-pool");
  try {
    Storage missing(keep_, "no-such-pool");
    FAIL() << "a missing pool was taken";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::libvirt_failed);
    EXPECT_NE(e.message().find("no-such-pool"), std::string::npos) << e.message();
    // libvirt's own words, and the URI, are in the message.
    EXPECT_NE(e.message().find("no storage pool with matching name"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find(kUri), std::string::npos) << e.message();
    EXPECT_NE(e.help().find("pool-define-as"), std::string::npos) << e.help();
  }
}

TEST_F(LibvirtTestDriver, VolumesAreCreatedFoundAndRemoved) {
  Storage storage(keep_, kPool);
  EXPECT_FALSE(storage.find("vmctl-x.qcow2"));
  Vol vol = storage.create(volume_xml("vmctl-x.qcow2", 1 << 20, "qcow2"), "a volume");
  EXPECT_EQ(storage.volume_path(vol.get()), "/default-pool/vmctl-x.qcow2");
  EXPECT_TRUE(storage.find("vmctl-x.qcow2"));
  storage.remove("vmctl-x.qcow2");
  EXPECT_FALSE(storage.find("vmctl-x.qcow2"));
  storage.remove("vmctl-x.qcow2");  // gone already: no error
}

TEST_F(LibvirtTestDriver, BaseWithMarkerIsUsedAsItIs) {
  Storage storage(keep_, kPool);
  const std::string sha(64, 'a');
  storage.create(volume_xml(base_volume(sha), 1 << 20, "raw"), "base");
  storage.create(volume_xml(base_marker_volume(sha), 0, "raw"), "marker");
  // No upload is tried: the test driver would refuse one.
  EXPECT_EQ(storage.ensure_base(image_file(), sha, dir_ / "locks", Logger()), "/default-pool/" + base_volume(sha));
  storage.remove(base_volume(sha));
  storage.remove(base_marker_volume(sha));
}

TEST_F(LibvirtTestDriver, BaseWithoutMarkerIsADeadUploadAndIsReplaced) {
  Storage storage(keep_, kPool);
  const std::string sha(64, 'b');
  storage.create(volume_xml(base_volume(sha), 1 << 20, "raw"), "base");
  // The dead base is deleted and uploaded again, which this driver cannot do:
  // the upload's own volume goes too, and no marker is made.
  EXPECT_EQ(error_code_of([&] { storage.ensure_base(image_file(), sha, dir_ / "locks", Logger()); }),
            errc::libvirt_failed);
  EXPECT_FALSE(storage.find(base_volume(sha)));
  EXPECT_FALSE(storage.find(base_marker_volume(sha)));
}

TEST_F(LibvirtTestDriver, LifecycleOfAVmDomain) {
  LibvirtBackend b = backend();
  VmHandle h = define_vm("web", "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(b.state(h), VmState::prepared);
  EXPECT_EQ(error_code_of([&] { b.suspend(h); }), errc::vm_invalid_state);
  b.start(h);
  EXPECT_EQ(b.state(h), VmState::running);
  EXPECT_EQ(error_code_of([&] { b.start(h); }), errc::vm_invalid_state);
  // The test driver's lease source makes up an address on its network "default".
  EXPECT_EQ(b.guest_ip(h).rfind("192.168.122.", 0), 0u);
  b.suspend(h);
  EXPECT_EQ(b.state(h), VmState::suspended);
  EXPECT_EQ(error_code_of([&] { b.suspend(h); }), errc::vm_invalid_state);
  b.resume(h);
  EXPECT_EQ(b.state(h), VmState::running);
  b.stop(h, 10s);  // ACPI shutdown, waited for by its lifecycle event
  EXPECT_EQ(b.state(h), VmState::stopped);
  EXPECT_EQ(shutoff_reason("web"), VIR_DOMAIN_SHUTOFF_SHUTDOWN);  // not forced
  b.start(h);
  b.stop(h, 0ms);  // no time for ACPI: forced at once
  EXPECT_EQ(shutoff_reason("web"), VIR_DOMAIN_SHUTOFF_DESTROYED);
  b.stop(h, 10s);  // not running: no error
  EXPECT_EQ(error_code_of([&] { b.guest_ip(h); }), errc::vm_invalid_state);
  EXPECT_EQ(b.describe(h), (nlohmann::json{{"uri", kUri}, {"domain", "web"}}));
  EXPECT_TRUE(std::holds_alternative<BackendConsole>(b.console_endpoint(h)));

  b.destroy(h);
  EXPECT_FALSE(keep_->find_domain("web"));
  Storage storage(keep_, kPool);
  EXPECT_FALSE(storage.find(overlay_volume(h.id)));
  EXPECT_FALSE(storage.find(console_log_volume(h.id)));
  EXPECT_FALSE(fs::exists(h.work_dir));
  EXPECT_EQ(b.state(h), VmState::destroyed);
  b.destroy(h);  // destroyed already: no error
}

TEST_F(LibvirtTestDriver, DestroyStopsARunningDomain) {
  LibvirtBackend b = backend();
  VmHandle h = define_vm("db", "21111111-2222-3333-4444-555555555555");
  b.start(h);
  b.destroy(h);
  EXPECT_FALSE(keep_->find_domain("db"));
}

TEST_F(LibvirtTestDriver, ADomainOfAnotherIdIsNeverTouched) {
  LibvirtBackend b = backend();
  // The test driver's own domain "test" runs and carries no vmctl metadata.
  VmHandle h;
  h.id = "31111111-2222-3333-4444-555555555555";
  h.name = "test";
  h.work_dir = data_dir_.create_vm_dir("test").string();
  write_record({kUri, kPool, "default", "/default-pool", false}, h);
  EXPECT_EQ(b.state(h), VmState::destroyed);
  EXPECT_EQ(error_code_of([&] { b.stop(h, 1s); }), errc::vm_invalid_state);
  b.destroy(h);
  b.destroy_remains(h);
  Domain other = keep_->find_domain("test");
  ASSERT_TRUE(other);
  int state = 0;
  api().virDomainGetState(other.get(), &state, nullptr, 0);
  EXPECT_EQ(state, VIR_DOMAIN_RUNNING);

  // Nor one that carries another VM's id.
  VmHandle mine = define_vm("shared", "41111111-2222-3333-4444-555555555555");
  VmHandle impostor = mine;
  impostor.id = "51111111-2222-3333-4444-555555555555";
  b.destroy_remains(impostor);
  EXPECT_TRUE(keep_->find_domain("shared"));
  EXPECT_EQ(b.state(mine), VmState::prepared);
  b.destroy(mine);
}

TEST_F(LibvirtTestDriver, DestroyRemainsRemovesTheDomainOfTheRecordsId) {
  LibvirtBackend b = backend();
  VmHandle h = define_vm("lost", "61111111-2222-3333-4444-555555555555");
  b.start(h);
  b.destroy_remains(h);
  EXPECT_FALSE(keep_->find_domain("lost"));
  EXPECT_FALSE(Storage(keep_, kPool).find(overlay_volume(h.id)));
}

TEST_F(LibvirtTestDriver, PrepareRefusesWhatItCannotHonour) {
  LibvirtBackend b = backend();
  VmSpec base;
  base.name = "vm1";
  base.image_path = image_file();
  base.backend_options["connect"] = kUri;
  base.backend_options["pool"] = kPool;
  auto refused = [&](auto change, const char* what) {
    VmSpec spec = base;
    change(spec);
    try {
      b.prepare(spec);
      ADD_FAILURE() << what << " was taken";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::spec_invalid) << what << ": " << e.message();
      EXPECT_NE(e.message().find(what), std::string::npos) << e.message();
    }
  };
  refused([](VmSpec& s) { s.port_forwards.push_back(PortForward{"127.0.0.1", 2222, 22}); }, "published ports");
  refused([](VmSpec& s) { s.shared_folders.push_back(SharedFolder{"/tmp", "/mnt/x"}); }, "shared folders");
  refused([](VmSpec& s) { s.data_disks.push_back(DataDisk{"data", 1}); }, "data disks");
  refused([](VmSpec& s) { s.vnc = VncMode::tcp; }, "VNC over TCP");
  refused([](VmSpec& s) { s.network = VnicNetwork{"vnic0"}; }, "VNIC");
  refused([](VmSpec& s) { s.image_path.clear(); }, "needs a disk image");
  refused([](VmSpec& s) { s.backend_options["connect"] = "nonsense"; }, "invalid libvirt URI");
  refused([](VmSpec& s) { s.backend_options["connect"] = "http://127.0.0.1/"; }, "vmctl's VMs are QEMU domains");
  refused([](VmSpec& s) { s.backend_options["connect"] = "qemu+libssh://u@h/system"; }, "use qemu+ssh://");
  refused([](VmSpec& s) { s.disk_gb = 0; }, "");
  EXPECT_FALSE(fs::exists(data_dir_.vm_dir("vm1")));
}

TEST_F(LibvirtTestDriver, PrepareRefusesANameADomainHas) {
  LibvirtBackend b = backend();
  VmSpec spec;
  spec.name = "test";  // the driver's own domain
  spec.image_path = image_file();
  spec.backend_options["connect"] = kUri;
  spec.backend_options["pool"] = kPool;
  EXPECT_EQ(error_code_of([&] { b.prepare(spec); }), errc::vm_already_exists);
  EXPECT_FALSE(fs::exists(data_dir_.vm_dir("test")));
}

TEST_F(LibvirtTestDriver, PrepareThatFailsLeavesNothing) {
  LibvirtBackend b = backend();
  VmSpec spec;
  spec.name = "vm2";
  spec.image_path = image_file();
  spec.backend_options["connect"] = kUri;
  spec.backend_options["pool"] = kPool;
  spec.ssh = SshConfig{};
  // The test driver cannot upload the base image: prepare fails there.
  EXPECT_EQ(error_code_of([&] { b.prepare(spec); }), errc::libvirt_failed);
  EXPECT_FALSE(fs::exists(data_dir_.vm_dir("vm2")));
  EXPECT_FALSE(keep_->find_domain("vm2"));
  virStorageVolPtr* volumes = nullptr;
  Pool pool(api().virStoragePoolLookupByName(keep_->get(), kPool));
  int count = api().virStoragePoolListAllVolumes(pool.get(), &volumes, 0);
  ASSERT_GE(count, 0);
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(std::string(api().virStorageVolGetName(volumes[i])).rfind("vmctl-", 0), std::string::npos);
    api().virStorageVolFree(volumes[i]);
  }
  free(volumes);
}

TEST_F(LibvirtTestDriver, DescribeHostReportsCapacityAndRunningVmctlVms) {
  LibvirtBackend b = backend();
  VmHandle h = define_vm("api", "71111111-2222-3333-4444-555555555555");
  b.start(h);
  HostInfo info = b.describe_host(HostSpec{"lab", "libvirt", {{"connect", kUri}}});
  EXPECT_TRUE(info.reachable) << info.error;
  EXPECT_EQ(info.name, "lab");
  EXPECT_EQ(info.address, kUri);
  EXPECT_EQ(info.cpus, 16u);          // the test driver's node
  EXPECT_EQ(info.memory_mb, 3072u);
  EXPECT_GT(info.free_memory_mb, 0u);
  EXPECT_EQ(info.running_vms, std::vector<std::string>{"api"});  // not "test", which is not vmctl's
  b.destroy(h);
}

// Opening RPC connections: under VMCTL_SANITIZE this binary links libtirpc
// (docs/architecture.md, "The libvirt backend").
TEST_F(LibvirtTestDriver, AHostThatRefusesIsUnreachableNamingItsUri) {
  LibvirtBackend b = backend();
  // Port 1 on loopback: nothing listens there.
  HostInfo info = b.describe_host(HostSpec{"gone", "libvirt", {{"connect", "qemu+tcp://127.0.0.1:1/system"}}});
  EXPECT_FALSE(info.reachable);
  EXPECT_NE(info.error.find("qemu+tcp://127.0.0.1:1/system"), std::string::npos) << info.error;
  EXPECT_EQ(info.cpus, 0u);
}

TEST_F(LibvirtTestDriver, ASilentHostIsUnreachableAfterTheDeadline) {
  // A listener on loopback that never answers: the connection is accepted
  // by the kernel and libvirt waits for a reply that never comes.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string uri = fmt::format("qemu+tcp://127.0.0.1:{}/system", ntohs(address.sin_port));
  auto started = std::chrono::steady_clock::now();
  try {
    Connection::open(parse_uri(uri), 1s);
    ADD_FAILURE() << "a silent host was taken";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::backend_unreachable);
    EXPECT_NE(e.message().find(uri), std::string::npos) << e.message();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  ::close(listener);  // resets the waiting connection, so libvirt's thread ends
}

}  // namespace
}  // namespace vm_manager::libvirt

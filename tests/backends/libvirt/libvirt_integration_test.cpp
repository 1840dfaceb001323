// The libvirt backend, through the router as vmctl uses it, against the
// real libvirtd (LibvirtHost) booting the tiny guest under TCG.
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "backends/libvirt/libvirt_host.hpp"
#include "backends/qemu/tiny_guest.hpp"
#include "support/error_from.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/backend_registry.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/router.hpp"

namespace vmctl::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vm_manager::VmHandle;
using vm_manager::VmSpec;
using vm_manager::VmState;

// Two cores shared with other tests, and TCG.
constexpr auto kBootTimeout = 240s;
constexpr const char* kMetadataNamespace = "https://vmctl.dev/xmlns/libvirt/1";

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) names.insert(entry.path().filename().string());
  return names;
}

std::set<std::string> base_volumes(const fs::path& pool) {
  std::set<std::string> names;
  for (const auto& name : files_in(pool)) {
    if (name.starts_with("vmctl-base-")) names.insert(name);
  }
  return names;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

class LibvirtIntegration : public ::testing::Test {
 protected:
  LibvirtIntegration() : router_(make_router({})) {}

  vm_manager::RouterHypervisor make_router(std::map<std::string, std::string, std::less<>> env) {
    env.emplace("VMCTL_LIBVIRT_CONNECT_TIMEOUT", "10");
    return vm_manager::RouterHypervisor(vm_manager::BackendContext{vm_manager::DataDir(temp_ / "data"), std::nullopt,
                                                                   std::nullopt, vm_manager::Environment(env)});
  }

  static VmSpec libvirt_spec(const std::string& name, const std::string& uri = LibvirtHost::local_uri) {
    VmSpec spec = tiny_guest_spec(name);
    spec.backend = "libvirt";
    spec.backend_options["connect"] = uri;
    return spec;
  }

  // Destroys what a failed test left, through the backend (the harness then
  // removes whatever the backend could not).
  void TearDown() override {
    for (const auto& handle : made_) {
      try {
        router_.destroy(handle);
      } catch (const std::exception& error) {
        ADD_FAILURE() << "destroy of " << handle.name << ": " << error.what();
      }
    }
  }
  VmHandle prepare(const VmSpec& spec) {
    VmHandle handle = router_.prepare(spec);
    made_.push_back(handle);
    return handle;
  }
  void forget(const VmHandle& handle) {
    std::erase_if(made_, [&](const VmHandle& h) { return h.id == handle.id; });
  }

  std::string domstate(const std::string& name) const { return trimmed(host_.virsh({"domstate", name}).out); }

  LibvirtHost host_;
  TempDir temp_;
  vm_manager::RouterHypervisor router_;
  std::vector<VmHandle> made_;
};

TEST_F(LibvirtIntegration, CreateStartConsoleSuspendResumeAcpiStopDestroyLeavesNothing) {
  VmHandle vm = prepare(libvirt_spec("lv-life"));
  EXPECT_EQ(vm.backend, "libvirt");
  ASSERT_EQ(host_.domains().count("lv-life"), 1u);
  const std::string xml = host_.virsh({"dumpxml", "--inactive", "lv-life"}).out;
  EXPECT_NE(xml.find(kMetadataNamespace), std::string::npos) << xml;
  EXPECT_NE(xml.find(vm.id), std::string::npos) << "the metadata names the VM's id\n" << xml;
  EXPECT_NE(xml.find("type='qemu'"), std::string::npos) << "VMCTL_ACCEL=tcg: a TCG domain\n" << xml;
  EXPECT_EQ(router_.state(vm), VmState::prepared);

  vm = router_.start(vm);
  EXPECT_EQ(router_.state(vm), VmState::running);
  ASSERT_FALSE(vm.console_log.empty()) << "a local VM's console log is a file vmctl reads";
  ASSERT_TRUE(wait_for_text(vm.console_log, "TINY-GUEST: ready", kBootTimeout)) << read_text(vm.console_log);
  // The guest's DHCP lease from libvirt's dnsmasq is what guest_ip finds.
  std::smatch up;
  const std::string console = read_text(vm.console_log);
  ASSERT_TRUE(std::regex_search(console, up, std::regex("TINY-GUEST: network up ([0-9.]+)"))) << console;
  EXPECT_EQ(router_.guest_ip(vm), up[1].str());
  EXPECT_TRUE(up[1].str().starts_with("192.168.150.")) << up[1];

  vm = router_.suspend(vm);
  EXPECT_EQ(router_.state(vm), VmState::suspended);
  EXPECT_EQ(domstate("lv-life"), "paused");
  vm = router_.resume(vm);
  EXPECT_EQ(router_.state(vm), VmState::running);

  vm = router_.stop(vm, 120s);
  EXPECT_EQ(router_.state(vm), VmState::stopped);
  EXPECT_TRUE(wait_for_text(vm.console_log, "TINY-GUEST: powering off", 1s))
      << "the stop was no ACPI shutdown:\n" << read_text(vm.console_log);

  const fs::path work_dir = vm.work_dir;
  router_.destroy(vm);
  forget(vm);
  EXPECT_EQ(host_.domains().count("lv-life"), 0u);
  EXPECT_EQ(host_.vm_volumes(), std::set<std::string>{});
  EXPECT_FALSE(fs::exists(work_dir)) << work_dir;
  EXPECT_FALSE(fs::exists("/etc/libvirt/qemu/lv-life.xml"));
}

TEST_F(LibvirtIntegration, ASecondVmFromTheSameImageUploadsNothing) {
  VmHandle first = prepare(libvirt_spec("lv-one"));
  const std::set<std::string> bases = base_volumes(host_.pool_dir());
  ASSERT_EQ(bases.size(), 2u) << "the base image and its completion marker";
  std::string base;
  for (const auto& name : bases) {
    if (!name.ends_with(".complete")) base = name;
  }
  struct stat before {};
  ASSERT_EQ(::stat((host_.pool_dir() / base).c_str(), &before), 0);

  VmHandle second = prepare(libvirt_spec("lv-two"));
  EXPECT_EQ(base_volumes(host_.pool_dir()), bases);
  struct stat after {};
  ASSERT_EQ(::stat((host_.pool_dir() / base).c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec) << "the base was written again";
  // Both overlays are backed by the one base.
  for (const auto& vm : {first, second}) {
    const auto info = host_.virsh({"vol-dumpxml", "--pool", "default", "vmctl-" + vm.id + ".qcow2"});
    EXPECT_NE(info.out.find(base), std::string::npos) << info.out << info.err;
  }
  router_.destroy(first);
  forget(first);
  router_.destroy(second);
  forget(second);
  EXPECT_EQ(host_.vm_volumes(), std::set<std::string>{});
  EXPECT_EQ(base_volumes(host_.pool_dir()), bases) << "the base stays for the next VM";
}

TEST_F(LibvirtIntegration, AStoppedDaemonIsUnreachableNamingTheUri) {
  host_.kill_libvirtd();
  const auto error = expect_error(vm_manager::errc::backend_unreachable, [&] { router_.prepare(libvirt_spec("lv-x")); });
  EXPECT_NE(error.message().find("qemu:///system"), std::string::npos) << error.message();
  host_.start_libvirtd();
}

// A listener that accepts and never answers: the connection's deadline.
TEST_F(LibvirtIntegration, ASilentDaemonIsUnreachableWithinTheDeadline) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string uri = "qemu+tcp://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/system";
  auto router = make_router({{"VMCTL_LIBVIRT_CONNECT_TIMEOUT", "3"}});
  const auto started = std::chrono::steady_clock::now();
  const auto error = expect_error(vm_manager::errc::backend_unreachable, [&] { router.prepare(libvirt_spec("lv-x", uri)); });
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
  EXPECT_NE(error.message().find(uri), std::string::npos) << error.message();
  ::close(listener);
}

TEST_F(LibvirtIntegration, ABadUriSchemeIsAClearError) {
  for (const std::string uri : {"http://127.0.0.1/", "qemu+pigeon:///system", "not a uri"}) {
    const auto error = error_from([&] { router_.prepare(libvirt_spec("lv-x", uri)); });
    EXPECT_TRUE(error.code() == vm_manager::errc::spec_invalid || error.code() == vm_manager::errc::libvirt_failed)
        << uri << ": " << error.code() << " " << error.message();
    EXPECT_NE(error.message().find(uri), std::string::npos) << error.message();
    EXPECT_FALSE(error.help().empty()) << uri;
  }
  EXPECT_EQ(host_.domains(), std::set<std::string>{});
  EXPECT_EQ(files_in(temp_ / "data" / "vms"), std::set<std::string>{});
}

TEST_F(LibvirtIntegration, ADomainVmctlDidNotMakeIsNeverTouched) {
  const fs::path xml_file = host_.dir() / "foreign.xml";
  std::ofstream(xml_file) << "<domain type='qemu'><name>lv-foreign</name><description>"
                          << LibvirtHost::foreign_marker
                          << "</description><memory unit='MiB'>32</memory><os><type arch='x86_64'>hvm</type></os>"
                             "</domain>";
  ASSERT_EQ(host_.virsh({"define", xml_file.string()}).exit_code, 0);
  const std::string before = host_.virsh({"dumpxml", "lv-foreign"}).out;

  expect_error(vm_manager::errc::vm_already_exists, [&] { router_.prepare(libvirt_spec("lv-foreign")); });
  // A record of ours that names the domain (as after a lost store) does not reach it either.
  VmHandle ours = prepare(libvirt_spec("lv-ours"));
  VmHandle impostor = ours;
  impostor.name = "lv-foreign";
  impostor.id.back() = impostor.id.back() == '0' ? '1' : '0';
  impostor.work_dir = (temp_ / "data" / "vms" / "lv-foreign").string();
  router_.destroy_remains(impostor);
  try {
    router_.destroy(impostor);
  } catch (const vm_manager::Error&) {
    // Refusing is fine; touching the domain is not.
  }
  EXPECT_EQ(host_.domains().count("lv-foreign"), 1u);
  EXPECT_EQ(host_.virsh({"dumpxml", "lv-foreign"}).out, before);
  host_.virsh({"undefine", "lv-foreign"});
}

// libvirtd dies while vmctl starts a VM; once it is back, vmctl finds its
// domain (by its metadata) and destroys it with all its volumes.
TEST_F(LibvirtIntegration, ADaemonKilledDuringStartThenRestartedLeavesDomainsVmctlCanDestroy) {
  VmHandle vm = prepare(libvirt_spec("lv-crash"));
  auto starting = std::async(std::launch::async, [&] { return router_.start(vm); });
  // As soon as QEMU runs, before start() has come back (or just after).
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (domstate("lv-crash") != "running" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  host_.kill_libvirtd();
  try {
    vm = starting.get();
  } catch (const vm_manager::Error& error) {
    EXPECT_TRUE(error.code() == vm_manager::errc::backend_unreachable ||
                error.code() == vm_manager::errc::libvirt_failed)
        << error.code() << " " << error.message();
  }
  host_.start_libvirtd();
  // A new router, as a new vmctl process would have.
  auto router = make_router({});
  // libvirt may stop a domain whose start its death interrupted.
  const VmState state = router.state(vm);
  EXPECT_TRUE(state == VmState::running || state == VmState::stopped) << static_cast<int>(state);
  try {
    router.destroy(vm);
  } catch (const vm_manager::Error& error) {
    ADD_FAILURE() << "destroy after the restart: " << error.message() << "\n" << host_.log();
  }
  forget(vm);
  EXPECT_EQ(host_.domains().count("lv-crash"), 0u);
  EXPECT_EQ(host_.vm_volumes(), std::set<std::string>{});
}

}  // namespace
}  // namespace vmctl::test

namespace vmctl::test {
namespace {

// The second "host": the same daemon through the harness's sshd, the VM's
// image uploaded over the libvirt stream, its console read back as a volume.
class LibvirtRemoteIntegration : public ::testing::Test {
 protected:
  LibvirtRemoteIntegration()
      : router_(vm_manager::BackendContext{vm_manager::DataDir(temp_ / "data"), std::nullopt, std::nullopt,
                                           vm_manager::Environment(std::map<std::string, std::string, std::less<>>{{"VMCTL_LIBVIRT_CONNECT_TIMEOUT", "20"}})}) {
    // sshd listens on 127.0.0.1 inside the namespace: so must this process
    // (before any thread starts, so that libvirt's threads are there too).
    host_.enter_netns();
  }

  void boots_and_goes_away(const std::string& name, const std::string& uri) {
    VmSpec spec = tiny_guest_spec(name);
    spec.backend = "libvirt";
    spec.backend_options["connect"] = uri;
    VmHandle vm = router_.prepare(spec);
    EXPECT_EQ(vm.host, uri);
    EXPECT_TRUE(vm.console_log.empty()) << "a remote VM's log is no local file";
    ASSERT_TRUE(vm.ssh_jump.has_value());
    EXPECT_EQ(*vm.ssh_jump, (vm_manager::SshJumpHost{"root", "127.0.0.1", host_.ssh_port(), host_.ssh_identity().string(),
                                                     host_.ssh_known_hosts().string()}));
    try {
      vm = router_.start(vm);
      EXPECT_EQ(router_.state(vm), VmState::running);
      const auto deadline = std::chrono::steady_clock::now() + kBootTimeout;
      std::string console;
      while (console.find("TINY-GUEST: ready") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1s);
        console = router_.console_history(vm).data;
      }
      EXPECT_NE(console.find("TINY-GUEST: ready"), std::string::npos) << console;
      EXPECT_TRUE(std::holds_alternative<vm_manager::BackendConsole>(router_.console_endpoint(vm)));
      EXPECT_TRUE(router_.guest_ip(vm).starts_with("192.168.150."));
    } catch (const std::exception& error) {
      ADD_FAILURE() << uri << ": " << error.what() << "\n" << host_.log();
    }
    router_.destroy(vm);
    EXPECT_EQ(host_.domains().count(name), 0u);
    EXPECT_EQ(host_.vm_volumes(), std::set<std::string>{});
  }

  LibvirtHost host_{LibvirtHostOptions{.sshd = true}};
  TempDir temp_;
  vm_manager::RouterHypervisor router_;
};

TEST_F(LibvirtRemoteIntegration, TheTinyGuestThroughQemuPlusSsh) { boots_and_goes_away("lv-ssh", host_.ssh_uri()); }

// libvirt 9.0's libssh transport crashes the client when a stream finishes
// (seen: virStreamFinish of a volume download): vmctl refuses it, saying
// which transport to use, before it makes anything.
TEST_F(LibvirtRemoteIntegration, TheLibsshTransportIsRefusedBeforeAnythingIsMade) {
  VmSpec spec = tiny_guest_spec("lv-libssh");
  spec.backend = "libvirt";
  spec.backend_options["connect"] = host_.libssh_uri();
  vm_manager::Error e = error_from([&] { router_.prepare(spec); });
  EXPECT_EQ(e.code(), vm_manager::errc::spec_invalid) << e.message();
  EXPECT_NE(e.message().find("qemu+ssh://"), std::string::npos) << e.message();
  EXPECT_FALSE(host_.domains().contains("lv-libssh"));
}

}  // namespace
}  // namespace vmctl::test

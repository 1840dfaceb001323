// TAP networking for real, wholly inside a network namespace this test makes:
// a bridge br0 (192.168.77.1/24) with dnsmasq serving DHCP on it, the tiny
// guest booted by QemuBackend with TapNetwork{"br0"}. Checks that the tap
// joins the bridge, that the guest gets a lease, that guest_ip finds each
// guest by its MAC (in the lease file and the neighbour table), that traffic
// flows both ways, and that stop/destroy delete the tap. And a static
// address (vmctl create --ip, outside the DHCP range): the guest takes it
// from its seed's network-config, asks dnsmasq for nothing, and `vmctl ssh`,
// run as a user runs it, reaches it there.
//
// Network safety: before anything is created the main thread moves into
// the namespace "vmctl-tap-<pid>" (a gtest Environment, so before any test)
// and every test re-checks that it is still there. ip, dnsmasq and QEMU are
// started from that thread and so live in the namespace too. Nothing here
// sends a packet to an address outside 192.168.77.0/24 inside it, and the
// namespace has no link to the outside. At the end dnsmasq and every QEMU
// are stopped by pid and the namespace is deleted, on failure too; a
// namespace left by a killed run is removed by the next one.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "backends/qemu/guest_address.hpp"
#include "backends/qemu/netns.hpp"
#include "backends/qemu/qemu_backend.hpp"
#include "backends/qemu/tap.hpp"
#include "backends/qemu/tiny_guest.hpp"
#include "os/proc.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::Contains;
using ::testing::Not;
using vmctl::test::BackgroundProcess;
using vmctl::test::ip;
using vmctl::test::ip_or_throw;
using vmctl::test::NetworkNamespace;
using vmctl::test::tiny_guest_spec;
using vmctl::test::wait_for_text;

// Generous: two cores shared with other tests, and TCG.
constexpr auto kBootTimeout = 120s;
constexpr const char* kBridge = "br0";
constexpr const char* kBridgeAddress = "192.168.77.1/24";
// The DHCP range; every address this test sends to is in it.
constexpr std::uint32_t kFirstLease = 0xC0A84D32;  // 192.168.77.50
constexpr std::uint32_t kLastLease = 0xC0A84D63;   // 192.168.77.99
// The static address test's: in the bridge's subnet, outside the DHCP range.
constexpr const char* kStaticAddress = "192.168.77.200";

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string tail(const std::string& text, std::size_t chars = 3000) {
  return text.size() > chars ? "…" + text.substr(text.size() - chars) : text;
}

bool in_lease_range(const std::string& address) {
  in_addr a{};
  if (::inet_pton(AF_INET, address.c_str(), &a) != 1) return false;
  std::uint32_t host = ntohl(a.s_addr);
  return host >= kFirstLease && host <= kLastLease;
}

// Where this test may send packets: the leases and the static address.
bool test_address(const std::string& address) { return in_lease_range(address) || address == kStaticAddress; }

// ---------------------------------------------------------------- the namespace

class TapNetworkEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      build();
    } catch (const std::exception& e) {
      cleanup();
      FAIL() << "cannot set up the test network namespace: " << e.what();
    }
  }

  void TearDown() override { cleanup(); }

  // The namespace exists, this thread is in it, dnsmasq serves the bridge.
  bool ready() const { return ready_ && ns_ && ns_->inside() && dnsmasq_ && dnsmasq_->running(); }
  fs::path leases() const { return dir_->path() / "dnsmasq.leases"; }
  std::string dnsmasq_log() const { return dir_ ? read_text(dir_->path() / "dnsmasq.log") : ""; }

 private:
  void build() {
    for (const auto& line : vmctl::test::remove_stale_namespaces("vmctl-tap-")) std::cerr << line << "\n";
    const std::uint64_t host_ns = vmctl::test::current_netns_inode();
    if (host_ns == 0) throw std::runtime_error("cannot read /proc/thread-self/ns/net");

    ns_ = std::make_unique<NetworkNamespace>("vmctl-tap-" + std::to_string(::getpid()));
    ns_->enter();
    // Nothing is created before this holds.
    if (!ns_->inside() || vmctl::test::current_netns_inode() == host_ns ||
        vmctl::test::current_netns_inode() != vmctl::test::netns_inode(ns_->file())) {
      throw std::runtime_error("not inside " + ns_->name() + " after setns; refusing to touch the network");
    }
    json links = json::parse(ip_or_throw({"-j", "link", "show"}).out);
    if (links.size() != 1 || links[0].value("ifname", "") != "lo") {
      throw std::runtime_error("a fresh namespace should hold only lo, not " + links.dump());
    }

    ip_or_throw({"link", "set", "dev", "lo", "up"});
    ip_or_throw({"link", "add", kBridge, "type", "bridge"});
    ip_or_throw({"addr", "add", kBridgeAddress, "dev", kBridge});
    ip_or_throw({"link", "set", "dev", kBridge, "up"});

    dir_ = std::make_unique<vmctl::test::TempDir>();
    fs::path pidfile = dir_->path() / "dnsmasq.pid";
    dnsmasq_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"/usr/sbin/dnsmasq",
                                 "--keep-in-foreground",
                                 // No switch to another user or group: that would clear
                                 // the parent-death signal that ends it with a killed test.
                                 "--user=root",
                                 "--group=root",
                                 "--conf-file=/dev/null",
                                 "--no-hosts",
                                 "--no-resolv",
                                 "--port=0",  // no DNS
                                 "--bind-interfaces",
                                 "--interface=" + std::string(kBridge),
                                 "--except-interface=lo",
                                 "--dhcp-range=192.168.77.50,192.168.77.99,12h",
                                 "--dhcp-option=3",  // no router: the guests get no default route
                                 "--dhcp-option=6",  // no DNS server
                                 "--dhcp-leasefile=" + leases().string(),
                                 "--pid-file=" + pidfile.string(),
                                 "--log-facility=-",  // stderr, i.e. dnsmasq.log
                                 "--log-dhcp"},
        dir_->path() / "dnsmasq.log");
    // dnsmasq writes its pid file once its sockets are bound.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (read_text(pidfile).empty() && dnsmasq_->running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    if (!dnsmasq_->running()) throw std::runtime_error("dnsmasq exited: " + dnsmasq_log());
    if (std::atol(read_text(pidfile).c_str()) != dnsmasq_->pid()) {
      throw std::runtime_error("dnsmasq wrote no pid file (or another pid): " + dnsmasq_log());
    }

    ready_ = true;
  }

  void cleanup() {
    ready_ = false;
    if (dnsmasq_) {
      pid_t pid = dnsmasq_->pid();
      EXPECT_TRUE(dnsmasq_->stop()) << "dnsmasq (pid " << pid << ") survived SIGKILL";
      EXPECT_TRUE(::kill(pid, 0) != 0 && errno == ESRCH) << "dnsmasq (pid " << pid << ") still exists";
      dnsmasq_.reset();
    }
    if (ns_) {
      ns_->leave();
      // Only what this test started can be in its namespace: a QEMU here outlived its test.
      for (pid_t pid : ns_->pids()) {
        ADD_FAILURE() << "pid " << pid << " (" << read_text("/proc/" + std::to_string(pid) + "/comm")
                      << ") still runs in " << ns_->name() << "; killing it";
        ::kill(pid, SIGKILL);
      }
      std::string name = ns_->name();
      EXPECT_TRUE(ns_->remove()) << "cannot delete namespace " << name;
      EXPECT_FALSE(fs::exists("/run/netns/" + name));
      ns_.reset();
    }
    dir_.reset();
  }

  std::unique_ptr<NetworkNamespace> ns_;
  std::unique_ptr<vmctl::test::TempDir> dir_;
  std::unique_ptr<BackgroundProcess> dnsmasq_;
  bool ready_ = false;
};

TapNetworkEnvironment* const environment =
    static_cast<TapNetworkEnvironment*>(::testing::AddGlobalTestEnvironment(new TapNetworkEnvironment));

// ---------------------------------------------------------------- looking at the namespace

// `ip -j -d link show dev DEV`, or nullopt when there is no such link.
std::optional<json> link_of(const std::string& dev) {
  auto out = ip({"-j", "-d", "link", "show", "dev", dev});
  if (!out.ok()) return std::nullopt;
  json links = json::parse(out.out);
  if (!links.is_array() || links.empty()) return std::nullopt;
  return links[0];
}

std::vector<std::string> names_of(const std::string& ip_json) {
  std::vector<std::string> names;
  if (ip_json.find_first_not_of(" \n") == std::string::npos) return names;  // some ip versions print nothing
  json links = json::parse(ip_json);
  for (const auto& l : links) names.push_back(l.value("ifname", ""));
  return names;
}

std::vector<std::string> bridge_ports(const std::string& bridge) {
  return names_of(ip_or_throw({"-j", "link", "show", "master", bridge}).out);
}

std::vector<std::string> vmctl_taps() {
  std::vector<std::string> taps;
  for (const auto& name : names_of(ip_or_throw({"-j", "link", "show"}).out)) {
    if (name.rfind("vmt", 0) == 0) taps.push_back(name);
  }
  return taps;
}

bool has_flag(const json& link, const std::string& flag) {
  for (const auto& f : link.value("flags", json::array())) {
    if (f == flag) return true;
  }
  return false;
}

// The address in the n-th (1-based) network marker on the console:
// "TINY-GUEST: network up <ip>", or "" for "network failed" or the timeout.
// The log is appended across boots, one marker per boot.
std::string wait_for_guest_address(const fs::path& console_log, std::size_t nth, std::chrono::seconds timeout) {
  static const std::regex marker(R"(TINY-GUEST: network (up ([0-9.]+)|failed)\r?\n)");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = read_text(console_log);
    std::size_t i = 0;
    for (auto m = std::sregex_iterator(text.begin(), text.end(), marker); m != std::sregex_iterator(); ++m) {
      if (++i == nth) return (*m)[2].str();  // empty for "failed"
    }
    std::this_thread::sleep_for(100ms);
  }
  return "";
}

// One ICMP echo from the namespace to a guest in the lease range.
bool pings(const std::string& address) {
  if (!test_address(address)) {
    ADD_FAILURE() << "refusing to ping " << address << ": not in the test's DHCP range";
    return false;
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (vm_manager::os::run_process({"ping", "-n", "-c1", "-W2", address}, 10s).ok()) return true;
  }
  return false;
}

// The first line a TCP server at address:port sends (dropbear's banner).
std::string first_line_from(const std::string& address, std::uint16_t port, std::chrono::seconds timeout) {
  if (!test_address(address)) {
    ADD_FAILURE() << "refusing to connect to " << address << ": not in the test's DHCP range";
    return "";
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &to.sin_addr);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left_ms = [&] {
    return static_cast<int>(std::max<long>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count()));
  };
  while (left_ms() > 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return "";
    std::string line;
    bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
    if (!connected && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      connected = ::poll(&p, 1, left_ms()) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    while (connected && line.find('\n') == std::string::npos && left_ms() > 0) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, left_ms()) != 1) break;
      char buf[256];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (line.find('\n') != std::string::npos) return line.substr(0, line.find_first_of("\r\n"));
    std::this_thread::sleep_for(500ms);
  }
  return "";
}

std::string expected_tap_name(const VmHandle& h) {
  std::string hex;
  for (char c : h.id) {
    if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(c));
  }
  return "vmt" + hex.substr(0, 8);
}

// ---------------------------------------------------------------- the fixture

class TapNetworkTest : public ::testing::Test {
 protected:
  TapNetworkTest() : backend_(DataDir(dir_.path()), config()) {}

  static QemuConfig config() {
    QemuConfig c;
    c.accel_override = Accel::tcg;
    c.dnsmasq_leases = environment->leases().string();  // where this namespace's dnsmasq leases
    return c;
  }

  void SetUp() override {
    ASSERT_TRUE(environment->ready())
        << "the test network namespace is not set up (or this thread left it); refusing to touch the network";
    inside_ = true;
  }

  VmHandle prepare(const std::string& name, const std::string& bridge = kBridge) {
    VmSpec spec = tiny_guest_spec(name);
    spec.memory_mb = 160;
    spec.network = TapNetwork{bridge};
    return vms_.prepare(spec);
  }
  VmHandle started(const VmHandle& h) { return vms_.start(h); }
  void remember(const VmHandle& h) { vms_.remember(h); }

  // The guest's address as it reports it on the console.
  std::string address_of(const VmHandle& h, std::size_t nth = 1) {
    std::string address = wait_for_guest_address(h.console_log, nth, kBootTimeout);
    if (address.empty()) {
      ADD_FAILURE() << "VM " << h.name << " reported no address.\nconsole:\n"
                    << tail(read_text(h.console_log)) << "\nqemu.log:\n"
                    << tail(read_text(fs::path(h.work_dir) / "qemu.log")) << "\ndnsmasq:\n"
                    << tail(environment->dnsmasq_log());
    }
    return address;
  }

  // No QEMU may outlive its test, and no tap either.
  void TearDown() override {
    vms_.destroy_all();
    if (inside_ && environment->ready()) {
      EXPECT_THAT(vmctl_taps(), ::testing::IsEmpty()) << "taps left behind";
    }
  }

  vmctl::test::TempDir dir_;
  QemuBackend backend_;
  vmctl::test::TrackedVms vms_{backend_};
  bool inside_ = false;
};

// ---------------------------------------------------------------- tests

TEST_F(TapNetworkTest, TapJoinsTheBridgeAndGuestIpFindsTheGuestByMac) {
  VmHandle h = prepare("tapvm");
  ASSERT_TRUE(std::holds_alternative<TapNetwork>(h.network));
  EXPECT_EQ(std::get<TapNetwork>(h.network).bridge, kBridge);
  const std::string tap = expected_tap_name(h);
  EXPECT_TRUE(std::regex_match(tap, std::regex("vmt[0-9a-f]{8}"))) << tap;
  EXPECT_EQ(tap_name_for(h), tap);
  EXPECT_FALSE(link_of(tap)) << "the tap exists only while the VM runs";

  h = started(h);
  ASSERT_EQ(backend_.state(h), VmState::running);
  ASSERT_TRUE(QemuVm(h).pid && QemuVm(h).pid_start_time);

  // The tap is a tap, a port of br0, up, and QEMU holds it open (carrier).
  auto link = link_of(tap);
  ASSERT_TRUE(link) << "no tap " << tap << " while the VM runs";
  EXPECT_EQ(link->value("master", ""), kBridge) << link->dump();
  EXPECT_EQ((*link)["linkinfo"].value("info_kind", ""), "tun") << link->dump();
  EXPECT_EQ((*link)["linkinfo"]["info_data"].value("type", ""), "tap") << link->dump();
  EXPECT_TRUE(has_flag(*link, "UP")) << link->dump();
  EXPECT_TRUE(has_flag(*link, "LOWER_UP")) << "QEMU does not hold the tap open: " << link->dump();
  EXPECT_THAT(bridge_ports(kBridge), Contains(tap));

  // DHCP across the bridge: the guest's own account of its address…
  std::string address = address_of(h);
  ASSERT_FALSE(address.empty());
  ASSERT_TRUE(in_lease_range(address)) << address;
  // …is what guest_ip finds, and what dnsmasq leased to this VM's MAC.
  EXPECT_EQ(backend_.guest_ip(h), address);
  std::string leases = read_text(environment->leases());
  EXPECT_EQ(ip_from_leases(leases, QemuVm(h).mac), address) << leases;
  EXPECT_NE(leases.find(QemuVm(h).mac + " " + address + " "), std::string::npos) << leases;

  // Both ways across the bridge: ICMP, then dropbear's banner over TCP.
  EXPECT_TRUE(pings(address)) << "no echo reply from " << address;
  // After that traffic the neighbour table knows the guest by its MAC, on br0.
  std::string arp = read_text("/proc/net/arp");
  EXPECT_EQ(ip_from_neighbours(arp, QemuVm(h).mac), address) << arp;
  EXPECT_THAT(arp, ::testing::ContainsRegex(address + " .* " + QemuVm(h).mac + " .* br0")) << arp;
  EXPECT_EQ(backend_.guest_ip(h), address);
  ASSERT_TRUE(wait_for_text(h.console_log, "TINY-GUEST: ready", kBootTimeout)) << tail(read_text(h.console_log));
  EXPECT_THAT(first_line_from(address, 22, 30s), ::testing::StartsWith("SSH-2.0-"));

  // Stop: QEMU is gone and so is its tap.
  h = backend_.stop(h, 30s);
  remember(h);
  EXPECT_EQ(backend_.state(h), VmState::stopped);
  EXPECT_FALSE(os::is_running_process(static_cast<pid_t>(*QemuVm(h).pid), *QemuVm(h).pid_start_time));
  EXPECT_FALSE(link_of(tap)) << "stop left the tap " << tap;
  EXPECT_THAT(bridge_ports(kBridge), Not(Contains(tap)));
  try {
    backend_.guest_ip(h);
    ADD_FAILURE() << "guest_ip of a stopped VM should fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::vm_invalid_state) << e.message();
  }

  backend_.destroy(h);
  EXPECT_EQ(backend_.state(h), VmState::destroyed);
  EXPECT_FALSE(fs::exists(h.work_dir));
  EXPECT_FALSE(link_of(tap));
}

TEST_F(TapNetworkTest, TwoVmsOnOneBridgeEachGetTheirOwnAddress) {
  // One after the other: both leases are in the file, b's the newer one.
  VmHandle a = started(prepare("tapa"));
  std::string address_a = address_of(a);
  ASSERT_FALSE(address_a.empty());
  VmHandle b = started(prepare("tapb"));
  std::string address_b = address_of(b);
  ASSERT_FALSE(address_b.empty());

  ASSERT_NE(QemuVm(a).mac, QemuVm(b).mac);
  ASSERT_NE(address_a, address_b);
  ASSERT_TRUE(in_lease_range(address_a)) << address_a;
  ASSERT_TRUE(in_lease_range(address_b)) << address_b;
  const std::string tap_a = tap_name_for(a);
  const std::string tap_b = tap_name_for(b);
  EXPECT_NE(tap_a, tap_b);
  EXPECT_THAT(bridge_ports(kBridge), ::testing::IsSupersetOf({tap_a, tap_b}));

  std::string leases = read_text(environment->leases());
  EXPECT_EQ(ip_from_leases(leases, QemuVm(a).mac), address_a) << leases;
  EXPECT_EQ(ip_from_leases(leases, QemuVm(b).mac), address_b) << leases;

  // Forget what the neighbour table learnt, so that guest_ip has to read the
  // lease file, which holds both leases (dnsmasq writes the newest first):
  // whichever comes last, each VM must get its own.
  ip_or_throw({"neigh", "flush", "dev", kBridge});
  std::string arp = read_text("/proc/net/arp");
  EXPECT_FALSE(ip_from_neighbours(arp, QemuVm(a).mac)) << arp;
  EXPECT_FALSE(ip_from_neighbours(arp, QemuVm(b).mac)) << arp;
  EXPECT_EQ(backend_.guest_ip(a), address_a);
  EXPECT_EQ(backend_.guest_ip(b), address_b);

  // And through the neighbour table, once there has been traffic.
  EXPECT_TRUE(pings(address_a));
  EXPECT_TRUE(pings(address_b));
  arp = read_text("/proc/net/arp");
  EXPECT_EQ(ip_from_neighbours(arp, QemuVm(a).mac), address_a) << arp;
  EXPECT_EQ(ip_from_neighbours(arp, QemuVm(b).mac), address_b) << arp;
  EXPECT_EQ(backend_.guest_ip(a), address_a);
  EXPECT_EQ(backend_.guest_ip(b), address_b);

  // Stopping one leaves the other's tap and traffic alone.
  a = backend_.stop(a, 30s);
  remember(a);
  EXPECT_FALSE(link_of(tap_a));
  auto link_b = link_of(tap_b);
  ASSERT_TRUE(link_b);
  EXPECT_EQ(link_b->value("master", ""), kBridge);
  EXPECT_TRUE(pings(address_b));
  EXPECT_EQ(backend_.guest_ip(b), address_b);
}

TEST_F(TapNetworkTest, StartAfterStopMakesTheTapAgain) {
  VmHandle h = started(prepare("again"));
  const std::string tap = tap_name_for(h);
  std::string first = address_of(h, 1);
  ASSERT_FALSE(first.empty());
  // Until acpid runs the guest would miss the power button and stop would wait out its timeout.
  ASSERT_TRUE(wait_for_text(h.console_log, "TINY-GUEST: ready", kBootTimeout)) << tail(read_text(h.console_log));
  h = backend_.stop(h, 30s);
  remember(h);
  EXPECT_TRUE(wait_for_text(h.console_log, "TINY-GUEST: powering off", 1s)) << "stopped by ACPI, not a signal";
  ASSERT_FALSE(link_of(tap));

  h = started(h);
  auto link = link_of(tap);
  ASSERT_TRUE(link);
  EXPECT_EQ(link->value("master", ""), kBridge);
  EXPECT_TRUE(has_flag(*link, "LOWER_UP")) << link->dump();
  std::string second = address_of(h, 2);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(second, first) << "dnsmasq gives a MAC its address back";
  EXPECT_EQ(backend_.guest_ip(h), second);
  EXPECT_TRUE(pings(second));
}

// vmctl itself, started from this thread and so inside the namespace, with
// a data dir of its own; destroys what it created when the test ends.
class VmctlInNamespace {
 public:
  ~VmctlInNamespace() {
    for (const auto& name : created_) {
      if (!fs::exists(work_dir(name))) continue;  // its create failed and left nothing
      auto r = run({"destroy", name});
      EXPECT_EQ(r.exit_code, 0) << "vmctl destroy " << name << ": " << r.out << r.err;
    }
  }
  vmctl::test::ProcessResult run(const std::vector<std::string>& args) {
    if (!environment->ready()) {
      ADD_FAILURE() << "not inside the test network namespace; refusing to run vmctl";
      return {};
    }
    vmctl::test::ProcessOptions options;
    options.env = {{"VMCTL_ACCEL", "tcg"}};
    options.timeout = 300s;
    return vmctl::test::run_vmctl(data_.str(), args, options);
  }
  void created(const std::string& name) { created_.push_back(name); }
  fs::path work_dir(const std::string& name) const { return data_.path() / "vms" / name; }

 private:
  vmctl::test::TempDir data_;
  std::vector<std::string> created_;
};

TEST_F(TapNetworkTest, AStaticAddressIsTakenFromNetworkConfigAndVmctlSshReachesIt) {
  vmctl::test::TinyGuest guest = vmctl::test::TinyGuest::locate();
  VmctlInNamespace cli;
  const std::string address = std::string(kStaticAddress) + "/24";
  cli.created("fixed");
  auto created = cli.run({"create", "--name", "fixed", "--image", guest.disk.string(), "--kernel",
                          guest.kernel.string(), "--initrd", guest.initrd.string(), "--append",
                          "console=ttyS0 panic=-1", "--memory", "160", "--network", "tap", "--bridge", kBridge, "--ip",
                          address, "--gateway", "192.168.77.1", "--dns", "192.168.77.1", "--start", "--wait",
                          "--wait-timeout", "240"});
  const fs::path console_log = cli.work_dir("fixed") / "console.log";
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err << "\nconsole:\n" << tail(read_text(console_log))
                                  << "\ndnsmasq:\n" << tail(environment->dnsmasq_log());
  EXPECT_NE(created.out.find("is ready"), std::string::npos) << created.out;

  // The guest took the address from network-config, not from DHCP.
  const std::string console = read_text(console_log);
  EXPECT_NE(console.find("TINY-GUEST: network static " + address), std::string::npos) << tail(console);
  EXPECT_NE(console.find(std::string("TINY-GUEST: network up ") + kStaticAddress), std::string::npos) << tail(console);
  auto status = json::parse(cli.run({"status", "fixed", "--json"}).out);
  EXPECT_EQ(status.at("ssh_host"), kStaticAddress) << status.dump();
  EXPECT_EQ(status.at("ssh_port"), nullptr) << status.dump();
  auto record = json::parse(read_text(cli.work_dir("fixed") / "vm.json"));
  const std::string mac = record.at("handle").at("backend_state").at("data").at("mac");
  EXPECT_FALSE(ip_from_leases(read_text(environment->leases()), mac))
      << "the guest asked dnsmasq for an address:\n" << read_text(environment->leases());

  // vmctl ssh reaches it there, and the guest has what network-config said.
  auto seen = cli.run({"ssh", "fixed", "--", "sh", "-c",
                       "'PATH=/sbin:/bin:/usr/sbin:/usr/bin; hostname; ip -4 -o addr show; ip route; "
                       "cat /etc/resolv.conf'"});
  EXPECT_EQ(seen.exit_code, 0) << seen.out << seen.err;
  EXPECT_THAT(seen.out, ::testing::StartsWith("fixed\n"));
  EXPECT_THAT(seen.out, ::testing::ContainsRegex("eth0 +inet 192\\.168\\.77\\.200/24")) << seen.out;
  EXPECT_THAT(seen.out, ::testing::HasSubstr("default via 192.168.77.1 dev eth0")) << seen.out;
  EXPECT_THAT(seen.out, ::testing::HasSubstr("nameserver 192.168.77.1")) << seen.out;
  EXPECT_TRUE(pings(kStaticAddress));
  EXPECT_EQ(ip_from_neighbours(read_text("/proc/net/arp"), mac), kStaticAddress);
}

// A tap without a bridge gets the configured default one and keeps its static
// address; the seed's network-config names the MAC prepare gave the NIC.
TEST_F(TapNetworkTest, TheDefaultBridgeKeepsTheStaticAddressAndTheSeedNamesTheMac) {
  vmctl::test::TempDir data;
  QemuConfig with_default = config();
  with_default.default_bridge = kBridge;
  QemuBackend backend(DataDir(data.path()), with_default);
  const StaticAddress fixed{std::string(kStaticAddress) + "/24", "192.168.77.1", {}};
  VmSpec spec = tiny_guest_spec("dflt");
  spec.network = TapNetwork{"", fixed};
  VmHandle h = backend.prepare(spec);
  EXPECT_EQ(h.network, NetworkConfig(TapNetwork{kBridge, fixed}));
  EXPECT_EQ(h.ssh_host, kStaticAddress);
  EXPECT_FALSE(h.ssh_port);
  const std::string seed = read_text(h.seed_iso_path);
  EXPECT_NE(seed.find("macaddress: \"" + QemuVm(h).mac + "\""), std::string::npos) << QemuVm(h).mac;
  backend.destroy(h);
}

TEST_F(TapNetworkTest, AQemuThatFailsToStartLeavesNoTap) {
  VmSpec spec = tiny_guest_spec("badmem");
  spec.memory_mb = 16ull * 1024 * 1024;  // 16 TiB: QEMU refuses, after the tap was made
  spec.network = TapNetwork{kBridge};
  VmHandle h = backend_.prepare(spec);
  vms_.add(h);
  try {
    started(h);
    FAIL() << "start should fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::vm_start_failed) << e.message();
  }
  EXPECT_FALSE(link_of(tap_name_for(h)));
  EXPECT_THAT(vmctl_taps(), ::testing::IsEmpty());
  EXPECT_THAT(bridge_ports(kBridge), ::testing::IsEmpty());
  EXPECT_EQ(backend_.state(h), VmState::prepared);
}

TEST_F(TapNetworkTest, AMissingBridgeFailsStartAndLeavesNoTap) {
  const std::string bridge = "vmctlnobr0";
  ASSERT_FALSE(link_of(bridge));
  VmHandle h = prepare("nobridge", bridge);
  try {
    started(h);  // recorded, so that TearDown stops a QEMU that should not run
    FAIL() << "start should fail without the bridge";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::spec_invalid) << e.message();
    EXPECT_NE(e.message().find(bridge), std::string::npos) << e.message();
  }
  EXPECT_FALSE(link_of(tap_name_for(h)));
  EXPECT_THAT(vmctl_taps(), ::testing::IsEmpty());
  EXPECT_EQ(backend_.state(h), VmState::prepared);
  EXPECT_FALSE(fs::exists(fs::path(h.work_dir) / "qemu.pid")) << "QEMU was started";
}

TEST_F(TapNetworkTest, AMasterThatIsNoBridgeFailsStartAndLeavesNoTap) {
  // lo exists but cannot take ports: the tap is made, enslaving it fails.
  VmHandle h = prepare("notabridge", "lo");
  const std::string tap = tap_name_for(h);
  try {
    started(h);  // recorded, so that TearDown stops a QEMU that should not run
    FAIL() << "start should fail: lo is no bridge";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::spec_invalid) << e.message();
    EXPECT_NE(e.message().find("bridge lo"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find(tap), std::string::npos) << e.message();
  }
  EXPECT_FALSE(link_of(tap)) << "the tap made for the failed start is left";
  EXPECT_THAT(vmctl_taps(), ::testing::IsEmpty());
  EXPECT_EQ(backend_.state(h), VmState::prepared);
}

}  // namespace
}  // namespace vm_manager::qemu

// vmctl with the propolis backend on Linux, against the zone simulator
// (tests/propolis/fake-tools/README.md): the fake illumos tools first in
// PATH, and every `zoneadm boot` really boots the zone — the nebula-vm
// brand's own boot hook and init, in a private mount namespace — whose init
// starts the fake propolis-server (tests/propolis/fake_propolis_server.py)
// with propolis-server's own argv, on the zone's API address, a 127.0.0.x
// address the brand's init configured with the zone's ifconfig. Driven
// through create, start, status, stop, start again and destroy, and the
// failure paths.
#include <unistd.h>

#include <algorithm>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>

#include "support/fake_propolis.hpp"
#include "support/ports.hpp"
#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string kTools = VMCTL_SOURCE_DIR "/tests/propolis/fake-tools";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class PropolisCliTest : public VmctlTest {
 protected:
  void SetUp() override {
    // A loopback address of its own per test process, so that zones of tests
    // running side by side never share an address.
    api_ip_ = "127.0.0." + std::to_string(2 + ::getpid() % 250);
    env_ = {{"PATH", kTools + ":" + std::getenv("PATH")},
            {"VMCTL_PROPOLIS_EMULATE", "1"},
            {"VMCTL_FAKE_TOOLS_STATE", state_dir().string()},
            {"VMCTL_FAKE_TOOLS_LOG", (data_ / "tools.log").string()},
            {"VMCTL_PROPOLIS_LINK", "net0"},
            {"VMCTL_PROPOLIS_START_TIMEOUT", "60"},
            {"VMCTL_PROPOLIS_PORT", std::to_string(free_port(api_ip_))},
            // Zonepaths under the test's folder, not the host's /zones; the
            // folder each zone mounts at /opt/oxide/propolis-server holds the
            // fake server as bin/propolis-server and a firmware file.
            {"VMCTL_PROPOLIS_ZONES_ROOT", (data_ / "zones").string()},
            {"VMCTL_PROPOLIS_DIR", (data_ / "propolis").string()}};
    install_fake_propolis(data_ / "propolis");
    ASSERT_EQ(tool({"zfs", "create", "-p", "-V", "10G", "rpool/images/debian"}).exit_code, 0);
    ASSERT_EQ(tool({"zfs", "snapshot", "rpool/images/debian@base"}).exit_code, 0);
  }

  // Every zone's processes die with the test, by pid.
  void TearDown() override {
    run_process({"python3", kTools + "/zone_sim.py", "kill-all", state_dir().string()}, ProcessOptions{env_, 60s});
  }

  fs::path state_dir() const { return data_ / "tools-state"; }
  // The fake server's records of one zone, appended across its boots.
  fs::path server_records(const std::string& vm) const { return state_dir() / "propolis-server" / ("vmctl-" + vm); }
  // The fake server's own test knobs, read by every server a zone starts.
  void server_options(const std::string& flags) { std::ofstream(state_dir() / "propolis-options") << flags << "\n"; }

  ProcessResult tool(const std::vector<std::string>& argv) {
    std::vector<std::string> full = {kTools + "/" + argv[0]};
    full.insert(full.end(), argv.begin() + 1, argv.end());
    return run_process(full, ProcessOptions{env_, 60s});
  }
  ProcessResult run(const std::vector<std::string>& args) { return run_vmctl(data_.str(), args, ProcessOptions{env_, 180s}); }
  // A command that must succeed; on failure its stderr and the zone's
  // console say why.
  void expect_ok(const ProcessResult& r) {
    ASSERT_EQ(r.exit_code, 0) << r.err << "\nconsole of vmctl-web:\n"
                              << slurp(state_dir() / "zones" / "vmctl-web" / "console.log");
  }
  std::string state(const std::string& name) {
    ProcessResult r = run({"status", name, "--json"});
    return nlohmann::json::parse(r.out).at("state");
  }
  std::string zone_state(const std::string& vm) {
    std::string line = tool({"zoneadm", "-z", "vmctl-" + vm, "list", "-p"}).out;
    auto first = line.find(':', line.find(':') + 1);
    return line.substr(first + 1, line.find(':', first + 1) - first - 1);
  }

  // The fake zfs's datasets (and snapshots) whose name holds `part`.
  std::vector<std::string> datasets_named(const std::string& part) {
    std::vector<std::string> out;
    nlohmann::json st = nlohmann::json::parse(slurp(state_dir() / "state.json"));
    for (auto& [name, _] : st["datasets"].items())
      if (name.find(part) != std::string::npos) out.push_back(name);
    return out;
  }
  // The bodies of the ensure requests the fake server got for the VM's
  // zone, across its boots, oldest first.
  std::vector<nlohmann::json> ensures(const std::string& vm) {
    std::vector<nlohmann::json> out;
    std::istringstream in(slurp(server_records(vm) / "requests.jsonl"));
    for (std::string line; std::getline(in, line);) {
      nlohmann::json r = nlohmann::json::parse(line);
      if (r["method"] == "PUT" && r["path"] == "/instance") out.push_back(r["body"]);
    }
    return out;
  }
  // How often the fake guest's boot banner is on the VM's console.
  std::size_t boots_on_console(const std::string& vm) {
    std::string console = run({"log", vm, "--console"}).out;
    std::size_t n = 0;
    for (auto at = console.find("Debian GNU/Linux 12"); at != std::string::npos;
         at = console.find("Debian GNU/Linux 12", at + 1))
      ++n;
    return n;
  }
  // `r` failed with `code`, printed as vmctl prints a library error, and a help line.
  void expect_error(const ProcessResult& r, const std::string& code) {
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(r.err.rfind("error[vm_manager::" + code + "]: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("\n  help: "), std::string::npos) << r.err;
  }

  // create_args with `flag`'s value replaced.
  std::vector<std::string> create_args_with(const std::string& name, const std::string& flag, const std::string& value) {
    std::vector<std::string> args = create_args(name);
    auto at = std::find(args.begin(), args.end(), flag);
    if (at == args.end() || at + 1 == args.end()) throw std::logic_error("create_args has no " + flag);
    *(at + 1) = value;
    return args;
  }

  std::vector<std::string> create_args(const std::string& name, const std::string& api = "") {
    return {"create", "--backend", "propolis", "--name", name, "--image", "debian@base", "--network", "vnic",
            "--propolis-api", api.empty() ? api_ip_ + "/8" : api, "--vcpus", "2", "--memory", "2048"};
  }

  // `vmctl create` fails with spec::invalid saying `text`, before any tool
  // runs (the tools' log does not grow) and leaving nothing in the data dir.
  void expect_refused_before_any_tool(const std::vector<std::string>& args, const std::string& vm,
                                      const std::string& text) {
    std::string tools_before = slurp(env_["VMCTL_FAKE_TOOLS_LOG"]);
    ProcessResult r = run(args);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("error[vm_manager::spec::invalid]: " + text), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("  help: "), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("--propolis-api"), std::string::npos) << "a hint for another problem: " << r.err;
    EXPECT_EQ(slurp(env_["VMCTL_FAKE_TOOLS_LOG"]), tools_before) << "a tool ran";
    EXPECT_FALSE(fs::exists(data_ / "vms" / vm));
  }

  std::map<std::string, std::string> env_;
  std::string api_ip_;
};

TEST_F(PropolisCliTest, CreateStartStatusStopDestroy) {
  ProcessResult created = run(create_args("web"));
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_NE(created.out.find("(propolis backend)"), std::string::npos);
  EXPECT_EQ(state("web"), "prepared");
  std::string tools = slurp(data_ / "tools.log");
  EXPECT_NE(tools.find(R"(["zfs", "clone", "-p", "rpool/images/debian@base", "rpool/vms/web"])"), std::string::npos) << tools;
  EXPECT_NE(tools.find(R"("zoneadm", "-z", "vmctl-web", "install")"), std::string::npos) << tools;

  ProcessResult started = run({"start", "web"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  EXPECT_EQ(state("web"), "running");
  // The ensure request the backend sent validated against the OpenAPI
  // document (the fake refuses anything else); it carries the seed.
  std::string requests = slurp(server_records("web") / "requests.jsonl");
  EXPECT_NE(requests.find("\"api-version\": \"5.0.0\""), std::string::npos) << requests;
  EXPECT_NE(requests.find("blob_storage_backend"), std::string::npos);
  EXPECT_NE(requests.find("\"cpus\": 2"), std::string::npos);

  // The console: the guest's output so far, then a line typed into it.
  ProcessResult log = run({"log", "web", "--console"});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  EXPECT_NE(log.out.find("login: "), std::string::npos) << log.out;
  EXPECT_EQ(run({"log", "web"}).out, log.out) << "without a log file the console is the log";
  std::ofstream(data_ / "typed") << "hello\r";
  ProcessOptions typed{env_, 60s, (data_ / "typed").string()};
  ProcessResult console = run_vmctl(data_.str(), {"console", "web"}, typed);
  EXPECT_EQ(console.exit_code, 0) << console.err;
  EXPECT_NE(console.err.find("Ctrl-]"), std::string::npos) << console.err;
  EXPECT_NE(console.out.find("fake-guest: got 'hello'"), std::string::npos) << console.out;
  EXPECT_NE(run({"log", "web", "-n", "2"}).out.find("fake-guest: got 'hello'"), std::string::npos);

  ProcessResult suspended = run({"suspend", "web"});
  EXPECT_EQ(suspended.exit_code, 1);
  EXPECT_NE(suspended.err.find("not supported by the propolis backend"), std::string::npos) << suspended.err;

  ProcessResult stopped = run({"stop", "web"});
  ASSERT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_EQ(state("web"), "stopped");
  ProcessResult no_console = run({"console", "web"});
  EXPECT_EQ(no_console.exit_code, 1);
  EXPECT_NE(no_console.err.find("is stopped"), std::string::npos) << no_console.err;
  ProcessResult no_log = run({"log", "web"});
  EXPECT_EQ(no_log.exit_code, 1);
  EXPECT_NE(no_log.err.find("is not running"), std::string::npos) << no_log.err;
  EXPECT_EQ(zone_state("web"), "installed") << "stop halts the zone";

  // Start again: the zone boots anew, and with it a fresh propolis-server
  // that holds no instance until vmctl ensures one.
  ProcessResult again = run({"start", "web"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(state("web"), "running");
  std::string events = slurp(server_records("web") / "events.jsonl");
  std::size_t listened = 0;
  for (auto at = events.find("\"listening\""); at != std::string::npos; at = events.find("\"listening\"", at + 1)) ++listened;
  EXPECT_EQ(listened, 2u) << "one server per zone boot: " << events;
  EXPECT_NE(run({"log", "web", "--console"}).out.find("login: "), std::string::npos);
  ASSERT_EQ(run({"stop", "web"}).exit_code, 0);
  ASSERT_EQ(run({"destroy", "web"}).exit_code, 0);
  EXPECT_EQ(tool({"zfs", "list", "-H", "-o", "name", "rpool/vms/web"}).exit_code, 1) << "the clone is gone";
  EXPECT_EQ(tool({"zoneadm", "-z", "vmctl-web", "list", "-p"}).exit_code, 1) << "the zone is gone";
}

// A VNIC guest's address: the static one it is given (its seed's
// network-config names the NIC by the MAC vmctl gave its VNIC, which viona
// shows the guest), and without one a guest_ip error that says to use --ip.
TEST_F(PropolisCliTest, AStaticAddressIsTheSshHostAndWithoutOneSshSaysToGiveOne) {
  std::vector<std::string> fixed = create_args("web");
  fixed.insert(fixed.end(), {"--ip", "192.0.2.10/24", "--gateway", "192.0.2.1", "--dns", "192.0.2.53"});
  ProcessResult created = run(fixed);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  ProcessResult status = run({"status", "web", "--json"});
  EXPECT_EQ(nlohmann::json::parse(status.out).at("ssh_host"), "192.0.2.10") << status.out;
  const std::string seed = slurp(data_ / "vms" / "web" / "seed.iso");
  // dladm prints a MAC without leading zeros (2:8:20:a:b:c).
  std::string shown = tool({"dladm", "show-vnic", "-p", "-o", "macaddress", "vmctl_web_0"}).out;
  std::string mac;
  for (std::size_t start = 0; start < shown.size();) {
    std::size_t end = std::min(shown.find_first_of(":\n", start), shown.size());
    std::string octet = shown.substr(start, end - start);
    if (octet.empty()) break;
    mac += (mac.empty() ? "" : ":") + std::string(octet.size() == 1 ? "0" : "") + octet;
    start = end + 1;
  }
  ASSERT_EQ(mac.size(), 17u) << shown;
  EXPECT_EQ(mac.rfind("02:", 0), 0u) << "locally administered: " << mac;
  EXPECT_NE(seed.find("macaddress: \"" + mac + "\""), std::string::npos) << mac;
  EXPECT_NE(seed.find("\"192.0.2.10/24\""), std::string::npos);
  EXPECT_NE(seed.find("via: \"192.0.2.1\""), std::string::npos);
  ASSERT_EQ(run({"destroy", "web"}).exit_code, 0);

  std::vector<std::string> dhcp = create_args("sad");
  dhcp.push_back("--start");
  ASSERT_EQ(run(dhcp).exit_code, 0);
  ProcessResult ssh = run({"ssh", "sad", "--", "true"});
  EXPECT_EQ(ssh.exit_code, 1) << ssh.out << ssh.err;
  EXPECT_EQ(ssh.err.rfind("error[vm_manager::backend::unsupported]: the address of VM 'sad' is not known", 0), 0u)
      << ssh.err;
  EXPECT_NE(ssh.err.find("create it with --ip ADDR/PREFIX"), std::string::npos) << ssh.err;
  ASSERT_EQ(run({"destroy", "sad"}).exit_code, 0);
}

// A running VM whose vm.json is the previous release's
// (tests/store/fixtures/format-1/propolis.vm.json): its zone and instance
// come from a create of today, its record from the fixture.
TEST_F(PropolisCliTest, AVmOfRecordFormat1IsStoppedAndDestroyed) {
  ASSERT_NO_FATAL_FAILURE(expect_ok(run(create_args("web"))));
  ASSERT_NO_FATAL_FAILURE(expect_ok(run({"start", "web"})));
  std::string record = slurp(VMCTL_SOURCE_DIR "/tests/store/fixtures/format-1/propolis.vm.json");
  for (const auto& [marker, value] : std::vector<std::pair<std::string, std::string>>{
           {"@DATA_DIR@", data_.str()},
           {"127.0.0.1:@PROPOLIS_PORT@", api_ip_ + ":" + env_["VMCTL_PROPOLIS_PORT"]},
           {"127.0.0.1/8", api_ip_ + "/8"}}) {
    for (auto at = record.find(marker); at != std::string::npos; at = record.find(marker, at)) {
      record.replace(at, marker.size(), value);
    }
  }
  std::ofstream(data_ / "vms" / "web" / "vm.json", std::ios::trunc) << record;
  EXPECT_EQ(state("web"), "running");
  ProcessResult stopped = run({"stop", "web"});
  ASSERT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_EQ(state("web"), "stopped");
  ASSERT_EQ(run({"destroy", "web"}).exit_code, 0);
  EXPECT_FALSE(fs::exists(data_ / "vms" / "web"));
  EXPECT_EQ(tool({"zoneadm", "-z", "vmctl-web", "list", "-p"}).exit_code, 1) << "the zone is gone";
}

// Propolis has no VNC listener: asking for one on TCP is refused, not
// silently ignored, before anything is made.
TEST_F(PropolisCliTest, TcpVncIsRefusedBeforeAnythingIsMade) {
  auto args = create_args("web");
  args.insert(args.end(), {"--vnc", "tcp"});
  ProcessResult r = run(args);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error[vm_manager::spec::invalid]: the propolis backend has no VNC listener"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("  help: "), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(data_ / "vms" / "web"));
}

TEST_F(PropolisCliTest, AToolFailingPartWayLeavesNothingBehind) {
  env_["VMCTL_FAKE_TOOLS_FAIL"] = "zoneadm:install";
  ProcessResult r = run(create_args("broken"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error[vm_manager::propolis::tool_failed]"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(data_ / "vms" / "broken"));
  std::string tools = slurp(data_ / "tools.log");
  EXPECT_NE(tools.find(R"(["zfs", "destroy")"), std::string::npos) << "the clone was undone: " << tools;
  EXPECT_NE(tools.find(R"(["dladm", "delete-vnic")"), std::string::npos) << tools;
  EXPECT_EQ(tool({"zfs", "list", "-H", "-o", "name", "rpool/vms/broken"}).exit_code, 1);
}

TEST_F(PropolisCliTest, AServerErrorFailsStartAndHaltsTheZone) {
  server_options("--fail PUT:/instance:500");
  ASSERT_EQ(run(create_args("sad")).exit_code, 0);
  ProcessResult r = run({"start", "sad"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error[vm_manager::propolis::request_failed]"), std::string::npos) << r.err;
  EXPECT_NE(tool({"zoneadm", "-z", "vmctl-sad", "list", "-p"}).out.find(":installed:"), std::string::npos)
      << "the zone booted for the failed start was halted again";
  EXPECT_EQ(run({"destroy", "sad"}).exit_code, 0);
}

TEST_F(PropolisCliTest, AnOlderPropolisServerFailsStartWithAVersionMismatch) {
  server_options("--api-version 4.0.0");
  ASSERT_EQ(run(create_args("sad")).exit_code, 0);
  ProcessResult r = run({"start", "sad"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error[vm_manager::propolis::version_mismatch]: propolis-server at " + api_ip_ + ":"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("does not take API version 5.0.0, which vmctl speaks"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("server does not support this API version: 5.0.0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("  help: run a propolis-server that speaks API version 5.0.0"), std::string::npos) << r.err;
  EXPECT_NE(tool({"zoneadm", "-z", "vmctl-sad", "list", "-p"}).out.find(":installed:"), std::string::npos)
      << "the zone booted for the failed start was halted again";
  EXPECT_EQ(run({"destroy", "sad"}).exit_code, 0);
}

// The start timeout covers the zone's boot, the server's start and the
// instance's; the server here listens at once and its instance never runs,
// so the timeout is long enough to reach the server on a loaded machine and
// still ends the wait for the instance.
TEST_F(PropolisCliTest, AnInstanceThatNeverRunsTimesOut) {
  server_options("--listen-delay 0 --start-delay 600");
  ASSERT_EQ(run(create_args("slow")).exit_code, 0);
  env_["VMCTL_PROPOLIS_START_TIMEOUT"] = "10";
  ProcessResult r = run({"start", "slow"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error[vm_manager::propolis::timeout]"), std::string::npos) << r.err;
  EXPECT_EQ(run({"destroy", "slow"}).exit_code, 0);
}

// propolis-server allows 32 vCPUs (bhyve's VM_MAXCPU) and would only say so
// with a 500 at start; vmctl refuses at create.
TEST_F(PropolisCliTest, MoreVcpusThanPropolisAllowsAreRefusedBeforeAnyToolRuns) {
  auto args = create_args_with("big", "--vcpus", "33");
  expect_refused_before_any_tool(args, "big", "vcpus must be between 1 and 32 for a Propolis VM, not 33");
  // A server built for Helios takes up to 254, if configured so.
  env_["VMCTL_PROPOLIS_MAX_VCPUS"] = "254";
  ProcessResult r = run(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(run({"destroy", "big"}).exit_code, 0);
}

TEST_F(PropolisCliTest, MemoryBeyondPropolisAddressSpaceIsRefusedBeforeAnyToolRuns) {
  auto args = create_args_with("big", "--memory", "16776192");  // 16 TiB - 1 GiB: no room left for dev64
  expect_refused_before_any_tool(args, "big", "memory must be between 1 and 16776191 MB");
}

TEST_F(PropolisCliTest, AMissingServerOrBootromIsRefusedBeforeAnyToolRuns) {
  // A propolis folder of this test's own, mounted at /opt/oxide/propolis-server in the zones.
  const fs::path dir = data_ / "own-propolis";
  fs::create_directories(dir / "bin");
  fs::create_directories(dir / "firmware");
  std::ofstream(dir / "bin" / "propolis-server") << "#!/bin/sh\n";
  fs::permissions(dir / "bin" / "propolis-server", fs::perms::owner_all);
  env_["VMCTL_PROPOLIS_DIR"] = dir.string();

  expect_refused_before_any_tool(create_args("web"), "web",
                                 "bootrom /opt/oxide/propolis-server/firmware/OVMF_CODE.fd would be missing in the "
                                 "zone: " + (dir / "firmware" / "OVMF_CODE.fd").string() + " is not a file on this host");
  // The bootrom is a setting: a path in the zone.
  std::ofstream(dir / "firmware" / "OVMF_VARS.fd") << "rom";
  env_["VMCTL_PROPOLIS_BOOTROM"] = "/opt/oxide/propolis-server/firmware/OVMF_VARS.fd";
  ProcessResult created = run(create_args("web"));
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string layout = slurp(data_ / "vms" / "web" / "zone.json");
  EXPECT_NE(layout.find("\"bootrom\": \"/opt/oxide/propolis-server/firmware/OVMF_VARS.fd\""), std::string::npos)
      << layout;
  ASSERT_EQ(run({"destroy", "web"}).exit_code, 0);

  fs::permissions(dir / "bin" / "propolis-server", fs::perms::owner_read | fs::perms::owner_write);
  expect_refused_before_any_tool(create_args("web"), "web",
                                 "propolis-server /opt/oxide/propolis-server/bin/propolis-server would be missing in "
                                 "the zone: " + (dir / "bin" / "propolis-server").string() +
                                     " is not an executable file on this host");
}

// On an IPv6 API address propolis-server looks for Nexus in internal DNS at
// every ensure: create says so, once; on IPv4 it says nothing. The zone gets
// the address in brackets, quoted for zonecfg.
TEST_F(PropolisCliTest, AnIpv6ApiAddressIsConfiguredWithAWarning) {
  ProcessResult v4 = run(create_args("web"));
  ASSERT_EQ(v4.exit_code, 0) << v4.err;
  EXPECT_EQ(v4.err.find("IPv6"), std::string::npos) << v4.err;
  ASSERT_EQ(run({"destroy", "web"}).exit_code, 0);

  ProcessResult v6 = run(create_args_with("web", "--propolis-api", "fd00::5/64"));
  ASSERT_EQ(v6.exit_code, 0) << v6.err;
  const std::string warning = "warning: VM 'web': propolis-server on the IPv6 address [fd00::5]:";
  auto at = v6.err.find(warning);
  EXPECT_NE(at, std::string::npos) << v6.err;
  EXPECT_EQ(v6.err.find(warning, at + 1), std::string::npos) << "once: " << v6.err;
  EXPECT_NE(v6.err.find("an IPv4 API address avoids that delay"), std::string::npos) << v6.err;
  std::string zones = slurp(fs::path(env_["VMCTL_FAKE_TOOLS_STATE"]) / "state.json");
  EXPECT_NE(zones.find("\"[fd00::5]:"), std::string::npos) << zones;
  ASSERT_EQ(run({"destroy", "web"}).exit_code, 0);
}

// A zone halted under a running VM (by hand, or by the host going down)
// takes propolis-server and the guest with it: vmctl sees the VM stopped, and
// starts it again in a freshly booted zone.
TEST_F(PropolisCliTest, AZoneHaltedUnderARunningVmIsStoppedAndStartsAgain) {
  ASSERT_NO_FATAL_FAILURE(expect_ok(run(create_args("web"))));
  ASSERT_NO_FATAL_FAILURE(expect_ok(run({"start", "web"})));
  ASSERT_EQ(state("web"), "running");
  ProcessResult halted = tool({"zoneadm", "-z", "vmctl-web", "halt"});
  ASSERT_EQ(halted.exit_code, 0) << halted.err;
  EXPECT_EQ(state("web"), "stopped");
  ProcessResult again = run({"start", "web"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(state("web"), "running");
  EXPECT_NE(run({"log", "web", "--console"}).out.find("login: "), std::string::npos);
  ASSERT_EQ(run({"destroy", "web"}).exit_code, 0);
  EXPECT_EQ(tool({"zoneadm", "-z", "vmctl-web", "list", "-p"}).exit_code, 1) << "the zone is gone";
}

// An IPv6 API address goes through zonecfg quoted ("[::1]:PORT"; unquoted,
// zonecfg's lexer reads '[' as a list), the brand's init configures it, and
// propolis-server listens on it. A warning says why IPv4 is better.
TEST_F(PropolisCliTest, AnIpv6ApiAddressBootsAndRuns) {
  ProcessResult created = run(create_args("web", "::1/128"));
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string tools = slurp(data_ / "tools.log");
  ProcessResult started = run({"start", "web"});
  ASSERT_EQ(started.exit_code, 0) << started.err << slurp(state_dir() / "zones" / "vmctl-web" / "console.log");
  EXPECT_EQ(state("web"), "running");
  ProcessResult info = tool({"zonecfg", "-z", "vmctl-web", "info", "attr", "name=api-address"});
  EXPECT_NE(info.out.find("value: [::1]:" + env_["VMCTL_PROPOLIS_PORT"]), std::string::npos) << info.out;
  ASSERT_EQ(run({"destroy", "web"}).exit_code, 0);
}

// propolis-server gone from the propolis folder after create (the folder
// is mounted into the zone at boot): the brand's boot hook looks for it as
// the zone will see it, and refuses to boot; start fails with its one line,
// quoted, and the zone is left installed.
TEST_F(PropolisCliTest, AServerMissingInTheZoneFailsTheBootClearly) {
  ASSERT_NO_FATAL_FAILURE(expect_ok(run(create_args("web"))));
  fs::remove(data_ / "propolis" / "bin" / "propolis-server");
  ProcessResult r = run({"start", "web"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error[vm_manager::propolis::tool_failed]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("propolis-server /opt/oxide/propolis-server/bin/propolis-server is not an executable file in the zone"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(zone_state("web"), "installed");
  ASSERT_EQ(run({"destroy", "web"}).exit_code, 0);
}

// Issue 16 on propolis through vmctl: a data disk as a zvol of its own,
// snapshots of the stopped VM's volumes (disks only), and their refusals
// while it runs.
TEST_F(PropolisCliTest, DataDisksAndSnapshotsOfTheStoppedVm) {
  std::vector<std::string> args = create_args("web");
  args.insert(args.end(), {"--data-disk", "2:scratch"});
  ASSERT_NO_FATAL_FAILURE(expect_ok(run(args)));
  nlohmann::json status = nlohmann::json::parse(run({"status", "web", "--json"}).out);
  EXPECT_EQ(status.at("data_disks"), nlohmann::json::parse(R"([{"name":"scratch","size_gb":2}])")) << status;
  std::string human = run({"status", "web"}).out;
  EXPECT_NE(human.find("data disks: scratch (2 GB)\n"), std::string::npos) << human;
  EXPECT_THAT(datasets_named("web"), ::testing::UnorderedElementsAre("rpool/vms/web", "rpool/vm-disks/web",
                                                                     "rpool/vm-disks/web/scratch"));

  ProcessResult created = run({"snapshot", "create", "web", "s1"});
  ASSERT_NO_FATAL_FAILURE(expect_ok(created));
  EXPECT_EQ(created.out, "Created snapshot 's1' of VM 'web' (disks only)\n");
  EXPECT_THAT(datasets_named("@s1"), ::testing::UnorderedElementsAre("rpool/vms/web@s1", "rpool/vm-disks/web/scratch@s1"));
  nlohmann::json all = nlohmann::json::parse(run({"snapshot", "list", "web", "--json"}).out);
  ASSERT_EQ(all.size(), 1u) << all;
  EXPECT_EQ(all[0].at("name"), "s1");
  EXPECT_EQ(all[0].at("has_ram"), false);
  EXPECT_EQ(all[0].at("disk_bytes"), 10ull << 30);
  EXPECT_GT(all[0].at("created_unix").get<std::int64_t>(), 1600000000);
  std::string table = run({"snapshot", "list", "web"}).out;
  EXPECT_EQ(table.substr(0, table.find('\n')), "NAME  CREATED                  DISK      RAM  VM CLOCK") << table;
  EXPECT_NE(table.find("\ns1  "), std::string::npos) << table;
  EXPECT_NE(table.find(" UTC  10.0 GiB  no   -\n"), std::string::npos) << table;

  // Running: propolis-server cannot save the guest's RAM, and the disks
  // are taken and put back only while the VM is stopped.
  ASSERT_NO_FATAL_FAILURE(expect_ok(run({"start", "web"})));
  ProcessResult with_ram = run({"snapshot", "create", "web", "s2"});
  expect_error(with_ram, "snapshot::unsupported");
  EXPECT_NE(with_ram.err.find("cannot take a snapshot with RAM of VM 'web'"), std::string::npos) << with_ram.err;
  EXPECT_NE(with_ram.err.find("  help: stop the VM and take a snapshot of its disks\n"), std::string::npos)
      << with_ram.err;
  ProcessResult disks_only = run({"snapshot", "create", "web", "s2", "--no-memory"});
  expect_error(disks_only, "snapshot::needs_stopped");
  EXPECT_NE(disks_only.err.find("it is running"), std::string::npos) << disks_only.err;
  EXPECT_NE(disks_only.err.find("  try: 'vmctl stop web', then take the snapshot\n"), std::string::npos)
      << disks_only.err;
  ProcessResult restore_running = run({"snapshot", "restore", "web", "s1"});
  expect_error(restore_running, "snapshot::needs_stopped");
  EXPECT_NE(restore_running.err.find("  try: 'vmctl stop web', then restore the snapshot\n"), std::string::npos)
      << restore_running.err;
  EXPECT_EQ(state("web"), "running") << "a refusal leaves the VM as it was";
  EXPECT_THAT(datasets_named("@"), ::testing::UnorderedElementsAre("rpool/images/debian@base", "rpool/vms/web@s1",
                                                                    "rpool/vm-disks/web/scratch@s1"));

  ASSERT_NO_FATAL_FAILURE(expect_ok(run({"stop", "web"})));
  ProcessResult restored = run({"snapshot", "restore", "web", "s1"});
  ASSERT_NO_FATAL_FAILURE(expect_ok(restored));
  EXPECT_EQ(restored.out, "Restored VM 'web' to snapshot 's1'; it is stopped\n");
  std::string tools = slurp(data_ / "tools.log");
  EXPECT_NE(tools.find(R"(["zfs", "rollback", "-r", "rpool/vms/web@s1"])"), std::string::npos) << tools;
  EXPECT_NE(tools.find(R"(["zfs", "rollback", "-r", "rpool/vm-disks/web/scratch@s1"])"), std::string::npos) << tools;
  ASSERT_NO_FATAL_FAILURE(expect_ok(run({"start", "web"})));  // from the restored volumes
  ASSERT_NO_FATAL_FAILURE(expect_ok(run({"stop", "web"})));

  ProcessResult removed = run({"snapshot", "rm", "web", "s1"});
  ASSERT_NO_FATAL_FAILURE(expect_ok(removed));
  EXPECT_EQ(removed.out, "Deleted snapshot 's1' of VM 'web'\n");
  EXPECT_EQ(nlohmann::json::parse(run({"snapshot", "list", "web", "--json"}).out), nlohmann::json::array());
  EXPECT_THAT(datasets_named("@"), ::testing::ElementsAre("rpool/images/debian@base"));

  // Snapshots go with the VM, as do its volumes.
  ASSERT_NO_FATAL_FAILURE(expect_ok(run({"snapshot", "create", "web", "last"})));
  ASSERT_NO_FATAL_FAILURE(expect_ok(run({"destroy", "web"})));
  EXPECT_THAT(datasets_named("web"), ::testing::IsEmpty());
  EXPECT_THAT(datasets_named("@"), ::testing::ElementsAre("rpool/images/debian@base"));
}

// restart --hard asks propolis-server for a reboot of the running instance:
// the guest boots again on the same console. A plain restart stops the VM
// (its zone halts) and starts it in a freshly booted zone.
TEST_F(PropolisCliTest, RestartHardAndPlain) {
  ASSERT_NO_FATAL_FAILURE(expect_ok(run(create_args("web"))));
  ProcessResult not_running = run({"restart", "web", "--hard"});
  expect_error(not_running, "vm::invalid_state");
  ASSERT_NO_FATAL_FAILURE(expect_ok(run({"start", "web"})));
  auto deadline = std::chrono::steady_clock::now() + 60s;  // catches hangs only
  while (boots_on_console("web") < 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(200ms);
  ASSERT_EQ(boots_on_console("web"), 1u);

  ProcessResult hard = run({"restart", "web", "--hard"});
  ASSERT_NO_FATAL_FAILURE(expect_ok(hard));
  EXPECT_EQ(hard.out, "Reset VM 'web'\n");
  EXPECT_EQ(state("web"), "running");
  deadline = std::chrono::steady_clock::now() + 60s;
  while (boots_on_console("web") < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(200ms);
  EXPECT_EQ(boots_on_console("web"), 2u) << "the reset rebooted the guest, not the server";
  std::string requests = slurp(server_records("web") / "requests.jsonl");
  EXPECT_NE(requests.find("\"Reboot\""), std::string::npos) << requests;

  ProcessResult plain = run({"restart", "web"});
  ASSERT_NO_FATAL_FAILURE(expect_ok(plain));
  EXPECT_EQ(plain.out.rfind("Restarted VM 'web'\n", 0), 0u) << plain.out;
  EXPECT_EQ(state("web"), "running");
  std::string events = slurp(server_records("web") / "events.jsonl");
  std::size_t listened = 0;
  for (auto at = events.find("\"listening\""); at != std::string::npos; at = events.find("\"listening\"", at + 1)) ++listened;
  EXPECT_EQ(listened, 2u) << "the plain restart booted the zone, and a server, anew: " << events;
  EXPECT_EQ(ensures("web").size(), 2u);
  ASSERT_NO_FATAL_FAILURE(expect_ok(run({"destroy", "web"})));
}

// vmctl set on the stopped VM: the next start's instance spec has the new
// vCPUs and memory, the root volume grew; refused while it runs, and a
// smaller disk is refused.
TEST_F(PropolisCliTest, SetResizesTheStoppedVmForItsNextStart) {
  std::vector<std::string> args = create_args_with("web", "--vcpus", "1");
  *(std::find(args.begin(), args.end(), "--memory") + 1) = "1024";
  ASSERT_NO_FATAL_FAILURE(expect_ok(run(args)));
  ProcessResult set = run({"set", "web", "--vcpus", "2", "--memory", "2048", "--disk", "20"});
  ASSERT_NO_FATAL_FAILURE(expect_ok(set));
  EXPECT_EQ(set.out, "Resized VM 'web': vcpus 1 -> 2, memory 1024 MB -> 2048 MB, disk image size -> 20 GB "
                     "(from its next start)\n");
  EXPECT_EQ(fs::file_size(state_dir() / "zvol/rdsk/rpool/vms/web"), 20ull << 30) << "zfs set volsize";
  nlohmann::json status = nlohmann::json::parse(run({"status", "web", "--json"}).out);
  EXPECT_EQ(status.at("vcpus"), 2) << status;
  EXPECT_EQ(status.at("memory_mb"), 2048) << status;

  ASSERT_NO_FATAL_FAILURE(expect_ok(run({"start", "web"})));
  std::vector<nlohmann::json> sent = ensures("web");
  ASSERT_EQ(sent.size(), 1u);
  nlohmann::json board = sent.back()["init"]["value"]["spec"]["board"];
  EXPECT_EQ(board["cpus"], 2) << board;
  EXPECT_EQ(board["memory_mb"], 2048) << board;

  ProcessResult running = run({"set", "web", "--vcpus", "4"});
  expect_error(running, "resize::running");
  EXPECT_NE(running.err.find("'vmctl stop web'"), std::string::npos) << running.err;
  ASSERT_NO_FATAL_FAILURE(expect_ok(run({"stop", "web"})));
  ProcessResult shrink = run({"set", "web", "--disk", "15"});
  expect_error(shrink, "resize::shrink");
  EXPECT_NE(shrink.err.find("from 20 GB to 15 GB"), std::string::npos) << shrink.err;
  EXPECT_EQ(fs::file_size(state_dir() / "zvol/rdsk/rpool/vms/web"), 20ull << 30) << "left as it was";
  EXPECT_EQ(nlohmann::json::parse(run({"status", "web", "--json"}).out).at("vcpus"), 2);
  ASSERT_NO_FATAL_FAILURE(expect_ok(run({"destroy", "web"})));
  EXPECT_THAT(datasets_named("web"), ::testing::IsEmpty());
}

TEST_F(PropolisCliTest, OnLinuxWithoutEmulationPropolisIsUnavailable) {
  env_.erase("VMCTL_PROPOLIS_EMULATE");
  ProcessResult r = run(create_args("nope"));
  EXPECT_NE(r.err.find("error[vm_manager::backend::not_available]"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vmctl::test

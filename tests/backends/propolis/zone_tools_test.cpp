// ZoneTools against the fake illumos tools (tests/propolis/fake-tools): the
// exact argv sequences, the zonecfg command file (also fed to the nebula-vm
// brand's boot hook), name checks, and the undo of every failing create step.
#include "backends/propolis/zone_tools.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "os/process.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::propolis {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using vmctl::test::TempDir;
using Argv = std::vector<std::string>;

const fs::path kFakeTools = fs::path(VMCTL_SOURCE_DIR) / "tests/propolis/fake-tools";
// Only the zone simulator's own stand-in, not the fake server: booting a zone
// runs the brand's init, which execs it (tests/propolis/sim-testdata/).
const fs::path kStandInServer = fs::path(VMCTL_SOURCE_DIR) / "tests/propolis/sim-testdata/propolis-server";

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the fake tools by absolute path with their environment, and keeps a
// copy of every zonecfg command file (ZoneTools removes it afterwards).
class FakeToolsRunner : public CommandRunner {
 public:
  os::ProcessOutput run(const Argv& argv, std::chrono::milliseconds timeout) override {
    os::ProcessSpec spec;
    spec.argv = argv;
    spec.argv[0] = (kFakeTools / argv.at(0)).string();
    spec.env_overrides = env;
    if (argv.size() == 5 && argv[0] == "zonecfg" && argv[3] == "-f") {
      zonecfg_paths.push_back(argv[4]);
      zonecfg_files.push_back(read_file(argv[4]));
    }
    return os::run_process(spec, timeout);
  }

  std::map<std::string, std::string> env;
  std::vector<std::string> zonecfg_files;
  std::vector<std::string> zonecfg_paths;
};

// Canned answers, for output the fakes never print.
class ScriptedRunner : public CommandRunner {
 public:
  os::ProcessOutput run(const Argv& argv, std::chrono::milliseconds) override {
    calls.push_back(argv);
    return next;
  }
  os::ProcessOutput next;
  std::vector<Argv> calls;
};

class ZoneToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runner_.env = {{"VMCTL_FAKE_TOOLS_STATE", (tmp_ / "state").string()},
                   {"VMCTL_FAKE_TOOLS_LOG", log_path().string()}};
    // The image the VMs are cloned from, made before the log starts.
    ASSERT_TRUE(runner_.run({"zfs", "create", "-p", "-V", "10G", "rpool/images/debian"}, 30s).ok());
    ASSERT_TRUE(runner_.run({"zfs", "snapshot", "rpool/images/debian@base"}, 30s).ok());
    fs::remove(log_path());
  }

  // A booted zone's processes die with the test, by pid, whatever happened.
  void TearDown() override {
    os::ProcessSpec spec;
    spec.argv = {"python3", (kFakeTools / "zone_sim.py").string(), "kill-all", (tmp_ / "state").string()};
    os::run_process(spec, 60s);
  }

  fs::path log_path() const { return tmp_ / "calls.log"; }

  static ZoneOptions options() {
    ZoneOptions o;
    o.snapshot = "base";
    o.disk_gb = 20;
    o.physical_link = "net0";
    o.api_address = "192.168.50.10/24";
    return o;
  }

  ZoneLayout layout() const {
    ZoneOptions o = options();
    o.zones_root = (tmp_ / "zones").string();
    return make_zone_layout("web", "rpool", "debian", o);
  }

  // A layout whose zone can boot in the simulator: the propolis folder the
  // zone mounts holds the stand-in server and a bootrom.
  ZoneLayout booting_layout() const {
    fs::path dir = tmp_ / "propolis";
    fs::create_directories(dir / "bin");
    fs::create_directories(dir / "firmware");
    fs::copy_file(kStandInServer, dir / "bin/propolis-server", fs::copy_options::overwrite_existing);
    std::ofstream(dir / "firmware/OVMF_CODE.fd") << "rom";
    ZoneLayout l = layout();
    l.propolis_dir = dir.string();
    return l;
  }

  // The logged argv lines; a zonecfg command file's path becomes "FILE".
  std::vector<Argv> calls() const {
    std::vector<Argv> out;
    std::ifstream in(log_path());
    for (std::string line; std::getline(in, line);) {
      Argv argv = nlohmann::json::parse(line).get<Argv>();
      if (argv.size() == 5 && argv[0] == "zonecfg" && argv[3] == "-f") argv[4] = "FILE";
      out.push_back(argv);
    }
    return out;
  }

  nlohmann::json fake_state() const { return nlohmann::json::parse(read_file(tmp_ / "state" / "state.json")); }

  // Only the image and its snapshot (and the parents zfs -p made) remain.
  void expect_clean_host() const {
    auto st = fake_state();
    std::set<std::string> datasets;
    for (auto& [name, _] : st["datasets"].items()) datasets.insert(name);
    EXPECT_EQ(datasets.count("rpool/vms/web"), 0u);
    EXPECT_TRUE(st["vnics"].empty()) << st["vnics"].dump();
    EXPECT_TRUE(st["zones"].empty()) << st["zones"].dump();
  }

  TempDir tmp_;
  FakeToolsRunner runner_;
  ZoneTools tools_{runner_, 30s};
};

const Argv kClone{"zfs", "clone", "-p", "rpool/images/debian@base", "rpool/vms/web"};
const Argv kVolsize{"zfs", "set", "volsize=20G", "rpool/vms/web"};
const Argv kVnic0{"dladm", "create-vnic", "-l", "net0", "vmctl_web_0"};
const Argv kVnicApi{"dladm", "create-vnic", "-l", "net0", "vmctl_web_api0"};
const Argv kZonecfg{"zonecfg", "-z", "vmctl-web", "-f", "FILE"};
const Argv kInstall{"zoneadm", "-z", "vmctl-web", "install"};
const Argv kList{"zoneadm", "-z", "vmctl-web", "list", "-p"};
const Argv kHalt{"zoneadm", "-z", "vmctl-web", "halt"};
const Argv kUninstall{"zoneadm", "-z", "vmctl-web", "uninstall", "-F"};
const Argv kDelete{"zonecfg", "-z", "vmctl-web", "delete", "-F"};
const Argv kDeleteApi{"dladm", "delete-vnic", "vmctl_web_api0"};
const Argv kDelete0{"dladm", "delete-vnic", "vmctl_web_0"};
const Argv kDestroy{"zfs", "destroy", "-r", "rpool/vms/web"};

TEST_F(ZoneToolsTest, CreateRunsTheToolsInOrder) {
  tools_.create(layout());
  EXPECT_THAT(calls(), ElementsAre(kClone, kVolsize, kVnic0, kVnicApi, kZonecfg, kInstall));
  EXPECT_EQ(tools_.zone_state("vmctl-web"), "installed");
  auto st = fake_state();
  EXPECT_EQ(st["datasets"]["rpool/vms/web"]["origin"], "rpool/images/debian@base");
  EXPECT_EQ(st["zones"]["vmctl-web"]["brand"], "nebula-vm");
  EXPECT_EQ(st["zones"]["vmctl-web"]["ip-type"], "exclusive");
  EXPECT_EQ(st["vnics"].size(), 2u);
}

TEST_F(ZoneToolsTest, CreateWithoutDiskSizeKeepsTheImageSize) {
  ZoneLayout l = layout();
  l.disk_gb.reset();
  tools_.create(l);
  EXPECT_THAT(calls(), ElementsAre(kClone, kVnic0, kVnicApi, kZonecfg, kInstall));
}

// The guest VNICs get the MACs vmctl chose (so the seed can name the NIC);
// the API VNIC, which the guest never sees, keeps dladm's choice.
TEST_F(ZoneToolsTest, GuestVnicsGetTheMacsVmctlChose) {
  ZoneLayout l = layout();
  l.guest_macs = {guest_mac("f113f180-f055-4194-987c-2a84876ba1fc", 0)};
  tools_.create(l);
  const Argv with_mac{"dladm", "create-vnic", "-l", "net0", "-m", l.guest_macs[0], "vmctl_web_0"};
  EXPECT_THAT(calls(), ElementsAre(kClone, kVolsize, with_mac, kVnicApi, kZonecfg, kInstall));
}

TEST(ZoneToolsNames, GuestMacsAreLocalUnicastStableAndDifferPerVmAndNic) {
  const std::string id = "f113f180-f055-4194-987c-2a84876ba1fc";
  std::string mac = guest_mac(id, 0);
  EXPECT_THAT(mac, testing::MatchesRegex("02(:[0-9a-f][0-9a-f]){5}"));
  EXPECT_EQ(guest_mac(id, 0), mac);
  EXPECT_NE(guest_mac(id, 1), mac);
  EXPECT_NE(guest_mac("6d0e2a52-6e0b-4a57-9a43-0b1f3c1c2d9e", 0), mac);
}

TEST_F(ZoneToolsTest, GuestMacsThatDoNotFitAreRefusedBeforeAnyToolRuns) {
  ZoneLayout l = layout();
  l.guest_macs = {"02:00:00:00:00:0G"};
  EXPECT_THROW(tools_.create(l), vm_manager::Error);
  l.guest_macs = {guest_mac("x", 0), guest_mac("x", 1)};  // two MACs for one NIC
  EXPECT_THROW(tools_.create(l), vm_manager::Error);
  EXPECT_TRUE(calls().empty());
}

TEST_F(ZoneToolsTest, ZonecfgCommandFileIsWhatTheBrandWants) {
  ZoneLayout l = layout();
  tools_.create(l);
  // Every value in double quotes (zonecfg_lex.l: unquoted, '[' opens a list).
  std::string expected = "create -b\n"
                         "set brand=\"nebula-vm\"\n"
                         "set zonepath=\"" + l.zonepath + "\"\n"
                         "set ip-type=\"exclusive\"\n"
                         "set autoboot=\"false\"\n"
                         "add net\n\tset physical=\"vmctl_web_0\"\nend\n"
                         "add net\n\tset physical=\"vmctl_web_api0\"\n\tset allowed-address=\"192.168.50.10/24\"\nend\n"
                         "add device\n\tset match=\"/dev/zvol/rdsk/rpool/vms/web\"\nend\n"
                         "add fs\n\tset dir=\"/opt/oxide/propolis-server\"\n\tset special=\"/opt/oxide/propolis-server\"\n"
                         "\tset type=\"lofs\"\n\tadd options \"ro\"\nend\n"
                         "add attr\n\tset name=\"bootrom\"\n\tset type=\"string\"\n"
                         "\tset value=\"/opt/oxide/propolis-server/firmware/OVMF_CODE.fd\"\nend\n"
                         "add attr\n\tset name=\"api-address\"\n\tset type=\"string\"\n"
                         "\tset value=\"192.168.50.10:12400\"\nend\n"
                         "add attr\n\tset name=\"api-vnic\"\n\tset type=\"string\"\n\tset value=\"vmctl_web_api0\"\nend\n"
                         "commit\n";
  EXPECT_EQ(zonecfg_command_file(l), expected);
  ASSERT_EQ(runner_.zonecfg_files.size(), 1u);
  EXPECT_EQ(runner_.zonecfg_files[0], expected);
  // The temp file is gone once zonecfg has read it.
  ASSERT_EQ(runner_.zonecfg_paths.size(), 1u);
  EXPECT_FALSE(fs::exists(runner_.zonecfg_paths[0]));
}

TEST_F(ZoneToolsTest, ZonecfgUsesBracketsForIpv6ApiAddresses) {
  ZoneOptions o = options();
  o.api_address = "fd00::5/64";
  o.propolis_dir.clear();  // no lofs mount
  ZoneLayout l = make_zone_layout("web", "rpool", "debian", o);
  // Quoted: unquoted, zonecfg would read "[" as the start of a list.
  EXPECT_EQ(zonecfg_command_file(l),
            "create -b\n"
            "set brand=\"nebula-vm\"\n"
            "set zonepath=\"/zones/vmctl-web\"\n"
            "set ip-type=\"exclusive\"\n"
            "set autoboot=\"false\"\n"
            "add net\n\tset physical=\"vmctl_web_0\"\nend\n"
            "add net\n\tset physical=\"vmctl_web_api0\"\n\tset allowed-address=\"fd00::5/64\"\nend\n"
            "add device\n\tset match=\"/dev/zvol/rdsk/rpool/vms/web\"\nend\n"
            "add attr\n\tset name=\"bootrom\"\n\tset type=\"string\"\n"
            "\tset value=\"/opt/oxide/propolis-server/firmware/OVMF_CODE.fd\"\nend\n"
            "add attr\n\tset name=\"api-address\"\n\tset type=\"string\"\n\tset value=\"[fd00::5]:12400\"\nend\n"
            "add attr\n\tset name=\"api-vnic\"\n\tset type=\"string\"\n\tset value=\"vmctl_web_api0\"\nend\n"
            "commit\n");
}

// zonecfg's quoted values have no escapes: a '"' or a newline in any value
// is refused before any tool runs, whichever field holds it.
TEST_F(ZoneToolsTest, ValuesZonecfgCannotQuoteRunNothing) {
  auto expect_unquotable = [&](ZoneLayout l, std::string_view what) {
    try {
      tools_.create(l);
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::spec_invalid) << what;
      EXPECT_THAT(e.message(), HasSubstr(std::string(what) + " '"));
      EXPECT_THAT(e.message(), HasSubstr("cannot be given to zonecfg")) << e.message();
      EXPECT_FALSE(e.help().empty());
    }
  };
  ZoneLayout l = layout();
  l.bootrom = "/opt/rom\"fd";
  expect_unquotable(l, "bootrom");
  l = layout();
  l.bootrom = "/opt/rom\nadd fs";
  expect_unquotable(l, "bootrom");
  l = layout();
  l.propolis_dir = "/opt/\"p";
  expect_unquotable(l, "propolis-server folder");
  l = layout();
  l.zonepath += "\"";
  expect_unquotable(l, "zonepath");
  l = layout();
  l.api_address = "10.0.0.1/8\"";
  expect_unquotable(l, "API address");
  EXPECT_FALSE(fs::exists(log_path()));
}

TEST(ZoneLayoutPaths, PathsKeepToWhatZoneadmdsShellAndTheBootHookTake) {
  ZoneOptions o;
  o.snapshot = "base";
  o.physical_link = "net0";
  o.api_address = "10.0.0.5/8";
  auto bootrom_ok = [&](std::string rom) {
    o.bootrom = std::move(rom);
    try {
      make_zone_layout("web", "rpool", "debian", o);
      return true;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::spec_invalid);
      return false;
    }
  };
  EXPECT_TRUE(bootrom_ok("/opt/oxide/propolis-server/firmware/OVMF_CODE.fd"));
  EXPECT_TRUE(bootrom_ok("/opt/fw/ovmf-2024.05+1:a@b,c=d.fd"));
  for (const char* bad : {"rom.fd", "/a b", "/a\tb", "/a;b", "/a'b", "/a$b", "/a`b", "/a(b)", "/a[b]", "/a*b",
                          "/a|b", "/a&b", "/a>b", "/a\\b", "/a#b", "/a%b", "/a~b", ""}) {
    EXPECT_FALSE(bootrom_ok(bad)) << bad;
  }
}

// The brand's boot hook reads the configuration through (fake) zonecfg and
// accepts it: the attributes and the API VNIC's allowed-address agree.
TEST_F(ZoneToolsTest, BrandBootHookAcceptsTheConfiguration) {
  ZoneLayout l = layout();
  l.propolis_dir.clear();  // the hook then finds the binary under the zone root
  tools_.create(l);
  fs::path root = fs::path(l.zonepath) / "root";
  fs::create_directories(root / "etc");
  fs::create_directories(root / "opt/oxide/propolis-server/bin");
  fs::create_directories(root / "opt/oxide/propolis-server/firmware");
  std::ofstream(root / "opt/oxide/propolis-server/bin/propolis-server") << "#!/bin/sh\n";
  fs::permissions(root / "opt/oxide/propolis-server/bin/propolis-server", fs::perms::owner_all);
  std::ofstream(root / "opt/oxide/propolis-server/firmware/OVMF_CODE.fd") << "rom";
  os::ProcessSpec spec;
  spec.argv = {"sh", std::string(VMCTL_SOURCE_DIR) + "/brand/nebula-vm/boot", l.zone_name, l.zonepath};
  spec.env_overrides = runner_.env;
  spec.env_overrides["ZONECFG"] = (kFakeTools / "zonecfg").string();
  auto out = os::run_process(spec, 30s);
  ASSERT_TRUE(out.ok()) << out.err;
  std::string conf = read_file(root / "etc/nebula-vm.conf");
  EXPECT_THAT(conf, HasSubstr("API_ADDRESS='192.168.50.10:12400'"));
  EXPECT_THAT(conf, HasSubstr("API_PREFIX='24'"));
  EXPECT_THAT(conf, HasSubstr("API_VNIC='vmctl_web_api0'"));
  EXPECT_THAT(conf, HasSubstr("BOOTROM='/opt/oxide/propolis-server/firmware/OVMF_CODE.fd'"));
}

TEST_F(ZoneToolsTest, BootAndHaltRunZoneadm) {
  ZoneLayout l = booting_layout();
  tools_.create(l);
  fs::remove(log_path());
  tools_.boot(l);
  EXPECT_EQ(tools_.zone_state("vmctl-web"), "running");
  tools_.halt(l);
  EXPECT_EQ(tools_.zone_state("vmctl-web"), "installed");
  EXPECT_THAT(calls(), ElementsAre(Argv{"zoneadm", "-z", "vmctl-web", "boot"}, kList, kHalt, kList));
}

TEST_F(ZoneToolsTest, BootFailureNamesTheCommand) {
  try {
    tools_.boot(layout());  // never created
    FAIL() << "boot did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::propolis_tool_failed);
    EXPECT_THAT(e.message(), HasSubstr("zoneadm -z vmctl-web boot failed (exit status 1): \"zoneadm: vmctl-web: "
                                       "No such zone configured\""));
    EXPECT_FALSE(e.help().empty());
  }
}

TEST_F(ZoneToolsTest, DestroyTearsDownARunningVmAndIsIdempotent) {
  ZoneLayout l = booting_layout();
  tools_.create(l);
  tools_.boot(l);
  fs::remove(log_path());
  tools_.destroy(l);
  EXPECT_THAT(calls(), ElementsAre(kList, kHalt, kUninstall, kDelete, kDeleteApi, kDelete0, kDestroy));
  expect_clean_host();
  fs::remove(log_path());
  EXPECT_NO_THROW(tools_.destroy(l));
  EXPECT_THAT(calls(), ElementsAre(kList, kDeleteApi, kDelete0, kDestroy));
  expect_clean_host();
}

TEST_F(ZoneToolsTest, DestroyTriesEveryPartAndRaisesTheFirstFailure) {
  ZoneLayout l = layout();
  tools_.create(l);
  fs::remove(log_path());
  runner_.env["VMCTL_FAKE_TOOLS_FAIL"] = "zoneadm:uninstall";
  try {
    tools_.destroy(l);
    FAIL() << "destroy did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::propolis_tool_failed);
    EXPECT_THAT(e.message(), HasSubstr("zoneadm -z vmctl-web uninstall -F failed"));
  }
  EXPECT_THAT(calls(), ElementsAre(kList, kUninstall, kDeleteApi, kDelete0, kDestroy));
  runner_.env.erase("VMCTL_FAKE_TOOLS_FAIL");
  tools_.destroy(l);
  expect_clean_host();
}

struct FailCase {
  std::string fail;           // VMCTL_FAKE_TOOLS_FAIL
  std::vector<Argv> calls;    // everything run, the undo included
  std::string failed;         // the command the error names
};

class ZoneToolsCreateFailure : public ZoneToolsTest, public ::testing::WithParamInterface<FailCase> {};

TEST_P(ZoneToolsCreateFailure, UndoesEarlierStepsInReverseOrder) {
  runner_.env["VMCTL_FAKE_TOOLS_FAIL"] = GetParam().fail;
  try {
    tools_.create(layout());
    FAIL() << "create did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::propolis_tool_failed);
    EXPECT_THAT(e.message(), HasSubstr(GetParam().failed));
    EXPECT_THAT(e.message(), HasSubstr(" failed (exit status 1): \""));
    EXPECT_EQ(e.message().find('\n'), std::string::npos);
  }
  EXPECT_EQ(calls(), GetParam().calls);
  runner_.env.erase("VMCTL_FAKE_TOOLS_FAIL");
  expect_clean_host();
  EXPECT_EQ(tools_.zone_state("vmctl-web"), "");
}

INSTANTIATE_TEST_SUITE_P(
    EachStep, ZoneToolsCreateFailure,
    ::testing::Values(
        FailCase{"zfs:clone", {kClone}, "zfs clone -p rpool/images/debian@base rpool/vms/web"},
        FailCase{"zfs:set", {kClone, kVolsize, kDestroy}, "zfs set volsize=20G rpool/vms/web"},
        FailCase{"dladm:create-vnic:1", {kClone, kVolsize, kVnic0, kDestroy}, "dladm create-vnic -l net0 vmctl_web_0"},
        FailCase{"dladm:create-vnic:2",
                 {kClone, kVolsize, kVnic0, kVnicApi, kDelete0, kDestroy},
                 "dladm create-vnic -l net0 vmctl_web_api0"},
        FailCase{"zonecfg:-f",
                 {kClone, kVolsize, kVnic0, kVnicApi, kZonecfg, kDeleteApi, kDelete0, kDestroy},
                 "zonecfg -z vmctl-web -f /"},
        FailCase{"zoneadm:install",
                 {kClone, kVolsize, kVnic0, kVnicApi, kZonecfg, kInstall, kList, kDelete, kDeleteApi, kDelete0,
                  kDestroy},
                 "zoneadm -z vmctl-web install"}),
    [](const auto& row) {
      std::string name;
      for (char c : row.param.fail) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST_F(ZoneToolsTest, UndoFailuresAreLoggedNotThrownOverTheCause) {
  runner_.env["VMCTL_FAKE_TOOLS_FAIL"] = "zoneadm:install,zfs:destroy";
  try {
    tools_.create(layout());
    FAIL() << "create did not throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.message(), HasSubstr("zoneadm -z vmctl-web install failed"));
  }
  EXPECT_EQ(calls().back(), kDestroy);
  EXPECT_EQ(fake_state()["datasets"].count("rpool/vms/web"), 1u);  // the failed undo left it
}

TEST_F(ZoneToolsTest, BadNamesRunNothing) {
  auto expect_invalid = [](auto&& make, std::string_view what) {
    try {
      make();
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::spec_invalid) << what;
      EXPECT_THAT(e.message(), HasSubstr(std::string(what)));
      EXPECT_FALSE(e.help().empty());
    }
  };
  auto with = [](auto change) {
    return [change] {
      ZoneOptions o = options();
      std::string vm = "web", pool = "rpool", image = "debian";
      change(vm, pool, image, o);
      return make_zone_layout(vm, pool, image, o);
    };
  };
  expect_invalid(with([](auto& vm, auto&, auto&, auto&) { vm = "bad name"; }), "bad name");
  expect_invalid(with([](auto& vm, auto&, auto&, auto&) { vm = std::string(58, 'a'); }), "zone name");
  expect_invalid(with([](auto&, auto& pool, auto&, auto&) { pool = "1pool"; }), "1pool");
  expect_invalid(with([](auto&, auto& pool, auto&, auto&) { pool = "rpool/x"; }), "rpool/x");
  expect_invalid(with([](auto&, auto&, auto& image, auto&) { image = "deb@x"; }), "deb@x");
  expect_invalid(with([](auto&, auto&, auto& image, auto&) { image = "a//b"; }), "a//b");
  expect_invalid(with([](auto&, auto&, auto&, auto& o) { o.snapshot = ""; }), "snapshot");
  expect_invalid(with([](auto&, auto&, auto&, auto& o) { o.physical_link = "net"; }), "'net'");
  expect_invalid(with([](auto&, auto&, auto&, auto& o) { o.api_address = "10.0.0.1"; }), "10.0.0.1");
  expect_invalid(with([](auto&, auto&, auto&, auto& o) { o.api_address = "10.0.0.1/33"; }), "10.0.0.1/33");
  expect_invalid(with([](auto&, auto&, auto&, auto& o) { o.bootrom = "rom.fd"; }), "rom.fd");
  expect_invalid(with([](auto&, auto&, auto&, auto& o) { o.bootrom = "/a b"; }), "/a b");
  expect_invalid(with([](auto&, auto&, auto&, auto& o) { o.guest_nics = 0; }), "guest NICs");
  expect_invalid(with([](auto&, auto&, auto&, auto& o) { o.disk_gb = 0; }), "disk size");
  // A hand-made layout is checked again before anything runs.
  ZoneLayout l = layout();
  l.guest_vnics = {"vmctl-web0"};
  expect_invalid([&] { tools_.create(l); }, "vmctl-web0");
  expect_invalid([&] { tools_.destroy(l); }, "vmctl-web0");
  expect_invalid([&] { tools_.boot(l); }, "vmctl-web0");
  EXPECT_FALSE(fs::exists(log_path()));
}

TEST(ZoneToolsNames, LinkNamesFollowDladmRules) {
  EXPECT_TRUE(is_valid_link_name("net0"));
  EXPECT_TRUE(is_valid_link_name("e1000g0"));
  EXPECT_TRUE(is_valid_link_name("vmctl_web_12"));
  EXPECT_TRUE(is_valid_link_name(std::string(30, 'a') + "1"));
  EXPECT_FALSE(is_valid_link_name(std::string(31, 'a') + "1"));
  EXPECT_FALSE(is_valid_link_name("net"));
  EXPECT_FALSE(is_valid_link_name("0net0"));
  EXPECT_FALSE(is_valid_link_name("net01"));
  EXPECT_FALSE(is_valid_link_name("ne-t0"));
  EXPECT_FALSE(is_valid_link_name("net4294967295"));
  EXPECT_FALSE(is_valid_link_name(""));
}

TEST(ZoneToolsNames, VnicNamesAreReadableOrHashedAndAlwaysValid) {
  EXPECT_EQ(guest_vnic_name("web", 0), "vmctl_web_0");
  EXPECT_EQ(guest_vnic_name("web", 3), "vmctl_web_3");
  EXPECT_EQ(api_vnic_name("web"), "vmctl_web_api0");
  for (const std::string& vm : std::vector<std::string>{"My-VM", "db.1", std::string(63, 'x'), "a_b", std::string(20, 'y')}) {
    for (std::size_t i = 0; i < kMaxGuestNics; ++i) EXPECT_TRUE(is_valid_link_name(guest_vnic_name(vm, i))) << vm;
    EXPECT_TRUE(is_valid_link_name(api_vnic_name(vm))) << vm;
    EXPECT_EQ(api_vnic_name(vm), api_vnic_name(vm));  // stable
  }
  EXPECT_THAT(api_vnic_name("My-VM"), ::testing::MatchesRegex("vmctl[0-9a-f]{8}_api0"));
  EXPECT_NE(api_vnic_name("My-VM"), api_vnic_name("my-vm"));
}

TEST(ZoneToolsNames, ZoneAndDatasetNames) {
  EXPECT_TRUE(is_valid_zone_name("vmctl-web"));
  EXPECT_TRUE(is_valid_zone_name(std::string(63, 'z')));
  EXPECT_FALSE(is_valid_zone_name(std::string(64, 'z')));
  EXPECT_FALSE(is_valid_zone_name("-zone"));
  EXPECT_FALSE(is_valid_zone_name("global"));
  EXPECT_FALSE(is_valid_zone_name("SUNWzone"));
  EXPECT_TRUE(is_valid_dataset_name("rpool/vms/web-1.a_b:c"));
  EXPECT_FALSE(is_valid_dataset_name("rpool/vms/"));
  EXPECT_FALSE(is_valid_dataset_name("rpool/../x"));
  EXPECT_FALSE(is_valid_dataset_name("rpool/a b"));
  EXPECT_FALSE(is_valid_dataset_name("rpool/a@b"));
}

TEST(ZoneToolsState, ParsesZoneadmListLines) {
  ScriptedRunner runner;
  ZoneTools tools(runner, 5s);
  runner.next.exit_code = 0;
  runner.next.out = "3:vmctl-web:running:/zones/vmctl-web:0b2f…:nebula-vm:excl\n";
  EXPECT_EQ(tools.zone_state("vmctl-web"), "running");
  EXPECT_THAT(runner.calls, ElementsAre(Argv{"zoneadm", "-z", "vmctl-web", "list", "-p"}));
  runner.next.out = "-:vmctl-web:incomplete:/zones/a\\:b::nebula-vm:excl\n";
  EXPECT_EQ(tools.zone_state("vmctl-web"), "incomplete");
  runner.next.out = "1:other:running:/:x:y:z\n";
  EXPECT_THROW(tools.zone_state("vmctl-web"), Error);
  runner.next.out = "garbage\n";
  EXPECT_THROW(tools.zone_state("vmctl-web"), Error);
  runner.next = {};
  runner.next.exit_code = 1;
  runner.next.err = "zoneadm: vmctl-web: No such zone configured\n";
  EXPECT_EQ(tools.zone_state("vmctl-web"), "");
  runner.next.err = "zoneadm: permission denied\n";
  EXPECT_THROW(tools.zone_state("vmctl-web"), Error);
  runner.next = {};
  runner.next.timed_out = true;
  try {
    tools.zone_state("vmctl-web");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "zoneadm -z vmctl-web list -p timed out");
  }
}

}  // namespace
}  // namespace vm_manager::propolis

namespace vm_manager::propolis {
namespace {

// A layout with two data disks, under the VM's own folder of volumes.
ZoneLayout with_data_disks(ZoneLayout l) {
  l.data_disks = {{"db", "rpool/vm-disks/web/db", 2}, {"logs", "rpool/vm-disks/web/logs", 1}};
  return l;
}

TEST_F(ZoneToolsTest, DataDisksAreSparseVolumesInTheVmsOwnFolderAndZonecfgDevices) {
  ZoneOptions o = options();
  o.zones_root = (tmp_ / "zones").string();
  o.data_disks = {{"db", 2}, {"logs", 1}};
  ZoneLayout l = make_zone_layout("web", "rpool", "debian", o);
  ASSERT_EQ(l.data_disks.size(), 2u);
  EXPECT_EQ(l.data_disks[0].dataset, "rpool/vm-disks/web/db");
  EXPECT_THAT(disk_datasets(l), ElementsAre("rpool/vms/web", "rpool/vm-disks/web/db", "rpool/vm-disks/web/logs"));
  tools_.create(l);
  EXPECT_THAT(calls(), ElementsAre(kClone, kVolsize, Argv{"zfs", "create", "-p", "-s", "-V", "2G", "rpool/vm-disks/web/db"},
                                   Argv{"zfs", "create", "-p", "-s", "-V", "1G", "rpool/vm-disks/web/logs"}, kVnic0,
                                   kVnicApi, kZonecfg, kInstall));
  EXPECT_EQ(fake_state()["datasets"]["rpool/vm-disks/web/db"]["volsize"], 2ull << 30);
  EXPECT_THAT(runner_.zonecfg_files.at(0),
              HasSubstr("add device\n\tset match=\"/dev/zvol/rdsk/rpool/vms/web\"\nend\n"
                        "add device\n\tset match=\"/dev/zvol/rdsk/rpool/vm-disks/web/db\"\nend\n"
                        "add device\n\tset match=\"/dev/zvol/rdsk/rpool/vm-disks/web/logs\"\nend\n"));
  fs::remove(log_path());
  tools_.destroy(l);
  EXPECT_THAT(calls(), ElementsAre(kList, kUninstall, kDelete, kDeleteApi, kDelete0, kDestroy,
                                   Argv{"zfs", "destroy", "-r", "rpool/vm-disks/web"}));
  auto st = fake_state();
  for (auto& [name, _] : st["datasets"].items()) EXPECT_THAT(name, Not(HasSubstr("web"))) << name;
}

// A VM named like another VM's data disk folder gets different volumes.
TEST(ZoneToolsNames, DataDiskNamesCannotMeetAnotherVmsVolumes) {
  ZoneOptions o;
  o.snapshot = "base";
  o.physical_link = "net0";
  o.api_address = "192.168.50.10/24";
  o.data_disks = {{"d1", 1}};
  ZoneLayout a = make_zone_layout("a", "rpool", "debian", o);
  ZoneLayout dotted = make_zone_layout("a.d1", "rpool", "debian", o);
  ZoneLayout dashed = make_zone_layout("a-d1", "rpool", "debian", o);
  std::set<std::string> all;
  for (const auto* l : {&a, &dotted, &dashed})
    for (const auto& ds : disk_datasets(*l)) EXPECT_TRUE(all.insert(ds).second) << ds;
  o.data_disks = {{"bad/name", 1}};
  EXPECT_THROW(make_zone_layout("a", "rpool", "debian", o), Error);
  o.data_disks = {{std::string(kMaxDataDiskNameLength + 1, 'd'), 1}};
  EXPECT_THROW(make_zone_layout("a", "rpool", "debian", o), Error);
  o.data_disks = {{std::string(kMaxDataDiskNameLength, 'd'), 1}};
  EXPECT_NO_THROW(make_zone_layout("a", "rpool", "debian", o));
  o.data_disks = {{"d", 0}};
  EXPECT_THROW(make_zone_layout("a", "rpool", "debian", o), Error);
  o.data_disks.assign(kMaxDataDisks + 1, DataDisk{"d", 1});
  EXPECT_THROW(make_zone_layout("a", "rpool", "debian", o), Error);
}

TEST_F(ZoneToolsTest, UndoOfAFailedCreateRemovesTheDataDisks) {
  ZoneLayout l = with_data_disks(layout());
  runner_.env["VMCTL_FAKE_TOOLS_FAIL"] = "dladm:create-vnic";
  EXPECT_THROW(tools_.create(l), Error);
  runner_.env.erase("VMCTL_FAKE_TOOLS_FAIL");
  auto st = fake_state();
  for (auto& [name, _] : st["datasets"].items()) EXPECT_THAT(name, Not(HasSubstr("web"))) << name;
}

TEST_F(ZoneToolsTest, SnapshotsCoverEveryVolumeInOneCall) {
  ZoneLayout l = with_data_disks(layout());
  tools_.create(l);
  fs::remove(log_path());
  tools_.snapshot(l, "s1");
  EXPECT_THAT(calls(), ElementsAre(Argv{"zfs", "snapshot", "rpool/vms/web@s1", "rpool/vm-disks/web/db@s1",
                                        "rpool/vm-disks/web/logs@s1"}));
  try {
    tools_.snapshot(l, "s1");
    FAIL() << "a second s1 was taken";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::snapshot_already_exists);
    EXPECT_THAT(e.message(), HasSubstr("cannot create snapshot 'rpool/vms/web@s1': dataset already exists"));
  }
  tools_.set_volsize("rpool/vms/web", 30);
  EXPECT_EQ(tools_.volsize("rpool/vms/web"), 30ull << 30);
  tools_.snapshot(l, "s2");
  auto list = tools_.snapshots("rpool/vms/web");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "s1");
  EXPECT_EQ(list[0].volsize, 20ull << 30);
  EXPECT_EQ(list[1].name, "s2");
  EXPECT_EQ(list[1].volsize, 30ull << 30);
  EXPECT_LT(list[0].createtxg, list[1].createtxg);
  EXPECT_GT(list[0].creation, 1600000000);

  fs::remove(log_path());
  tools_.rollback(l, "s1");
  EXPECT_THAT(calls(), ElementsAre(Argv{"zfs", "rollback", "-r", "rpool/vms/web@s1"},
                                   Argv{"zfs", "rollback", "-r", "rpool/vm-disks/web/db@s1"},
                                   Argv{"zfs", "rollback", "-r", "rpool/vm-disks/web/logs@s1"}));
  EXPECT_EQ(tools_.volsize("rpool/vms/web"), 20ull << 30);
  list = tools_.snapshots("rpool/vms/web");  // -r destroyed the later one
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "s1");
  EXPECT_TRUE(tools_.snapshots("rpool/vm-disks/web/db").size() == 1u);

  tools_.destroy_snapshot(l, "s1");
  EXPECT_TRUE(tools_.snapshots("rpool/vms/web").empty());
  EXPECT_TRUE(tools_.snapshots("rpool/vm-disks/web/logs").empty());
  try {
    tools_.rollback(l, "s1");
    FAIL() << "rolled back to a snapshot that is gone";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::snapshot_failed);
    EXPECT_THAT(e.message(), HasSubstr("\"cannot open 'rpool/vms/web@s1': dataset does not exist\""));
  }
}

TEST_F(ZoneToolsTest, SnapshotListingsThatAreNotZfsOutputAreRefused) {
  ScriptedRunner scripted;
  scripted.next.exit_code = 0;
  ZoneTools tools(scripted, 30s);
  scripted.next.out = "rpool/vms/other@s1\t5\t1700000000\t1073741824\n";
  EXPECT_THROW(tools.snapshots("rpool/vms/web"), Error);
  scripted.next.out = "rpool/vms/web@s1\t5\tnot-a-number\t1073741824\n";
  EXPECT_THROW(tools.snapshots("rpool/vms/web"), Error);
  scripted.next.out = "rpool/vms/web@b\t9\t1700000001\t1073741824\nrpool/vms/web@a\t5\t1700000000\t2147483648\n";
  auto list = tools.snapshots("rpool/vms/web");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "a");  // in the order they were taken
  EXPECT_EQ(list[0].volsize, 2147483648u);
  EXPECT_EQ(scripted.calls.at(0), (Argv{"zfs", "list", "-H", "-p", "-t", "snapshot", "-d", "1", "-o",
                                        "name,createtxg,creation,volsize", "rpool/vms/web"}));
}

}  // namespace
}  // namespace vm_manager::propolis

// A VMFile's hosts (src/vmfile/vmfile_hosts.cpp): top-level `host` and
// `connect`, a VM's own `host` and `connect`, what they put in the VM's
// backend_options and in VmFile::hosts, and every problem with them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "vm_manager/backend_registry.hpp"
#include "vmfile/vmfile.hpp"

namespace {

namespace fs = std::filesystem;
using namespace vm_manager;
using Options = std::map<std::string, std::string>;

constexpr std::string_view kBuild1 = "qemu+ssh://ci@build1/system";

class VmFileHosts : public ::testing::Test {
 protected:
  void SetUp() override { std::ofstream(dir_.path() / "disk.qcow2") << "x"; }

  vmfile::VmFile parse(std::string_view text) { return vmfile::parse(text, dir_.path() / "VMFile.kdl", {}); }

  std::vector<vmfile::Problem> problems(std::string_view text) {
    try {
      parse(text);
    } catch (const vmfile::ValidationError& error) {
      return error.problems();
    }
    ADD_FAILURE() << "expected a ValidationError for:\n" << text;
    return {};
  }

  // Exactly one problem, at line:column, whose message and help hold the parts.
  void expect_one(std::string_view text, int line, int column, std::string_view message, std::string_view help = {}) {
    std::vector<vmfile::Problem> found = problems(text);
    ASSERT_EQ(found.size(), 1u) << describe(found);
    EXPECT_EQ(found[0].position, (kdl::Position{line, column})) << describe(found);
    EXPECT_NE(found[0].message.find(message), std::string::npos) << describe(found);
    EXPECT_NE(found[0].help.find(help), std::string::npos) << describe(found);
  }

  static std::string describe(const std::vector<vmfile::Problem>& problems) {
    std::string out;
    for (const auto& p : problems) {
      out += std::to_string(p.position.line) + ":" + std::to_string(p.position.column) + ": " + p.message +
             " [help: " + p.help + "]\n";
    }
    return out;
  }

  // `backend "libvirt"` is a value only a build that registers the libvirt
  // backend (built or left out) accepts; the backend's branch adds it.
  static bool libvirt_registered() { return BackendRegistry::builtin().contains("libvirt"); }

  vmctl::test::TempDir dir_;
};

TEST_F(VmFileHosts, AVmOnADeclaredHostIsALibvirtVmWithTheHostsSettings) {
  vmfile::VmFile file = parse(R"(
host "build1" connect="qemu+ssh://ci@build1/system" pool="vms" network="nat"
vm "web" {
    image "disk.qcow2"
    host "build1"
}
vm "local" {
    image "disk.qcow2"
}
)");
  ASSERT_EQ(file.vms.size(), 2u);
  const VmSpec& web = file.vms[0].spec;
  EXPECT_EQ(web.backend, std::string("libvirt"));
  EXPECT_EQ(web.backend_options,
            (Options{{"host", "build1"}, {"connect", std::string(kBuild1)}, {"pool", "vms"}, {"network", "nat"}}));
  const VmSpec& local = file.vms[1].spec;
  EXPECT_EQ(local.backend, std::nullopt) << "a VM without a host stays on this machine's backend";
  EXPECT_TRUE(local.backend_options.empty());
  EXPECT_EQ(file.hosts, (std::vector<HostSpec>{HostSpec{
                            "build1", "libvirt", {{"connect", std::string(kBuild1)}, {"pool", "vms"}, {"network", "nat"}}}}));
  EXPECT_EQ(file.connect, std::nullopt);
}

TEST_F(VmFileHosts, HostsMayBeDeclaredBelowTheirVmsAndKeepFileOrder) {
  vmfile::VmFile file = parse(R"(
vm "a" {
    image "disk.qcow2"
    host "two"
}
host "one" connect="qemu:///system"
host "two" connect="qemu+ssh://root@127.0.0.1:2222/system?keyfile=/k&known_hosts=/kh"
)");
  EXPECT_EQ(file.vms[0].spec.backend_options.at("host"), "two");
  EXPECT_EQ(file.vms[0].spec.backend_options.at("connect"),
            "qemu+ssh://root@127.0.0.1:2222/system?keyfile=/k&known_hosts=/kh");
  ASSERT_EQ(file.hosts.size(), 2u);
  EXPECT_EQ(file.hosts[0].name, "one");
  EXPECT_EQ(file.hosts[1].name, "two");
}

// noop runs nothing but records the host, so VMFiles with hosts can be tried
// (and list --host tested) without a hypervisor.
TEST_F(VmFileHosts, ANoopVmMayBePlacedOnAHost) {
  vmfile::VmFile file = parse(R"(
host "build1" connect="qemu+ssh://ci@build1/system"
vm "web" {
    backend "noop"
    image "disk.qcow2"
    host "build1"
}
)");
  EXPECT_EQ(file.vms[0].spec.backend, std::string("noop"));
  EXPECT_EQ(file.vms[0].spec.backend_options, (Options{{"host", "build1"}, {"connect", std::string(kBuild1)}}));
}

TEST_F(VmFileHosts, AVmsOwnConnectMakesItALibvirtVmThere) {
  vmfile::VmFile file = parse(R"(
host "build1" connect="qemu+ssh://ci@build1/system"
vm "a" {
    image "disk.qcow2"
    connect "qemu+ssh://ci@build1/system"
}
vm "b" {
    image "disk.qcow2"
    connect "qemu:///session"
}
vm "c" {
    image "disk.qcow2"
    connect "test:///default"
}
)");
  EXPECT_EQ(file.vms[0].spec.backend, std::string("libvirt"));
  EXPECT_EQ(file.vms[0].spec.backend_options, (Options{{"connect", std::string(kBuild1)}}));
  EXPECT_EQ(file.vms[1].spec.backend_options, (Options{{"connect", "qemu:///session"}}));
  EXPECT_EQ(file.vms[2].spec.backend_options, (Options{{"connect", "test:///default"}}))
      << "libvirt's in-process test driver, which runs nothing";
  // build1's URI is listed once, under the host's name; the others by their URIs.
  ASSERT_EQ(file.hosts.size(), 3u);
  EXPECT_EQ(file.hosts[0].name, "build1");
  EXPECT_EQ(file.hosts[1], (HostSpec{"qemu:///session", "libvirt", {{"connect", "qemu:///session"}}}));
}

TEST_F(VmFileHosts, TheTopLevelConnectIsOnlyForLibvirtVms) {
  vmfile::VmFile file = parse(R"(
connect "qemu+ssh://ci@build1/system"
vm "local" {
    image "disk.qcow2"
}
vm "tried" {
    backend "noop"
    image "disk.qcow2"
}
)");
  EXPECT_EQ(file.connect, std::string(kBuild1));
  for (const auto& vm : file.vms) EXPECT_TRUE(vm.spec.backend_options.empty()) << vm.spec.name;
  EXPECT_EQ(file.hosts,
            (std::vector<HostSpec>{HostSpec{std::string(kBuild1), "libvirt", {{"connect", std::string(kBuild1)}}}}));
}

TEST_F(VmFileHosts, ALibvirtVmWithoutAHostGetsTheTopLevelConnect) {
  if (!libvirt_registered()) GTEST_SKIP() << "this build registers no libvirt backend, so `backend \"libvirt\"` is refused";
  vmfile::VmFile file = parse(R"(
host "build2" connect="qemu+ssh://ci@build2/system"
connect "qemu+ssh://ci@build1/system"
vm "a" {
    backend "libvirt"
    image "disk.qcow2"
}
vm "b" {
    backend "libvirt"
    image "disk.qcow2"
    host "build2"
}
vm "c" {
    backend "libvirt"
    image "disk.qcow2"
    connect "qemu:///system"
}
)");
  EXPECT_EQ(file.vms[0].spec.backend_options, (Options{{"connect", std::string(kBuild1)}}));
  EXPECT_EQ(file.vms[1].spec.backend_options,
            (Options{{"host", "build2"}, {"connect", "qemu+ssh://ci@build2/system"}}));
  EXPECT_EQ(file.vms[2].spec.backend_options, (Options{{"connect", "qemu:///system"}}));
}

TEST_F(VmFileHosts, AHostNamedTwiceIsReportedAtTheSecond) {
  expect_one(R"(host "build1" connect="qemu:///system"
host "build1" connect="qemu+ssh://ci@build1/system"
vm "a" {
    image "disk.qcow2"
}
)",
             2, 6, "host \"build1\" is declared twice (first at 1:1)", "give every host a different name");
}

TEST_F(VmFileHosts, AnUnknownHostIsReportedWithTheClosestName) {
  const std::string hosts = "host \"build1\" connect=\"qemu:///system\"\n";
  expect_one(hosts + "vm \"a\" {\n    image \"disk.qcow2\"\n    host \"biuld1\"\n}\n", 4, 10,
             "unknown host \"biuld1\"", "did you mean `build1`?");
  expect_one("vm \"a\" {\n    image \"disk.qcow2\"\n    host \"build9\"\n}\n", 3, 10, "unknown host \"build9\"",
             "declare it at the top of the file: host \"build9\" connect=");
}

TEST_F(VmFileHosts, BadHostDeclarationsAreReported) {
  const std::string vm = "vm \"a\" {\n    image \"disk.qcow2\"\n}\n";
  expect_one("host \"build1\"\n" + vm, 1, 1, "`host` needs connect=\"URI\"", "for example: host \"build1\" connect=");
  expect_one("host \"-x\" connect=\"qemu:///system\"\n" + vm, 1, 6, "invalid host name \"-x\"",
             "beginning with a letter or digit");
  expect_one("host connect=\"qemu:///system\"\n" + vm, 1, 1, "`host` needs a name");
  expect_one("host \"b\" connect=\"xen://b/system\"\n" + vm, 1, 18,
             "invalid libvirt URI \"xen://b/system\": the driver 'xen' is not qemu", "qemu+ssh://USER@HOST/system");
  expect_one("host \"b\" connect=\"qemu+ftp://b/system\"\n" + vm, 1, 18, "'ftp' is no libvirt transport");
  expect_one("host \"b\" connect=\"build1\"\n" + vm, 1, 18, "it has no scheme");
  expect_one("host \"b\" connect=\"qemu+ssh://b\"\n" + vm, 1, 18, "it has no path");
  expect_one("host \"b\" connect=\"test+ssh://b/default\"\n" + vm, 1, 18, "libvirt's test driver runs in-process");
  expect_one("host \"b\" connect=\"test://\"\n" + vm, 1, 18, "it has no path (test:///default)");
  expect_one("host \"b\" connect=\"qemu:///sytem\"\n" + vm, 1, 18, "its path is '/sytem', not /system or /session");
  expect_one("host \"b\" connect=\"qemu:///system\" pool=\"\"\n" + vm, 1, 40, "invalid libvirt pool name \"\"",
             "name an existing storage pool");
  expect_one("host \"b\" connect=\"qemu:///system\" network=\"a/b\"\n" + vm, 1, 43,
             "invalid libvirt network name \"a/b\"");
  expect_one("host \"b\" connect=\"qemu:///system\" pol=\"x\"\n" + vm, 1, 35, "unknown property `pol` on `host`",
             "did you mean `pool`?");
  expect_one("host \"b\" connect=5\n" + vm, 1, 18, "`connect` takes a string, not an integer");
  expect_one("host \"b\" \"c\" connect=\"qemu:///system\"\n" + vm, 1, 10, "unexpected extra argument to `host`");
  expect_one("host \"b\" connect=\"qemu:///system\" {\n    pool \"x\"\n}\n" + vm, 2, 5,
             "`host` takes no children block");
}

TEST_F(VmFileHosts, BadConnectsAreReported) {
  const std::string vm = "vm \"a\" {\n    image \"disk.qcow2\"\n}\n";
  expect_one("connect \"qemu:///system\"\nconnect \"qemu:///session\"\n" + vm, 2, 1,
             "`connect` given more than once in the VMFile (first at 1:1)");
  expect_one("connect \"qemu://\"\n" + vm, 1, 9, "invalid libvirt URI \"qemu://\"");
  expect_one("connect\n" + vm, 1, 1, "`connect` needs a libvirt URI");
  expect_one("vm \"a\" {\n    image \"disk.qcow2\"\n    connect \"lxc:///system\"\n}\n", 3, 13,
             "the driver 'lxc' is not qemu");
  expect_one("vm \"a\" {\n    image \"disk.qcow2\"\n    host 3\n}\n", 3, 10, "`host` takes a string, not an integer");
}

TEST_F(VmFileHosts, AVmGivesEitherHostOrConnect) {
  expect_one(R"(host "b" connect="qemu:///system"
vm "a" {
    image "disk.qcow2"
    host "b"
    connect "qemu:///system"
}
)",
             5, 13, "give either host or connect, not both");
}

// qemu and propolis run VMs on this machine: a host there would be ignored.
TEST_F(VmFileHosts, ABackendThatRunsVmsHereCannotBePlacedOnAHost) {
  expect_one(R"(host "b" connect="qemu:///system"
vm "a" {
    backend "qemu"
    image "disk.qcow2"
    host "b"
}
)",
             5, 10, "vm \"a\" runs on backend \"qemu\", which runs VMs on this machine: `host` needs backend \"libvirt\"",
             "drop its backend");
}

TEST_F(VmFileHosts, EveryProblemIsReportedAtOnce) {
  std::vector<vmfile::Problem> found = problems(R"(host "b" connect="qemu:///system"
host "b" connect="nope"
vm "a" {
    image "disk.qcow2"
    host "c"
}
)");
  EXPECT_EQ(found.size(), 3u) << describe(found);
}

}  // namespace

// Hosts on the command line, without a hypervisor: create --connect's
// usage errors, the HOST of list and status and list --host (noop VMs that a
// VMFile places on a host: noop records the host, as libvirt would name it),
// drift when a VM's host changes, and the parts of `vmctl hosts` that need
// no libvirt. `vmctl hosts` against libvirt itself is in
// hosts_libvirt_cli_test.cpp.
#include <filesystem>
#include <fstream>

#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

namespace fs = std::filesystem;

class HostsCli : public VmctlTest {
 protected:
  void SetUp() override {
    fs::create_directories(project_);
    std::ofstream(project_ / "disk.qcow2") << "not really a disk";
  }

  void write_vmfile(const std::string& build1_uri) {
    std::ofstream(vmfile_) << "host \"build1\" connect=\"" << build1_uri << "\"\n"
                           << "vm \"web\" {\n    backend \"noop\"\n    image \"disk.qcow2\"\n    host \"build1\"\n}\n"
                           << "vm \"here\" {\n    backend \"noop\"\n    image \"disk.qcow2\"\n}\n";
  }

  nlohmann::json list_json(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"list", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return nlohmann::json::parse(ok(args));
  }

  static std::vector<std::string> names_in(const nlohmann::json& listed) {
    std::vector<std::string> names;
    for (const auto& vm : listed) names.push_back(vm.at("name").get<std::string>());
    return names;
  }

  static std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
      lines.push_back(text.substr(start, nl - start));
    }
    return lines;
  }

  TempDir project_dir_;
  fs::path project_ = project_dir_.path() / "project";
  fs::path vmfile_ = project_ / "VMFile.kdl";
};

TEST_F(HostsCli, ConnectWithAnotherBackendIsAUsageError) {
  ProcessResult r = vmctl({"create", "--name", "a", "--backend", "noop", "--connect", "qemu:///system"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("error[vmctl::usage]: --connect places the VM on a libvirt host, but --backend is noop"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(list().empty());
}

TEST_F(HostsCli, ConnectWithABadUriIsAClearError) {
  ProcessResult r = vmctl({"create", "--name", "a", "--connect", "xen://build1/system"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("error[vm_manager::spec::invalid]: invalid libvirt URI 'xen://build1/system': the driver "
                       "'xen' is not qemu"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("help: write it as qemu:///system"), std::string::npos) << r.err;
  r = vmctl({"create", "--name", "a", "--connect", "qemu+ssh://ci@build1"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("it has no path"), std::string::npos) << r.err;
  EXPECT_TRUE(list().empty());
}

TEST_F(HostsCli, AVmOnThisMachineHasNoHost) {
  ok({"create", "--name", "here", "--backend", "noop"});
  nlohmann::json j = status("here");
  ASSERT_TRUE(j.contains("host"));
  EXPECT_TRUE(j.at("host").is_null());
  EXPECT_EQ(ok({"status", "here"}).find("host:"), std::string::npos);
}

TEST_F(HostsCli, ListAndStatusShowTheHostAVmFilePlacedTheVmOn) {
  write_vmfile("qemu+ssh://ci@build1/system");
  ok({"up", "-f", vmfile_.string()});

  nlohmann::json all = list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].at("name"), "here");
  EXPECT_TRUE(all[0].at("host").is_null());
  EXPECT_EQ(all[1].at("name"), "web");
  EXPECT_EQ(all[1].at("host"), "build1");

  std::vector<std::string> table = lines_of(ok({"list"}));
  ASSERT_EQ(table.size(), 3u);
  const std::size_t column = table[0].find("HOST");
  ASSERT_NE(column, std::string::npos) << table[0];
  EXPECT_EQ(table[0].find("BACKEND"), table[0].find("HOST") - std::string("BACKEND  ").size()) << table[0];
  EXPECT_EQ(table[1].substr(column, 2), "- ") << table[1];
  EXPECT_EQ(table[2].substr(column, 7), "build1 ") << table[2];

  EXPECT_NE(ok({"status", "web"}).find("\nhost:       build1\n"), std::string::npos);
  EXPECT_EQ(status("web").at("host"), "build1");
  EXPECT_EQ(ok({"status", "here"}).find("host:"), std::string::npos);
}

TEST_F(HostsCli, ListHostShowsTheVmsOfOneHost) {
  write_vmfile("qemu+ssh://ci@build1/system");
  ok({"up", "-f", vmfile_.string()});
  EXPECT_EQ(names_in(list_json({"--host", "build1"})), (std::vector<std::string>{"web"}));
  EXPECT_EQ(names_in(list_json({"--host", "-"})), (std::vector<std::string>{"here"}))
      << "'-', as the HOST column shows it, is this machine";
  EXPECT_TRUE(list_json({"--host", "build2"}).empty());
  EXPECT_TRUE(list_json({"--host", "qemu+ssh://ci@build1/system"}).empty())
      << "a VM on a named host is listed under that name";

  std::vector<std::string> table = lines_of(ok({"list", "--host", "build1"}));
  ASSERT_EQ(table.size(), 2u);
  EXPECT_TRUE(table[1].starts_with("web ")) << table[1];
  EXPECT_EQ(lines_of(ok({"list", "--host", "nowhere"})).size(), 1u) << "the header alone";
}

TEST_F(HostsCli, AVmWhoseHostChangedHasDriftedAndReloadMakesItAnew) {
  write_vmfile("qemu+ssh://ci@build1/system");
  ok({"up", "-f", vmfile_.string()});
  const std::string id = status("web").at("id");
  write_vmfile("qemu+ssh://ci@build2/system");
  std::string up = ok({"up", "-f", vmfile_.string()});
  EXPECT_NE(up.find("drift: connect qemu+ssh://ci@build1/system -> qemu+ssh://ci@build2/system"), std::string::npos)
      << up;
  EXPECT_EQ(status("web").at("id"), id) << "up never moves a VM";
  std::string reload = ok({"reload", "-f", vmfile_.string(), "--name", "web"});
  EXPECT_NE(reload.find("recreated"), std::string::npos) << reload;
  EXPECT_NE(status("web").at("id"), id);
  EXPECT_EQ(ok({"up", "-f", vmfile_.string()}).find("drift"), std::string::npos);
}

TEST_F(HostsCli, HostsOfAVmFileWithoutHostsIsAnEmptyList) {
  std::ofstream(vmfile_) << "vm \"here\" {\n    backend \"noop\"\n    image \"disk.qcow2\"\n}\n";
  ProcessResult r = vmctl({"hosts", "-f", vmfile_.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "NAME  BACKEND  ADDRESS  REACHABLE  CPUS  MEMORY  FREE  VMS\n");
  EXPECT_NE(r.err.find("places no VM on a host"), std::string::npos) << r.err;
  EXPECT_EQ(nlohmann::json::parse(ok({"hosts", "-f", vmfile_.string(), "--json"})), nlohmann::json::array());
}

TEST_F(HostsCli, HostsReadsTheVmFileOfTheCurrentFolder) {
  ProcessOptions in_project;
  in_project.cwd = project_.string();
  ProcessResult r = run_vmctl(data_.str(), {"hosts"}, in_project);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error[vm_manager::vmfile::not_found]: no VMFile at " + vmfile_.string()), std::string::npos)
      << r.err;
  std::ofstream(vmfile_) << "vm \"here\" {\n    backend \"noop\"\n    image \"disk.qcow2\"\n}\n";
  r = run_vmctl(data_.str(), {"hosts", "--json"}, in_project);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[]\n");
}

TEST_F(HostsCli, HostsRefusesBadInput) {
  std::ofstream(vmfile_) << "host \"b\" connect=\"xen://b/system\"\nvm \"a\" {\n    image \"disk.qcow2\"\n}\n";
  ProcessResult r = vmctl({"hosts", "-f", vmfile_.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("VMFile.kdl:1:18: invalid libvirt URI \"xen://b/system\""), std::string::npos) << r.err;

  r = vmctl({"hosts", "--connect", "qemu+ftp://b/system"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error[vm_manager::spec::invalid]: invalid libvirt URI 'qemu+ftp://b/system': 'ftp' is no "
                       "libvirt transport"),
            std::string::npos)
      << r.err;

  r = vmctl({"hosts", "--connect", "qemu:///system", "-f", vmfile_.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("error[vmctl::usage]"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vmctl::test

// The user-data vmctl writes, checked by the real cloud-init: Debian's
// `cloud-init schema --config-file` validates every cloud-config document
// make_vm_seed can emit (keys only, the user's own key and user name, a
// hostname, the user's own user-data merged as multipart MIME, whose
// cloud-config parts are split out as cloud-init itself splits them). A
// document with a key in the wrong place must fail, so the check can fail.
// The network-config of a static address is rendered by the same
// cloud-init's own v2 parser and renderers (`cloud-init devel net-convert`:
// ifupdown's interfaces file, systemd-networkd, netplan), which must carry
// the address, route and name servers to the NIC with the MAC; cloud-init
// 22.4 has no schema for network-config, so this is its check.
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cloudinit/network_config.hpp"
#include "cloudinit/user_data.hpp"
#include "cloudinit/vm_seed.hpp"
#include "ssh/keys.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {
using namespace vm_manager;
using vmctl::test::TempDir;
namespace fs = std::filesystem;

const std::string kPackageHint = "cloud-init is not installed: install Debian's cloud-init package (make deps)";

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && ::access((fs::path(dir) / program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

class CloudInitSchema : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(on_path("cloud-init")) << kPackageHint; }

  // The cloud-config documents in `user_data` (one, or the parts of a MIME
  // archive), each written to a file of its own.
  std::vector<fs::path> cloud_config_parts(const std::string& user_data) {
    const fs::path file = dir_ / ("user-data-" + std::to_string(++count_));
    std::ofstream(file, std::ios::binary) << user_data;
    const fs::path parts = dir_ / ("parts-" + std::to_string(count_));
    fs::create_directory(parts);
    auto split = vmctl::test::run_process(
        {"python3", std::string(VMCTL_SOURCE_DIR) + "/tests/cloudinit/cloud_config_parts.py", file, parts});
    EXPECT_EQ(split.exit_code, 0) << split.err;
    std::vector<fs::path> paths;
    std::istringstream lines(split.out);
    for (std::string line; std::getline(lines, line);) paths.emplace_back(line);
    return paths;
  }

  // cloud-init's verdict on one document: its exit code, and what it said.
  static vmctl::test::ProcessResult schema(const fs::path& document) {
    return vmctl::test::run_process({"cloud-init", "schema", "--config-file", document});
  }

  // Expects `parts` cloud-config documents in `user_data`, each valid.
  void expect_valid(const std::string& user_data, std::size_t parts) {
    auto documents = cloud_config_parts(user_data);
    ASSERT_EQ(documents.size(), parts) << user_data;
    for (const auto& document : documents) {
      auto verdict = schema(document);
      EXPECT_EQ(verdict.exit_code, 0) << verdict.out << verdict.err << "\n" << user_data;
      EXPECT_NE(verdict.out.find("Valid cloud-config"), std::string::npos) << verdict.out << verdict.err;
    }
  }

  static std::string seed_user_data(const VmSpec& spec, const fs::path& work_dir) {
    fs::create_directories(work_dir);
    auto seed = cloudinit::make_vm_seed(spec, work_dir, "iid-schema");
    EXPECT_TRUE(seed);
    return seed ? seed->files.user_data : std::string();
  }

  static VmSpec spec_named(const std::string& name) {
    VmSpec spec;
    spec.name = name;
    spec.ssh = SshConfig{};
    return spec;
  }

  TempDir dir_;
  int count_ = 0;
};

TEST_F(CloudInitSchema, GeneratedKeysOnly) {
  expect_valid(seed_user_data(spec_named("web"), dir_ / "web"), 1);
}

TEST_F(CloudInitSchema, TheUsersOwnKeyAndUserName) {
  VmSpec spec = spec_named("mine");
  spec.ssh->user = "dev_ops-1";
  spec.ssh->public_key = ssh::generate_ed25519("me@laptop").public_key.line() + "\n";
  spec.ssh->private_key_path = "/home/me/.ssh/id_ed25519";
  expect_valid(seed_user_data(spec, dir_ / "mine"), 1);
}

TEST_F(CloudInitSchema, AHostnameOfItsOwn) {
  VmSpec spec = spec_named("named");
  spec.cloud_init = CloudInitConfig{"", "", "db-1.internal"};
  const std::string user_data = seed_user_data(spec, dir_ / "named");
  EXPECT_NE(user_data.find("db-1.internal"), std::string::npos) << user_data;
  expect_valid(user_data, 1);
}

TEST_F(CloudInitSchema, TheUsersCloudConfigMergedAsMime) {
  VmSpec spec = spec_named("mixed");
  spec.cloud_init = CloudInitConfig{
      "#cloud-config\n"
      "packages: [htop]\n"
      "write_files:\n"
      "  - path: /etc/motd\n"
      "    content: hello\n"
      "runcmd:\n"
      "  - [touch, /tmp/hello]\n"
      "  - echo 'provisioned' > /tmp/done\n",
      "", "mixed-host"};
  const std::string user_data = seed_user_data(spec, dir_ / "mixed");
  ASSERT_NE(user_data.find("multipart/mixed"), std::string::npos) << user_data;
  expect_valid(user_data, 2);  // vmctl's part and the user's
}

// Shared folders add `mounts:` (virtiofs tags) to vmctl's own cloud-config,
// and make one of their own when vmctl gives no SSH access.
TEST_F(CloudInitSchema, SharedFoldersAsMounts) {
  VmSpec spec = spec_named("shares");
  spec.shared_folders = {{"/home/me/src", "/srv/src", false}, {"/home/me/data", "/srv/data", true}};
  const std::string user_data = seed_user_data(spec, dir_ / "shares");
  EXPECT_NE(user_data.find(R"(- ["vmctl:0", "/srv/src", "virtiofs", "defaults,nofail", "0", "0"])"),
            std::string::npos)
      << user_data;
  EXPECT_NE(user_data.find(R"(- ["vmctl:1", "/srv/data", "virtiofs", "ro,nofail", "0", "0"])"), std::string::npos)
      << user_data;
  expect_valid(user_data, 1);

  VmSpec bare;
  bare.name = "bare";
  bare.shared_folders = {{"/home/me/src", "/srv/src", false}};
  const std::string mounts_only = seed_user_data(bare, dir_ / "bare");
  EXPECT_NE(mounts_only.find("vmctl:0"), std::string::npos) << mounts_only;
  expect_valid(mounts_only, 1);
}

TEST_F(CloudInitSchema, TheUsersScriptMergedAsMime) {
  VmSpec spec = spec_named("scripted");
  spec.cloud_init = CloudInitConfig{"#!/bin/sh\necho provisioning > /tmp/log\n", "", ""};
  const std::string user_data = seed_user_data(spec, dir_ / "scripted");
  ASSERT_NE(user_data.find("text/x-shellscript"), std::string::npos) << user_data;
  expect_valid(user_data, 1);  // the script is not cloud-config
}

// Values that need quoting (a comment with quotes, colons and unicode) stay
// valid cloud-config.
TEST_F(CloudInitSchema, AKeyCommentThatNeedsQuoting) {
  ssh::KeyPair host = ssh::generate_ed25519("host");
  cloudinit::UserDataOptions options;
  options.user = "_x";
  ssh::PublicKey login = ssh::generate_ed25519().public_key;
  login.comment = "it's \"me\": # ünïcödé";
  options.login_public_key = ssh::parse_public_key(login.line()).line();
  options.host_private_key = host.private_key;
  options.host_public_key = host.public_key.line();
  options.hostname = "yes";
  expect_valid(cloudinit::make_user_data(options), 1);
}

// The check can fail: the login key under a misspelt key of the user is
// refused by cloud-init.
TEST_F(CloudInitSchema, AMisplacedKeyIsRefused) {
  std::string user_data = seed_user_data(spec_named("bad"), dir_ / "bad");
  const auto at = user_data.find("ssh_authorized_keys");
  ASSERT_NE(at, std::string::npos) << user_data;
  user_data.replace(at, std::string("ssh_authorized_keys").size(), "ssh_authorised_keys");
  auto documents = cloud_config_parts(user_data);
  ASSERT_EQ(documents.size(), 1u);
  auto verdict = schema(documents[0]);
  EXPECT_NE(verdict.exit_code, 0) << verdict.out << verdict.err;
  EXPECT_NE((verdict.out + verdict.err).find("users.0"), std::string::npos) << verdict.out << verdict.err;
}

// ---------------------------------------------------------------- network-config

// What cloud-init renders from `network_config` for `kind` (eni, networkd,
// netplan), every file it wrote concatenated, and its exit code.
struct Rendered {
  int exit_code = -1;
  std::string files;
  std::string log;
};

Rendered net_convert(const fs::path& dir, const std::string& network_config, const std::string& kind) {
  fs::create_directories(dir);
  const fs::path input = dir / "network-config";
  std::ofstream(input, std::ios::binary) << network_config;
  const fs::path out = dir / ("out-" + kind);
  auto run = vmctl::test::run_process({"cloud-init", "devel", "net-convert", "--network-data", input.string(),
                                       "--kind", "yaml", "--distro", "debian", "--output-kind", kind, "--directory",
                                       out.string()});
  Rendered rendered{run.exit_code, "", run.out + run.err};
  if (fs::is_directory(out)) {
    for (const auto& entry : fs::recursive_directory_iterator(out)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      rendered.files += "==> " + entry.path().lexically_relative(out).string() + "\n" + text.str() + "\n";
    }
  }
  return rendered;
}

class CloudInitNetworkConfig : public CloudInitSchema {
 protected:
  Rendered render(const std::string& network_config, const std::string& kind) {
    return net_convert(dir_ / ("net-" + std::to_string(++count_)), network_config, kind);
  }
};

TEST_F(CloudInitNetworkConfig, Ipv4ByMacIsRenderedByEveryRenderer) {
  const std::string config = cloudinit::make_network_config(
      StaticAddress{"192.168.77.200/24", "192.168.77.1", {"192.168.77.1", "fd00::53"}}, "52:54:00:ab:cd:ef");
  Rendered eni = render(config, "eni");
  ASSERT_EQ(eni.exit_code, 0) << eni.log << config;
  // The NIC with the MAC is renamed eth0 (a udev rule), and eth0 configured statically.
  EXPECT_THAT(eni.files, ::testing::HasSubstr("ATTR{address}==\"52:54:00:ab:cd:ef\", NAME=\"eth0\"")) << eni.files;
  EXPECT_THAT(eni.files, ::testing::HasSubstr("iface eth0 inet static")) << eni.files;
  EXPECT_THAT(eni.files, ::testing::HasSubstr("address 192.168.77.200/24")) << eni.files;
  EXPECT_THAT(eni.files, ::testing::HasSubstr("route add default gw 192.168.77.1")) << eni.files;
  EXPECT_THAT(eni.files, ::testing::HasSubstr("dns-nameservers 192.168.77.1 fd00::53")) << eni.files;
  EXPECT_THAT(eni.files, ::testing::Not(::testing::HasSubstr("dhcp"))) << eni.files;

  Rendered networkd = render(config, "networkd");
  ASSERT_EQ(networkd.exit_code, 0) << networkd.log;
  EXPECT_THAT(networkd.files, ::testing::HasSubstr("MACAddress=52:54:00:ab:cd:ef")) << networkd.files;
  EXPECT_THAT(networkd.files, ::testing::HasSubstr("Address=192.168.77.200/24")) << networkd.files;
  EXPECT_THAT(networkd.files, ::testing::HasSubstr("Gateway=192.168.77.1")) << networkd.files;
  EXPECT_THAT(networkd.files, ::testing::HasSubstr("DNS=192.168.77.1 fd00::53")) << networkd.files;
  EXPECT_THAT(networkd.files, ::testing::HasSubstr("DHCP=no")) << networkd.files;

  Rendered netplan = render(config, "netplan");
  ASSERT_EQ(netplan.exit_code, 0) << netplan.log;
  EXPECT_THAT(netplan.files, ::testing::ContainsRegex("macaddress: '?52:54:00:ab:cd:ef")) << netplan.files;
  EXPECT_THAT(netplan.files, ::testing::HasSubstr("192.168.77.200/24")) << netplan.files;
  EXPECT_THAT(netplan.files, ::testing::HasSubstr("via: 192.168.77.1")) << netplan.files;
  EXPECT_THAT(netplan.files, ::testing::HasSubstr("set-name: eth0")) << netplan.files;
}

TEST_F(CloudInitNetworkConfig, Ipv6IsRendered) {
  const std::string config =
      cloudinit::make_network_config(StaticAddress{"fd00::5/64", "fd00::1", {"fd00::53"}}, "52:54:00:ab:cd:01");
  Rendered eni = render(config, "eni");
  ASSERT_EQ(eni.exit_code, 0) << eni.log << config;
  EXPECT_THAT(eni.files, ::testing::HasSubstr("iface eth0 inet6 static")) << eni.files;
  EXPECT_THAT(eni.files, ::testing::HasSubstr("address fd00::5/64")) << eni.files;
  EXPECT_THAT(eni.files, ::testing::HasSubstr("fd00::1")) << eni.files;
  Rendered networkd = render(config, "networkd");
  ASSERT_EQ(networkd.exit_code, 0) << networkd.log;
  EXPECT_THAT(networkd.files, ::testing::HasSubstr("Address=fd00::5/64")) << networkd.files;
  EXPECT_THAT(networkd.files, ::testing::HasSubstr("Gateway=fd00::1")) << networkd.files;
}

// Without a MAC (propolis): netplan keeps the driver match; the others
// configure the NIC named by the id (network_config.cpp says why).
TEST_F(CloudInitNetworkConfig, ADriverMatchIsRendered) {
  const std::string config = cloudinit::make_network_config(StaticAddress{"10.0.0.5/24", "", {}}, "");
  Rendered netplan = render(config, "netplan");
  ASSERT_EQ(netplan.exit_code, 0) << netplan.log << config;
  EXPECT_THAT(netplan.files, ::testing::HasSubstr("driver: virtio_net")) << netplan.files;
  Rendered eni = render(config, "eni");
  ASSERT_EQ(eni.exit_code, 0) << eni.log;
  EXPECT_THAT(eni.files, ::testing::HasSubstr("iface eth0 inet static")) << eni.files;
  EXPECT_THAT(eni.files, ::testing::HasSubstr("address 10.0.0.5/24")) << eni.files;
}

// The check can fail: an address cloud-init cannot parse, and netplan's
// "to: default", which this cloud-init refuses outside netplan (hence
// network_config.cpp's 0.0.0.0/0).
TEST_F(CloudInitNetworkConfig, WhatCloudInitCannotReadFails) {
  std::string config = cloudinit::make_network_config(StaticAddress{"10.0.0.5/24", "10.0.0.1", {}}, "52:54:00:00:00:01");
  std::string bad_address = config;
  bad_address.replace(bad_address.find("10.0.0.5/24"), 11, "10.0.0/24x");
  EXPECT_NE(render(bad_address, "eni").exit_code, 0) << bad_address;
  std::string default_route = config;
  default_route.replace(default_route.find("0.0.0.0/0"), 9, "default");
  Rendered refused = render(default_route, "eni");
  EXPECT_NE(refused.exit_code, 0) << refused.files;
  EXPECT_THAT(refused.log, ::testing::HasSubstr("default")) << refused.log;
}

}  // namespace

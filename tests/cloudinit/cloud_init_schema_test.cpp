// The user-data vmctl writes, checked by the real cloud-init: Debian's
// `cloud-init schema --config-file` validates every cloud-config document
// make_vm_seed can emit (keys only, the user's own key and user name, a
// hostname, the user's own user-data merged as multipart MIME, whose
// cloud-config parts are split out as cloud-init itself splits them). A
// document with a key in the wrong place must fail, so the check can fail.
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

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

}  // namespace

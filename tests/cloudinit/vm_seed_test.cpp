// The seed and SSH identity every backend's prepare() makes, and how SSH
// access is read back from the handle.
#include "cloudinit/vm_seed.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include "os/files.hpp"
#include "ssh/keys.hpp"
#include "ssh/vm_access.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/noop_backend.hpp"

namespace {
using namespace vm_manager;
using vmctl::test::TempDir;
namespace fs = std::filesystem;

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string read(const fs::path& path) { return os::read_file(path).value_or("<missing>"); }

VmSpec spec_named(const std::string& name) {
  VmSpec spec;
  spec.name = name;
  spec.ssh = SshConfig{};
  return spec;
}

VmHandle handle_for(const cloudinit::VmSeed& seed, const std::string& name) {
  VmHandle handle;
  handle.name = name;
  handle.ssh_host = "127.0.0.1";
  handle.ssh_port = 2299;
  cloudinit::record_ssh_identity(seed, handle);
  return handle;
}

TEST(VmSeed, NoCloudInitAndNoSshMeansNoSeed) {
  TempDir dir;
  VmSpec spec;
  spec.name = "plain";
  EXPECT_FALSE(cloudinit::make_vm_seed(spec, dir.path(), "iid").has_value());
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(VmSeed, GeneratesLoginAndHostKeysAndKnownHosts) {
  TempDir dir;
  auto seed = cloudinit::make_vm_seed(spec_named("web"), dir.path(), "iid-1");
  ASSERT_TRUE(seed);
  EXPECT_EQ(mode_of(dir / "id_ed25519"), 0600u);
  EXPECT_EQ(mode_of(dir / "id_ed25519.pub"), 0600u);  // every file in a work dir is private
  EXPECT_EQ(mode_of(dir / "ssh_host_ed25519_key"), 0600u);
  EXPECT_EQ(seed->ssh_user, "vm");
  EXPECT_EQ(seed->ssh_identity_file, (dir / "id_ed25519").string());
  EXPECT_EQ(seed->ssh_host_key_alias, "vmctl-web");

  ssh::PublicKey login = ssh::read_public_key_file(dir / "id_ed25519.pub");
  ssh::PublicKey host = ssh::read_public_key_file(dir / "ssh_host_ed25519_key.pub");
  EXPECT_EQ(read(seed->ssh_known_hosts), "vmctl-web " + host.type + " " + host.base64 + "\n");

  YAML::Node user_data = YAML::Load(seed->files.user_data);
  EXPECT_EQ(user_data["users"][0]["name"].as<std::string>(), "vm");
  EXPECT_EQ(user_data["users"][0]["ssh_authorized_keys"][0].as<std::string>(), login.line());
  EXPECT_EQ(user_data["ssh_keys"]["ed25519_public"].as<std::string>(), host.line());
  EXPECT_EQ(user_data["ssh_keys"]["ed25519_private"].as<std::string>(), read(dir / "ssh_host_ed25519_key"));
  YAML::Node meta = YAML::Load(seed->files.meta_data);
  EXPECT_EQ(meta["instance-id"].as<std::string>(), "iid-1");
  EXPECT_EQ(meta["local-hostname"].as<std::string>(), "web");

  VmHandle handle = handle_for(*seed, "web");
  // known_hosts carries no comment: compare the key itself.
  EXPECT_EQ(ssh::expected_host_key(handle).base64, host.base64);
  NoopBackend unused{DataDir(dir.path() / "noop")};
  ssh::Target target = ssh::target_for(unused, handle);
  EXPECT_EQ(target.host, "127.0.0.1");
  EXPECT_EQ(target.port, 2299);
  EXPECT_EQ(target.user, "vm");
  EXPECT_EQ(target.identity_file, dir / "id_ed25519");
  EXPECT_EQ(target.host_key.base64, host.base64);
}

TEST(VmSeed, EachVmGetsItsOwnKeys) {
  TempDir a, b;
  cloudinit::make_vm_seed(spec_named("a"), a.path(), "1");
  cloudinit::make_vm_seed(spec_named("b"), b.path(), "2");
  EXPECT_NE(read(a / "id_ed25519"), read(b / "id_ed25519"));
  EXPECT_NE(read(a / "ssh_host_ed25519_key"), read(b / "ssh_host_ed25519_key"));
}

TEST(VmSeed, AGivenPublicKeyIsUsedAndNoLoginKeyIsGenerated) {
  TempDir dir;
  ssh::KeyPair mine = ssh::generate_ed25519("me@laptop");
  VmSpec spec = spec_named("mine");
  spec.ssh->user = "dev";
  spec.ssh->public_key = mine.public_key.line() + "\n";
  spec.ssh->private_key_path = "/home/me/.ssh/id_ed25519";
  auto seed = cloudinit::make_vm_seed(spec, dir.path(), "iid");
  ASSERT_TRUE(seed);
  EXPECT_FALSE(fs::exists(dir / "id_ed25519"));
  EXPECT_EQ(seed->ssh_identity_file, "/home/me/.ssh/id_ed25519");
  YAML::Node user_data = YAML::Load(seed->files.user_data);
  EXPECT_EQ(user_data["users"][0]["name"].as<std::string>(), "dev");
  EXPECT_EQ(user_data["users"][0]["ssh_authorized_keys"][0].as<std::string>(), mine.public_key.line());
}

TEST(VmSeed, APublicKeyWithoutPrivateKeyGivesNoTargetForVmctlsOwnClient) {
  TempDir dir;
  VmSpec spec = spec_named("agent");
  spec.ssh->public_key = ssh::generate_ed25519().public_key.line();
  auto seed = cloudinit::make_vm_seed(spec, dir.path(), "iid");
  ASSERT_TRUE(seed);
  VmHandle handle = handle_for(*seed, "agent");
  NoopBackend unused{DataDir(dir.path() / "noop")};
  try {
    ssh::target_for(unused, handle);
    FAIL() << "expected ssh::not_configured";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::ssh_not_configured);
  }
}

TEST(VmSeed, UserDataIsMergedAsMultipartMime) {
  TempDir dir;
  VmSpec spec = spec_named("mixed");
  spec.cloud_init = CloudInitConfig{"#cloud-config\nruncmd:\n  - [touch, /tmp/hello]\n", "", "custom-host"};
  auto seed = cloudinit::make_vm_seed(spec, dir.path(), "iid");
  ASSERT_TRUE(seed);
  const std::string& ud = seed->files.user_data;
  EXPECT_NE(ud.find("Content-Type: multipart/mixed"), std::string::npos) << ud;
  EXPECT_NE(ud.find("touch, /tmp/hello"), std::string::npos) << ud;
  EXPECT_NE(ud.find("ssh_authorized_keys"), std::string::npos) << ud;
  EXPECT_EQ(YAML::Load(seed->files.meta_data)["local-hostname"].as<std::string>(), "custom-host");
}

TEST(VmSeed, UserDataAloneIsPassedThroughWithoutKeys) {
  TempDir dir;
  VmSpec spec;
  spec.name = "raw";
  spec.cloud_init = CloudInitConfig{"#!/bin/sh\necho hi\n", "fixed-iid", ""};
  auto seed = cloudinit::make_vm_seed(spec, dir.path(), "iid");
  ASSERT_TRUE(seed);
  EXPECT_EQ(seed->files.user_data, "#!/bin/sh\necho hi\n");
  EXPECT_EQ(YAML::Load(seed->files.meta_data)["instance-id"].as<std::string>(), "fixed-iid");
  EXPECT_TRUE(seed->ssh_user.empty());
  EXPECT_FALSE(fs::exists(dir / "known_hosts"));
}

TEST(VmSeed, BadInputIsRefusedBeforeAnyKeyIsWritten) {
  TempDir dir;
  VmSpec bad_user = spec_named("u");
  bad_user.ssh->user = "Robert'); DROP";
  EXPECT_THROW(cloudinit::make_vm_seed(bad_user, dir.path(), "iid"), Error);
  VmSpec bad_key = spec_named("k");
  bad_key.ssh->public_key = "ssh-ed25519 not-base64!";
  EXPECT_THROW(cloudinit::make_vm_seed(bad_key, dir.path(), "iid"), Error);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(WriteVmSeed, WritesTheIsoAndRecordsTheIdentityInTheHandle) {
  TempDir dir;
  VmHandle handle;
  handle.name = "web";
  handle.id = "iid-of-the-handle";
  cloudinit::write_vm_seed(spec_named("web"), dir.path(), handle);
  EXPECT_EQ(handle.seed_iso_path, (dir / "seed.iso").string());
  EXPECT_EQ(mode_of(dir / "seed.iso"), 0600u);
  // ISO 9660 stores files uncompressed: the handle's id is the instance-id.
  EXPECT_NE(read(dir / "seed.iso").find("iid-of-the-handle"), std::string::npos);
  EXPECT_EQ(handle.ssh_user, "vm");
  EXPECT_EQ(handle.ssh_identity_file, (dir / "id_ed25519").string());
  EXPECT_EQ(handle.ssh_known_hosts, (dir / "known_hosts").string());
  EXPECT_EQ(handle.ssh_host_key_alias, "vmctl-web");
}

TEST(WriteVmSeed, NoSeedLeavesTheHandleAndFolderAlone) {
  TempDir dir;
  VmSpec spec;
  spec.name = "plain";
  VmHandle handle;
  handle.name = "plain";
  handle.id = "iid";
  cloudinit::write_vm_seed(spec, dir.path(), handle);
  EXPECT_TRUE(handle.seed_iso_path.empty());
  EXPECT_TRUE(handle.ssh_user.empty());
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(VmAccess, AVmWithoutSshIsNotConfigured) {
  VmHandle handle;
  handle.name = "bare";
  try {
    ssh::require_ssh_access(handle);
    FAIL() << "expected ssh::not_configured";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::ssh_not_configured);
    EXPECT_FALSE(e.help().empty());
  }
}

}  // namespace

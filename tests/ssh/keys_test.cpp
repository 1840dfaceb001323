// SSH keys checked against OpenSSH's own ssh-keygen.
#include "ssh/keys.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "os/files.hpp"
#include "os/process.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace {
namespace fs = std::filesystem;
using vm_manager::Error;
using vmctl::test::TempDir;
namespace ssh = vm_manager::ssh;

std::string tool_output(const std::vector<std::string>& argv) {
  auto result = vm_manager::os::run_process(argv, std::chrono::seconds(30));
  if (!result.ok()) {
    throw std::runtime_error(vm_manager::os::describe(argv) + " failed (exit " + std::to_string(result.exit_code) +
                             "): " + result.err + result.out);
  }
  return result.out;
}

mode_t file_mode(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 07777;
}

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::string word;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t') {
      if (!word.empty()) out.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) out.push_back(word);
  return out;
}

void expect_bad_key(const std::function<void()>& action) {
  try {
    action();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "vm_manager::ssh::bad_key") << e.what();
    EXPECT_FALSE(e.help().empty());
  }
}

TEST(SshKeys, GeneratedFilesHaveModesAndMatchSshKeygen) {
  TempDir dir;
  const fs::path priv = dir / "id_ed25519";
  const auto pair = ssh::generate_key_files(priv, "vmctl@test");
  EXPECT_EQ(file_mode(priv), 0600u);
  EXPECT_EQ(file_mode(dir / "id_ed25519.pub"), 0600u);  // it lives in a VM's private folder
  EXPECT_EQ(pair.public_key.type, "ssh-ed25519");
  EXPECT_EQ(pair.public_key.comment, "vmctl@test");
  EXPECT_TRUE(pair.private_key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
  EXPECT_TRUE(pair.private_key.ends_with("-----END OPENSSH PRIVATE KEY-----\n"));

  const auto pub_text = vm_manager::os::read_file(dir / "id_ed25519.pub");
  ASSERT_TRUE(pub_text);
  EXPECT_EQ(*pub_text, "ssh-ed25519 " + pair.public_key.base64 + " vmctl@test\n");
  EXPECT_EQ(*vm_manager::os::read_file(priv), pair.private_key);

  // ssh-keygen derives the same public key from our private key file.
  const auto derived = words(tool_output({"ssh-keygen", "-y", "-f", priv.string()}));
  ASSERT_GE(derived.size(), 2u);
  EXPECT_EQ(derived[0], "ssh-ed25519");
  EXPECT_EQ(derived[1], pair.public_key.base64);

  // And the same fingerprint.
  const auto listed = words(tool_output({"ssh-keygen", "-l", "-E", "sha256", "-f", (dir / "id_ed25519.pub").string()}));
  ASSERT_GE(listed.size(), 2u);
  EXPECT_EQ(listed[0], "256");
  EXPECT_EQ(listed[1], ssh::fingerprint_sha256(pair.public_key));
  EXPECT_EQ(listed.back(), "(ED25519)");
}

TEST(SshKeys, TwoKeysDiffer) {
  const auto a = ssh::generate_ed25519();
  const auto b = ssh::generate_ed25519();
  EXPECT_NE(a.public_key.base64, b.public_key.base64);
  EXPECT_NE(a.private_key, b.private_key);
  EXPECT_EQ(a.public_key.line(), "ssh-ed25519 " + a.public_key.base64);
}

TEST(SshKeys, ReadsKeysWrittenBySshKeygen) {
  TempDir dir;
  const fs::path priv = dir / "k";
  tool_output({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "someone@host: with spaces", "-f", priv.string()});
  const auto key = ssh::read_public_key_file(dir / "k.pub");
  EXPECT_EQ(key.type, "ssh-ed25519");
  EXPECT_EQ(key.comment, "someone@host: with spaces");
  EXPECT_EQ(key.line() + "\n", *vm_manager::os::read_file(dir / "k.pub"));
  const auto listed = words(tool_output({"ssh-keygen", "-l", "-E", "sha256", "-f", (dir / "k.pub").string()}));
  ASSERT_GE(listed.size(), 2u);
  EXPECT_EQ(listed[1], ssh::fingerprint_sha256(key));

  // An RSA key too: any type libssh knows.
  tool_output({"ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", (dir / "r").string()});
  const auto rsa = ssh::read_public_key_file(dir / "r.pub");
  EXPECT_EQ(rsa.type, "ssh-rsa");
  const auto rsa_listed = words(tool_output({"ssh-keygen", "-l", "-E", "sha256", "-f", (dir / "r.pub").string()}));
  ASSERT_GE(rsa_listed.size(), 2u);
  EXPECT_EQ(rsa_listed[1], ssh::fingerprint_sha256(rsa));
}

TEST(SshKeys, ParseToleratesBlanksAndComments) {
  const auto pair = ssh::generate_ed25519();
  const auto key = ssh::parse_public_key("  ssh-ed25519\t" + pair.public_key.base64 + "   a  b \r\n");
  EXPECT_EQ(key.base64, pair.public_key.base64);
  EXPECT_EQ(key.comment, "a  b");

  TempDir dir;
  vm_manager::os::write_file_atomic(dir / "c.pub", "# my key\n\n" + pair.public_key.line() + "\n\n");
  EXPECT_EQ(ssh::read_public_key_file(dir / "c.pub"), pair.public_key);
}

TEST(SshKeys, RejectsBadPublicKeys) {
  const auto pair = ssh::generate_ed25519();
  const std::string b64 = pair.public_key.base64;
  const std::vector<std::string> bad{
      "",
      "   \n",
      "ssh-ed25519",
      "ssh-ed25519 ",
      "ssh-ed25519 not-base64!!",
      "ssh-ed25519 AAAA",
      "ssh-ed25519 " + b64.substr(0, b64.size() - 8),
      "ssh-rsa " + b64,  // blob says ssh-ed25519
      "ssh-foo " + b64,
      "ssh-ed25519 " + b64 + "\nssh-ed25519 " + b64,
      "-----BEGIN OPENSSH PRIVATE KEY-----",
      std::string("ssh-ed25519 ") + b64 + std::string("\0x", 2),
  };
  for (const auto& text : bad) {
    SCOPED_TRACE(text);
    expect_bad_key([&] { ssh::parse_public_key(text); });
  }

  TempDir dir;
  expect_bad_key([&] { ssh::read_public_key_file(dir / "missing.pub"); });
  vm_manager::os::write_file_atomic(dir / "empty.pub", "# nothing\n");
  expect_bad_key([&] { ssh::read_public_key_file(dir / "empty.pub"); });
  vm_manager::os::write_file_atomic(dir / "priv", pair.private_key);
  expect_bad_key([&] { ssh::read_public_key_file(dir / "priv"); });
  vm_manager::os::write_file_atomic(dir / "two.pub", pair.public_key.line() + "\n" + pair.public_key.line() + "\n");
  expect_bad_key([&] { ssh::read_public_key_file(dir / "two.pub"); });
  expect_bad_key([&] { ssh::generate_ed25519("two\nlines"); });
}

TEST(SshKeys, KnownHostsLines) {
  const auto host = ssh::generate_ed25519("host key");
  EXPECT_EQ(ssh::known_hosts_host("127.0.0.1", 2222), "[127.0.0.1]:2222");
  EXPECT_EQ(ssh::known_hosts_host("127.0.0.1", 22), "127.0.0.1");
  EXPECT_EQ(ssh::known_hosts_line("127.0.0.1", 2222, host.public_key),
            "[127.0.0.1]:2222 ssh-ed25519 " + host.public_key.base64 + "\n");
  EXPECT_EQ(ssh::known_hosts_line("vm.example", 22, host.public_key),
            "vm.example ssh-ed25519 " + host.public_key.base64 + "\n");
  for (const char* bad : {"", "a b", "a,b", "[a]", "a\nb", "*"}) {
    SCOPED_TRACE(bad);
    expect_bad_key([&] { ssh::known_hosts_host(bad, 2222); });
  }
  expect_bad_key([&] { ssh::known_hosts_line("h", 22, ssh::PublicKey{"ssh-ed25519", "AAAA", ""}); });
}

TEST(SshKeys, KnownHostsFileAcceptedBySshKeygen) {
  TempDir dir;
  const auto host = ssh::generate_ed25519();
  const fs::path known = dir / "known_hosts";
  ssh::write_known_hosts(known, "127.0.0.1", 2222, host.public_key);
  EXPECT_EQ(file_mode(known), 0600u);

  const std::string found = tool_output({"ssh-keygen", "-F", "[127.0.0.1]:2222", "-f", known.string()});
  EXPECT_NE(found.find("[127.0.0.1]:2222 ssh-ed25519 " + host.public_key.base64), std::string::npos) << found;
  // Another port is not a match (ssh-keygen -F exits 1 when nothing is found).
  auto other = vm_manager::os::run_process({"ssh-keygen", "-F", "[127.0.0.1]:2223", "-f", known.string()},
                                           std::chrono::seconds(30));
  EXPECT_FALSE(other.ok());
  EXPECT_EQ(other.out.find(host.public_key.base64), std::string::npos);

  ssh::write_known_hosts(known, "127.0.0.1", 22, host.public_key);
  const std::string plain = tool_output({"ssh-keygen", "-F", "127.0.0.1", "-f", known.string()});
  EXPECT_NE(plain.find("127.0.0.1 ssh-ed25519 " + host.public_key.base64), std::string::npos) << plain;
}

}  // namespace

// The generated #cloud-config, read back with yaml-cpp and with PyYAML
// (what cloud-init itself parses user-data with).
#include "cloudinit/user_data.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "os/process.hpp"
#include "ssh/keys.hpp"
#include "vm_manager/error.hpp"

namespace {
using vm_manager::Error;
using vm_manager::cloudinit::make_user_data;
using vm_manager::cloudinit::UserDataOptions;
using vm_manager::cloudinit::validate_user_name;
namespace ssh = vm_manager::ssh;

// PyYAML's safe_load of `text`, as JSON.
nlohmann::json pyyaml(const std::string& text) {
  vm_manager::os::ProcessSpec spec;
  spec.argv = {"python3", "-c",
               "import sys, json, yaml\n"
               "data = yaml.safe_load(sys.stdin.buffer.read().decode('utf-8'))\n"
               "sys.stdout.write(json.dumps(data))\n"};
  spec.stdin_data = text;
  auto result = vm_manager::os::run_process(spec, std::chrono::seconds(30));
  if (!result.ok()) throw std::runtime_error("python3 yaml failed: " + result.err);
  return nlohmann::json::parse(result.out);
}

struct Keys {
  ssh::KeyPair login = ssh::generate_ed25519("me@laptop");
  ssh::KeyPair host = ssh::generate_ed25519("vm host key");
};

UserDataOptions options_for(const Keys& keys) {
  UserDataOptions options;
  options.login_public_key = keys.login.public_key.line();
  options.host_private_key = keys.host.private_key;
  options.host_public_key = keys.host.public_key.line() + "\n";
  return options;
}

void check(const std::string& user_data, const UserDataOptions& options, const std::string& login_line,
           const std::string& host_line) {
  ASSERT_TRUE(user_data.starts_with("#cloud-config\n")) << user_data;
  const YAML::Node root = YAML::Load(user_data);
  ASSERT_TRUE(root.IsMap());
  ASSERT_TRUE(root["users"].IsSequence());
  ASSERT_EQ(root["users"].size(), 1u);
  const YAML::Node user = root["users"][0];
  EXPECT_EQ(user["name"].as<std::string>(), options.user);
  EXPECT_EQ(user["sudo"].as<std::string>(), "ALL=(ALL) NOPASSWD:ALL");
  EXPECT_EQ(user["shell"].as<std::string>(), "/bin/bash");
  EXPECT_EQ(user["lock_passwd"].as<bool>(), true);
  ASSERT_TRUE(user["ssh_authorized_keys"].IsSequence());
  ASSERT_EQ(user["ssh_authorized_keys"].size(), 1u);
  EXPECT_EQ(user["ssh_authorized_keys"][0].as<std::string>(), login_line);
  EXPECT_EQ(root["ssh_pwauth"].as<bool>(), false);
  EXPECT_EQ(root["ssh_keys"]["ed25519_private"].as<std::string>(), options.host_private_key);
  EXPECT_EQ(root["ssh_keys"]["ed25519_public"].as<std::string>(), host_line);
  if (options.hostname.empty()) {
    EXPECT_FALSE(root["hostname"]);
  } else {
    EXPECT_EQ(root["hostname"].as<std::string>(), options.hostname);
  }

  nlohmann::json expected = {
      {"users",
       {{{"name", options.user},
         {"sudo", "ALL=(ALL) NOPASSWD:ALL"},
         {"shell", "/bin/bash"},
         {"lock_passwd", true},
         {"ssh_authorized_keys", {login_line}}}}},
      {"ssh_pwauth", false},
      {"ssh_keys", {{"ed25519_private", options.host_private_key}, {"ed25519_public", host_line}}},
  };
  if (!options.hostname.empty()) expected["hostname"] = options.hostname;
  EXPECT_EQ(pyyaml(user_data), expected) << user_data;
}

TEST(UserData, PlainStructure) {
  Keys keys;
  UserDataOptions options = options_for(keys);
  const std::string text = make_user_data(options);
  check(text, options, keys.login.public_key.line(), keys.host.public_key.line());
  // The private key is a literal block, readable as it is.
  EXPECT_NE(text.find("ed25519_private: |"), std::string::npos) << text;
}

TEST(UserData, HostileValuesRoundTrip) {
  Keys keys;
  const std::vector<std::string> hostile{
      "it's \"quoted\"",
      "key: value",
      "a\nb\n",
      "# not a comment",
      "- item",
      "-",
      "日本語 ünïcödé 🚀",
      "yes",
      "null",
      "~",
      "0x1F",
      "1e3",
      "  leading and trailing  ",
      "back\\slash\ttab",
      "{[&*!|>'\"%@`]}",
      "---",
      "...",
  };
  for (const auto& value : hostile) {
    SCOPED_TRACE(value);
    UserDataOptions options = options_for(keys);
    options.hostname = value;
    std::string login_line = keys.login.public_key.line();
    if (value.find('\n') == std::string::npos) {
      // Comments cannot hold a newline; every other value rides along.
      ssh::PublicKey login = keys.login.public_key;
      login.comment = value;
      login_line = ssh::parse_public_key(login.line()).line();
      options.login_public_key = login_line;
    }
    check(make_user_data(options), options, login_line, keys.host.public_key.line());
  }
}

TEST(UserData, UserNames) {
  for (const char* good : {"vm", "_svc", "a", "user-1_x", "abcdefghijklmnopqrstuvwxyz012345"}) {
    SCOPED_TRACE(good);
    EXPECT_NO_THROW(validate_user_name(good));
  }
  for (const char* bad : {"", "Root", "1user", "-x", "a b", "a:b", "a\nb", "user.name", "é",
                          "abcdefghijklmnopqrstuvwxyz0123456"}) {
    SCOPED_TRACE(bad);
    try {
      validate_user_name(bad);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), "vm_manager::cloudinit::invalid_user");
      EXPECT_FALSE(e.help().empty());
    }
  }
  Keys keys;
  UserDataOptions options = options_for(keys);
  options.user = "bad user";
  EXPECT_THROW(make_user_data(options), Error);
  options.user = "ubuntu";
  check(make_user_data(options), options, keys.login.public_key.line(), keys.host.public_key.line());
}

TEST(UserData, RejectsBadKeys) {
  Keys keys;
  auto expect_code = [](const UserDataOptions& options, const std::string& code) {
    try {
      make_user_data(options);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
    }
  };
  UserDataOptions options = options_for(keys);
  options.login_public_key = "";
  expect_code(options, "vm_manager::ssh::bad_key");
  options = options_for(keys);
  options.host_public_key = "ssh-ed25519 AAAA";
  expect_code(options, "vm_manager::ssh::bad_key");
  const std::vector<std::string> bad_private{
      std::string(), std::string("garbage"), keys.host.private_key + "extra\n",
      std::string("-----BEGIN OPENSSH PRIVATE KEY-----\n key: x\n-----END OPENSSH PRIVATE KEY-----\n")};
  for (const std::string& priv : bad_private) {
    options = options_for(keys);
    options.host_private_key = priv;
    expect_code(options, "vm_manager::cloudinit::invalid_user_data");
  }
}

}  // namespace

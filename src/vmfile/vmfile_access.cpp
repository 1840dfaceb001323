// `cloud-init { hostname; ssh-key; user-data }` and `ssh { user; private-key }`,
// and how the two combine into spec.ssh.
#include <fmt/format.h>

#include <array>
#include <string_view>

#include "cloudinit/user_data.hpp"
#include "os/files.hpp"
#include "ssh/keys.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"
#include "vm_manager/spec_check.hpp"
#include "vmfile/vmfile_readers.hpp"

namespace vm_manager::vmfile {
namespace {

namespace fs = std::filesystem;

constexpr std::array<ElsewhereHint, 2> kSshNodes = {ElsewhereHint{"user", "ssh { … }"},
                                                    ElsewhereHint{"private-key", "ssh { … }"}};
constexpr std::array<ElsewhereHint, 3> kCloudInitNodes = {ElsewhereHint{"hostname", "cloud-init { … }"},
                                                          ElsewhereHint{"ssh-key", "cloud-init { … }"},
                                                          ElsewhereHint{"user-data", "cloud-init { … }"}};

void read_hostname(const kdl::Node& node, ReadContext& ctx, CloudInitConfig& cloud_init) {
  std::optional<std::string> hostname = string_leaf(node, "hostname \"web\"", ctx.problems);
  if (!hostname) return;
  try {
    validate_hostname(*hostname);
    cloud_init.hostname = *hostname;
  } catch (const Error& error) {
    ctx.problems.add(value_position(node), error.message(), error.help());
  }
}

void read_ssh_key(const kdl::Node& node, ReadContext& ctx, AccessDraft& access) {
  std::optional<std::string> raw = string_leaf(node, "ssh-key \"~/.ssh/id_ed25519.pub\"", ctx.problems);
  if (!raw) return;
  std::optional<fs::path> path = ctx.paths.existing_file(*raw, value_position(node), "ssh public key", ctx.problems);
  if (!path) return;
  try {
    access.public_key = ssh::read_public_key_file(*path).line();
    access.public_key_path = path;
  } catch (const Error& error) {
    ctx.problems.add(value_position(node), error.message(), "name a public key file (the .pub one)");
  }
}

void read_user_data(const kdl::Node& node, ReadContext& ctx, CloudInitConfig& cloud_init) {
  std::optional<std::string> raw = string_leaf(node, "user-data \"cloud-config.yaml\"", ctx.problems);
  if (!raw) return;
  std::optional<fs::path> path = ctx.paths.existing_file(*raw, value_position(node), "user-data file", ctx.problems);
  if (!path) return;
  try {
    std::string bytes = os::read_regular_file(*path, kMaxUserDataBytes, "user-data file");
    validate_user_data(bytes);
    cloud_init.user_data = std::move(bytes);
  } catch (const Error& error) {
    ctx.problems.add(value_position(node), error.message(), error.help());
  }
}

void read_user(const kdl::Node& node, ReadContext& ctx, AccessDraft& access) {
  std::optional<std::string> user = string_leaf(node, "user \"ubuntu\"", ctx.problems);
  if (!user) return;
  try {
    cloudinit::validate_user_name(*user);
    access.user = *user;
  } catch (const Error& error) {
    ctx.problems.add(value_position(node), error.message(), error.help());
  }
}

void read_private_key(const kdl::Node& node, ReadContext& ctx, AccessDraft& access) {
  std::optional<std::string> raw = string_leaf(node, "private-key \"~/.ssh/id_ed25519\"", ctx.problems);
  if (!raw) return;
  access.private_key_at = value_position(node);
  access.private_key_path = ctx.paths.existing_file(*raw, value_position(node), "ssh private key", ctx.problems);
}

// "KEY" for "KEY.pub" when that file exists (ssh-keygen's layout).
std::string private_key_beside(const fs::path& public_key) {
  if (public_key.extension() != ".pub") return {};
  fs::path key = fs::path(public_key).replace_extension();
  std::error_code error;
  return fs::is_regular_file(key, error) ? key.string() : std::string();
}

}  // namespace

void read_cloud_init(const kdl::Node& node, ReadContext& ctx, AccessDraft& access) {
  check_properties(node, {}, ctx.problems);
  reject_extra_arguments(node, 0, ctx.problems);
  CloudInitConfig cloud_init;
  const std::array<ChildRule, 3> rules = {
      ChildRule{"hostname", [&](const kdl::Node& child) { read_hostname(child, ctx, cloud_init); }},
      ChildRule{"ssh-key", [&](const kdl::Node& child) { read_ssh_key(child, ctx, access); }},
      ChildRule{"user-data", [&](const kdl::Node& child) { read_user_data(child, ctx, cloud_init); }},
  };
  read_children(node.children, "cloud-init", rules, kSshNodes, ctx.problems);
  access.cloud_init = std::move(cloud_init);
}

void read_ssh(const kdl::Node& node, ReadContext& ctx, AccessDraft& access) {
  check_properties(node, {}, ctx.problems);
  reject_extra_arguments(node, 0, ctx.problems);
  const std::array<ChildRule, 2> rules = {
      ChildRule{"user", [&](const kdl::Node& child) { read_user(child, ctx, access); }},
      ChildRule{"private-key", [&](const kdl::Node& child) { read_private_key(child, ctx, access); }},
  };
  read_children(node.children, "ssh", rules, kCloudInitNodes, ctx.problems);
}

SshConfig finish_ssh(const AccessDraft& access, ReadContext& ctx) {
  SshConfig ssh;
  ssh.user = access.user;
  if (access.public_key_path) {
    ssh.public_key = access.public_key;
    ssh.private_key_path =
        access.private_key_path ? access.private_key_path->string() : private_key_beside(*access.public_key_path);
    return ssh;
  }
  if (!access.private_key_path) return ssh;  // vmctl generates the VM's key pair
  // The guest must be told the public half; ssh-keygen leaves it beside
  // the private key as KEY.pub.
  fs::path beside = *access.private_key_path;
  beside += ".pub";
  std::error_code error;
  if (!fs::is_regular_file(beside, error)) {
    ctx.problems.add(access.private_key_at, "private-key needs its public key",
                     fmt::format("add cloud-init {{ ssh-key \"…\" }}, or keep the public key beside it as {}",
                                 util::printable(beside.string())));
    return ssh;
  }
  try {
    ssh.public_key = ssh::read_public_key_file(beside).line();
    ssh.private_key_path = access.private_key_path->string();
  } catch (const Error& problem) {
    ctx.problems.add(access.private_key_at, problem.message(),
                     "add cloud-init { ssh-key \"…\" } naming the public key");
  }
  return ssh;
}

}  // namespace vm_manager::vmfile

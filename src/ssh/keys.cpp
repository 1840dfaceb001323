#include "ssh/keys.hpp"

#include <memory>
#include <string>

#include <fmt/format.h>

#include "os/files.hpp"
#include "ssh/libssh_ptr.hpp"
#include "util/base64.hpp"
#include "util/strings.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::ssh {
namespace fs = std::filesystem;
namespace {

// An RSA-16384 public key line is under 3 KiB; anything much larger is not a key file.
constexpr std::size_t kMaxPublicKeyFileBytes = 64 * 1024;
using util::trim;

[[noreturn]] void keygen_failed(std::string_view what) {
  throw Error(errc::ssh_keygen_failed, fmt::format("cannot generate an SSH key: {} failed", what),
              "this points at a broken libssh installation or lack of memory; reinstall libssh and retry");
}

[[noreturn]] void bad_key(std::string message) {
  throw Error(errc::ssh_bad_key, std::move(message),
              "give a single OpenSSH public key line such as \"ssh-ed25519 AAAA… comment\" "
              "(the .pub file written by ssh-keygen)");
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Imports the blob with libssh, checking it names the same type as the line.
KeyPtr import_public(const PublicKey& key) {
  const ssh_keytypes_e type = libssh().ssh_key_type_from_name(key.type.c_str());
  if (type == SSH_KEYTYPE_UNKNOWN) bad_key(fmt::format("unknown SSH key type \"{}\"", key.type));
  ssh_key raw = nullptr;
  if (libssh().ssh_pki_import_pubkey_base64(key.base64.c_str(), type, &raw) != SSH_OK || raw == nullptr) {
    bad_key(fmt::format("the {} public key data is not valid", key.type));
  }
  KeyPtr imported(raw);
  // The blob carries its own type name; it must agree with the line's.
  const char* blob_type = libssh().ssh_key_type_to_char(libssh().ssh_key_type(imported.get()));
  if (blob_type == nullptr || key.type != blob_type) {
    // Certificates and sk- keys report a different base name; accept only exact matches.
    bad_key(fmt::format("the public key line says \"{}\" but its data is a {} key", key.type,
                        blob_type == nullptr ? "unknown" : blob_type));
  }
  return imported;
}

}  // namespace

std::string PublicKey::line() const {
  std::string out = type + " " + base64;
  if (!comment.empty()) out += " " + comment;
  return out;
}

KeyPair generate_ed25519(std::string_view comment) {
  if (comment.find_first_of("\r\n") != std::string_view::npos) {
    bad_key("an SSH key comment cannot contain a line break");
  }
  ssh_key raw = nullptr;
  if (libssh().ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK || raw == nullptr) keygen_failed("ssh_pki_generate");
  KeyPtr key(raw);

  char* priv_raw = nullptr;
  if (libssh().ssh_pki_export_privkey_base64(key.get(), nullptr, nullptr, nullptr, &priv_raw) != SSH_OK ||
      priv_raw == nullptr) {
    keygen_failed("ssh_pki_export_privkey_base64");
  }
  CharPtr priv(priv_raw);

  char* pub_raw = nullptr;
  if (libssh().ssh_pki_export_pubkey_base64(key.get(), &pub_raw) != SSH_OK || pub_raw == nullptr) {
    keygen_failed("ssh_pki_export_pubkey_base64");
  }
  CharPtr pub(pub_raw);
  const char* type = libssh().ssh_key_type_to_char(libssh().ssh_key_type(key.get()));
  if (type == nullptr) keygen_failed("ssh_key_type_to_char");

  KeyPair pair;
  pair.private_key = priv.get();
  if (pair.private_key.find("-----BEGIN OPENSSH PRIVATE KEY-----") != 0) {
    keygen_failed("exporting the key in OpenSSH format");
  }
  if (pair.private_key.back() != '\n') pair.private_key += '\n';
  pair.public_key = PublicKey{type, pub.get(), std::string(trim(comment))};
  return pair;
}

void write_key_pair(const fs::path& private_path, const KeyPair& pair) {
  os::write_file_atomic(private_path, pair.private_key, 0600);
  fs::path public_path = private_path;
  public_path += ".pub";
  // Not secret, but it lives in the VM's folder, where every file is private.
  os::write_file_atomic(public_path, pair.public_key.line() + "\n", 0600);
}

KeyPair generate_key_files(const fs::path& private_path, std::string_view comment) {
  KeyPair pair = generate_ed25519(comment);
  write_key_pair(private_path, pair);
  return pair;
}

PublicKey parse_public_key(std::string_view text) {
  text = trim(text);
  if (text.empty()) bad_key("the SSH public key is empty");
  if (text.find_first_of("\r\n") != std::string_view::npos) {
    bad_key("the SSH public key must be a single line");
  }
  if (text.find('\0') != std::string_view::npos) bad_key("the SSH public key contains a NUL byte");
  PublicKey key;
  const auto type_end = text.find_first_of(" \t");
  if (type_end == std::string_view::npos) bad_key("the SSH public key has no key data after its type");
  key.type = std::string(text.substr(0, type_end));
  text.remove_prefix(type_end);
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  const auto data_end = text.find_first_of(" \t");
  key.base64 = std::string(text.substr(0, data_end));
  if (data_end != std::string_view::npos) {
    text.remove_prefix(data_end);
    key.comment = std::string(trim(text));
  }
  if (key.base64.empty() || !util::base64_decode(key.base64)) {
    bad_key(fmt::format("the {} public key data is not valid base64", key.type));
  }
  import_public(key);
  return key;
}

PublicKey read_public_key_file(const fs::path& path) {
  std::string content;
  try {
    content = os::read_regular_file(path, kMaxPublicKeyFileBytes, "SSH public key file");
  } catch (const Error& e) {
    bad_key(e.message());
  }
  std::string_view rest = content;
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    std::string_view line = trim(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    if (line.empty() || line.front() == '#') continue;
    if (!trim(rest).empty()) {
      bad_key(fmt::format("SSH public key file {} holds more than one line", path.string()));
    }
    try {
      return parse_public_key(line);
    } catch (const Error& e) {
      bad_key(fmt::format("{}: {}", path.string(), e.message()));
    }
  }
  bad_key(fmt::format("SSH public key file {} holds no key", path.string()));
}

std::string fingerprint_sha256(const PublicKey& key) {
  KeyPtr imported = import_public(key);
  unsigned char* hash = nullptr;
  size_t length = 0;
  if (libssh().ssh_get_publickey_hash(imported.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &length) != SSH_OK ||
      hash == nullptr) {
    bad_key(fmt::format("cannot hash the {} public key", key.type));
  }
  std::string digest(reinterpret_cast<const char*>(hash), length);
  libssh().ssh_clean_pubkey_hash(&hash);
  std::string encoded = util::base64_encode(digest);
  while (!encoded.empty() && encoded.back() == '=') encoded.pop_back();
  return "SHA256:" + encoded;
}

std::string known_hosts_host(std::string_view host, std::uint16_t port) {
  if (host.empty()) bad_key("a known_hosts entry needs a host name or address");
  for (char c : host) {
    if (c == ' ' || c == '\t' || c == ',' || c == '[' || c == ']' || c == '\r' || c == '\n' || c == '\0' ||
        c == '*' || c == '?' || c == '!' || c == '|' || c == '#') {
      bad_key(fmt::format("\"{}\" cannot be written as a known_hosts host", host));
    }
  }
  if (port == 22) return std::string(host);
  return fmt::format("[{}]:{}", host, port);
}

std::string known_hosts_line(std::string_view host, std::uint16_t port, const PublicKey& host_key) {
  import_public(host_key);
  return fmt::format("{} {} {}\n", known_hosts_host(host, port), host_key.type, host_key.base64);
}

void write_known_hosts(const fs::path& path, std::string_view host, std::uint16_t port, const PublicKey& host_key) {
  os::write_file_atomic(path, known_hosts_line(host, port, host_key), 0600);
}

}  // namespace vm_manager::ssh

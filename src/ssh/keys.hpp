// SSH keys for VMs: ed25519 key pairs generated with libssh, public key
// files, SHA256 fingerprints and per-VM known_hosts files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace vm_manager::ssh {

// One public key line: "<type> <base64> [comment]".
struct PublicKey {
  std::string type;     // "ssh-ed25519"
  std::string base64;   // the key blob, base64
  std::string comment;  // may be empty; never contains a newline

  // "<type> <base64>" plus " <comment>" when there is one; no newline.
  std::string line() const;
  bool operator==(const PublicKey&) const = default;
};

struct KeyPair {
  std::string private_key;  // OpenSSH format ("-----BEGIN OPENSSH PRIVATE KEY-----…"), ends in '\n'
  PublicKey public_key;
};

// A fresh ed25519 key pair; `comment` goes on the public key (no newlines).
// Raises ssh::keygen_failed.
KeyPair generate_ed25519(std::string_view comment = {});

// Writes the private key to `private_path` (mode 0600) and the public key
// line plus '\n' to `private_path` + ".pub" (mode 0644), each atomically.
// Raises store::io.
void write_key_pair(const std::filesystem::path& private_path, const KeyPair& pair);

// Generates a key pair and writes it as write_key_pair does.
KeyPair generate_key_files(const std::filesystem::path& private_path, std::string_view comment = {});

// Parses and validates one public key line (trailing newline and
// surrounding blanks allowed); the key blob is checked with libssh.
// Raises ssh::bad_key.
PublicKey parse_public_key(std::string_view text);

// Reads a public key file: the first non-empty, non-'#' line. Raises
// ssh::bad_key (also when the file is missing, unreadable, not a regular
// file or over 64 KiB: it is read with os::read_regular_file).
PublicKey read_public_key_file(const std::filesystem::path& path);

// "SHA256:<unpadded base64>", as `ssh-keygen -l -E sha256` prints it.
// Raises ssh::bad_key.
std::string fingerprint_sha256(const PublicKey& key);

// The host field of a known_hosts line: `host` for port 22, else
// "[host]:port" (OpenSSH's form). Raises ssh::bad_key for an empty host or
// one containing blanks, commas or brackets.
std::string known_hosts_host(std::string_view host, std::uint16_t port);

// "<host field> <type> <base64>\n".
std::string known_hosts_line(std::string_view host, std::uint16_t port, const PublicKey& host_key);

// Writes a known_hosts file holding just that line (mode 0600, atomically).
void write_known_hosts(const std::filesystem::path& path, std::string_view host, std::uint16_t port,
                       const PublicKey& host_key);

}  // namespace vm_manager::ssh

// SHA-256 through OpenSSL's libcrypto (EVP), streaming, bounded memory.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace vm_manager::image {

// Lower-case hex digest of `data`.
std::string sha256_hex(std::string_view data);

// Lower-case hex digest of the file's bytes, read in chunks. Raises store::io.
std::string sha256_file(const std::filesystem::path& path);

// True for 64 hex digits (either case).
bool is_sha256_hex(std::string_view text);

}  // namespace vm_manager::image

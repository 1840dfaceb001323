#include "image/sha256.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "image/libraries.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace {

struct CtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { libcrypto().EVP_MD_CTX_free(ctx); }
};

std::string to_hex(const unsigned char* digest, unsigned int length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

[[noreturn]] void crypto_failure() {
  throw Error(errc::store_io, "OpenSSL could not compute a SHA-256 digest");
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const LibCrypto& crypto = libcrypto();
  if (crypto.EVP_Digest(data.data(), data.size(), digest, &length, crypto.EVP_sha256(), nullptr) != 1) {
    crypto_failure();
  }
  return to_hex(digest, length);
}

std::string sha256_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(errc::store_io, fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  }
  std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx(libcrypto().EVP_MD_CTX_new());
  if (!ctx || libcrypto().EVP_DigestInit_ex(ctx.get(), libcrypto().EVP_sha256(), nullptr) != 1) {
    ::close(fd);
    crypto_failure();
  }
  std::vector<char> buffer(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      throw Error(errc::store_io, fmt::format("cannot read {}: {}", path.string(), std::strerror(err)));
    }
    if (n == 0) break;
    if (libcrypto().EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(n)) != 1) {
      ::close(fd);
      crypto_failure();
    }
  }
  ::close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (libcrypto().EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1) crypto_failure();
  return to_hex(digest, length);
}

bool is_sha256_hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

}  // namespace vm_manager::image

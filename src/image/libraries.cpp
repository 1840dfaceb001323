#include "image/libraries.hpp"

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "os/shared_library.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace {

[[noreturn]] void unavailable(std::string_view library, std::string_view package, std::string_view use,
                              const std::string& why) {
  throw Error(errc::image_unavailable, fmt::format("cannot load {} ({})", library, why),
              fmt::format("install {} (apt-get install {}): {}", package, package, use));
}

[[noreturn]] void no_zstd(const std::string& why) {
  unavailable("libzstd", "libzstd1", "zstd-compressed images are decompressed with it", why);
}
[[noreturn]] void no_lzma(const std::string& why) {
  unavailable("liblzma", "liblzma5", "xz-compressed images are decompressed with it", why);
}
[[noreturn]] void no_z(const std::string& why) {
  unavailable("zlib", "zlib1g", "gzip-compressed images are decompressed with it", why);
}
[[noreturn]] void no_crypto(const std::string& why) {
  unavailable("OpenSSL's libcrypto", "libssl3", "images are checked against their SHA-256 digests with it", why);
}

LibZstd load_default_zstd() { return load_libzstd(kLibZstdSoname); }
LibLzma load_default_lzma() { return load_liblzma(kLibLzmaSoname); }
LibZ load_default_z() { return load_libz(kLibZSoname); }
LibCrypto load_default_crypto() { return load_libcrypto(kLibCryptoSoname); }

}  // namespace

LibZstd load_libzstd(const char* soname) {
  const os::SharedLibrary library(soname, no_zstd);
  LibZstd api;
  library.resolve("ZSTD_createDCtx", api.ZSTD_createDCtx);
  library.resolve("ZSTD_freeDCtx", api.ZSTD_freeDCtx);
  library.resolve("ZSTD_DStreamInSize", api.ZSTD_DStreamInSize);
  library.resolve("ZSTD_DStreamOutSize", api.ZSTD_DStreamOutSize);
  library.resolve("ZSTD_decompressStream", api.ZSTD_decompressStream);
  library.resolve("ZSTD_isError", api.ZSTD_isError);
  library.resolve("ZSTD_getErrorName", api.ZSTD_getErrorName);
  return api;
}

LibLzma load_liblzma(const char* soname) {
  const os::SharedLibrary library(soname, no_lzma);
  LibLzma api;
  library.resolve("lzma_stream_decoder", api.lzma_stream_decoder);
  library.resolve("lzma_code", api.lzma_code);
  library.resolve("lzma_end", api.lzma_end);
  return api;
}

LibZ load_libz(const char* soname) {
  const os::SharedLibrary library(soname, no_z);
  LibZ api;
  library.resolve("inflateInit2_", api.inflateInit2_);
  library.resolve("inflate", api.inflate);
  library.resolve("inflateReset", api.inflateReset);
  library.resolve("inflateEnd", api.inflateEnd);
  return api;
}

LibCrypto load_libcrypto(const char* soname) {
  const os::SharedLibrary library(soname, no_crypto);
  LibCrypto api;
  library.resolve("EVP_sha256", api.EVP_sha256);
  library.resolve("EVP_Digest", api.EVP_Digest);
  library.resolve("EVP_MD_CTX_new", api.EVP_MD_CTX_new);
  library.resolve("EVP_MD_CTX_free", api.EVP_MD_CTX_free);
  library.resolve("EVP_DigestInit_ex", api.EVP_DigestInit_ex);
  library.resolve("EVP_DigestUpdate", api.EVP_DigestUpdate);
  library.resolve("EVP_DigestFinal_ex", api.EVP_DigestFinal_ex);
  return api;
}

const LibZstd& libzstd() {
  static os::LazyLibrary<LibZstd> library(load_default_zstd);
  return library.get();
}

const LibLzma& liblzma() {
  static os::LazyLibrary<LibLzma> library(load_default_lzma);
  return library.get();
}

const LibZ& libz() {
  static os::LazyLibrary<LibZ> library(load_default_z);
  return library.get();
}

const LibCrypto& libcrypto() {
  static os::LazyLibrary<LibCrypto> library(load_default_crypto);
  return library.get();
}

}  // namespace vm_manager::image

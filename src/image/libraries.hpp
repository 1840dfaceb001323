// The C libraries of the image cache, each resolved from its shared object
// when first needed (see os/shared_library.hpp for why they are not linked):
// the decompressors when an image of their format arrives, OpenSSL's
// libcrypto when a digest is computed. Internal to src/image/.
#pragma once

#include <lzma.h>
#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>

namespace vm_manager::image {

// The functions src/image/ uses, each under its own name, with the prototype
// of the library's header. Types, constants and macros come from the headers
// as usual.
struct LibZstd {
  decltype(&::ZSTD_createDCtx) ZSTD_createDCtx = nullptr;
  decltype(&::ZSTD_freeDCtx) ZSTD_freeDCtx = nullptr;
  decltype(&::ZSTD_DStreamInSize) ZSTD_DStreamInSize = nullptr;
  decltype(&::ZSTD_DStreamOutSize) ZSTD_DStreamOutSize = nullptr;
  decltype(&::ZSTD_decompressStream) ZSTD_decompressStream = nullptr;
  decltype(&::ZSTD_isError) ZSTD_isError = nullptr;
  decltype(&::ZSTD_getErrorName) ZSTD_getErrorName = nullptr;
};

struct LibLzma {
  decltype(&::lzma_stream_decoder) lzma_stream_decoder = nullptr;
  decltype(&::lzma_code) lzma_code = nullptr;
  decltype(&::lzma_end) lzma_end = nullptr;
};

// zlib's inflateInit2 is a macro over inflateInit2_, which also takes the
// header's version and z_stream size.
struct LibZ {
  decltype(&::inflateInit2_) inflateInit2_ = nullptr;
  decltype(&::inflate) inflate = nullptr;
  decltype(&::inflateReset) inflateReset = nullptr;
  decltype(&::inflateEnd) inflateEnd = nullptr;
};

struct LibCrypto {
  decltype(&::EVP_sha256) EVP_sha256 = nullptr;
  decltype(&::EVP_Digest) EVP_Digest = nullptr;
  decltype(&::EVP_MD_CTX_new) EVP_MD_CTX_new = nullptr;
  decltype(&::EVP_MD_CTX_free) EVP_MD_CTX_free = nullptr;
  decltype(&::EVP_DigestInit_ex) EVP_DigestInit_ex = nullptr;
  decltype(&::EVP_DigestUpdate) EVP_DigestUpdate = nullptr;
  decltype(&::EVP_DigestFinal_ex) EVP_DigestFinal_ex = nullptr;
};

inline constexpr const char* kLibZstdSoname = "libzstd.so.1";
inline constexpr const char* kLibLzmaSoname = "liblzma.so.5";
inline constexpr const char* kLibZSoname = "libz.so.1";
inline constexpr const char* kLibCryptoSoname = "libcrypto.so.3";

// Each loaded on its first call (once, whichever thread comes first); later
// calls return the same table. Each raises Error(image::unavailable), on this
// and every later call, when its library cannot be loaded.
const LibZstd& libzstd();
const LibLzma& liblzma();
const LibZ& libz();
const LibCrypto& libcrypto();

// Loads `soname` and resolves the table without caching it: what the
// functions above do, apart for tests. Raise Error(image::unavailable).
LibZstd load_libzstd(const char* soname);
LibLzma load_liblzma(const char* soname);
LibZ load_libz(const char* soname);
LibCrypto load_libcrypto(const char* soname);

}  // namespace vm_manager::image

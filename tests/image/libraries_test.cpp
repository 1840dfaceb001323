// The image cache's C libraries are loaded on first use (image/libraries.hpp),
// not linked.
#include "image/libraries.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "image/sha256.hpp"
#include "support/mapped_library.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace {

using ::testing::HasSubstr;
using vmctl::test::library_mapped;

struct Missing {
  std::function<void()> load;
  std::string package;
};

TEST(ImageLibrariesTest, AMissingLibraryIsAnErrorNamingItsPackage) {
  const Missing missing[] = {
      {[] { (void)load_libzstd("libzstd-that-is-not-installed.so.1"); }, "libzstd1"},
      {[] { (void)load_liblzma("liblzma-that-is-not-installed.so.5"); }, "liblzma5"},
      {[] { (void)load_libz("libz-that-is-not-installed.so.1"); }, "zlib1g"},
      {[] { (void)load_libcrypto("libcrypto-that-is-not-installed.so.3"); }, "libssl3"},
  };
  for (const auto& library : missing) {
    SCOPED_TRACE(library.package);
    try {
      library.load();
      ADD_FAILURE() << "loading a missing library succeeded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::image_unavailable);
      EXPECT_THAT(e.message(), HasSubstr("that-is-not-installed"));
      EXPECT_THAT(e.help(), HasSubstr(library.package));
    }
  }
}

// In a fresh process: nothing maps libcrypto before the first digest, and
// the digest does (the decompressors are covered by image_cache_test's pulls).
TEST(ImageLibrariesTest, LibcryptoIsLoadedByTheFirstDigestNotBefore) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        if (library_mapped("libcrypto.so")) {
          std::fputs("libcrypto was mapped before the first digest\n", stderr);
          std::_Exit(1);
        }
        if (sha256_hex("abc") != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") std::_Exit(3);
        if (!library_mapped("libcrypto.so")) {
          std::fputs("libcrypto is not mapped after a digest\n", stderr);
          std::_Exit(2);
        }
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace vm_manager::image

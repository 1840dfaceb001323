// util::base64: RFC 4648 vectors, binary round trips, and what is refused.
#include "util/base64.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace vm_manager::util {
namespace {

using namespace std::string_literals;

// RFC 4648, section 10.
const std::vector<std::pair<std::string, std::string>> kVectors{
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

TEST(Base64, Rfc4648VectorsEncode) {
  for (const auto& [plain, encoded] : kVectors) EXPECT_EQ(base64_encode(plain), encoded) << plain;
}

TEST(Base64, Rfc4648VectorsDecode) {
  for (const auto& [plain, encoded] : kVectors) EXPECT_EQ(base64_decode(encoded), plain) << encoded;
}

TEST(Base64, AllByteValuesRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  std::string encoded = base64_encode(all);
  EXPECT_EQ(encoded.size(), (all.size() + 2) / 3 * 4);
  EXPECT_EQ(base64_decode(encoded), all);

  // Every length, so each padding case sees every byte value at each position.
  for (std::size_t length = 0; length <= all.size(); ++length) {
    for (std::size_t offset : {std::size_t{0}, all.size() - length}) {
      std::string part = all.substr(offset, length);
      EXPECT_EQ(base64_decode(base64_encode(part)), part) << "length " << length << " offset " << offset;
    }
  }
}

TEST(Base64, KnownBinaryValues) {
  EXPECT_EQ(base64_encode("\0"s), "AA==");
  EXPECT_EQ(base64_encode("\0\0\0"s), "AAAA");
  EXPECT_EQ(base64_encode("\xff\xff\xff"), "////");
  EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(base64_decode("+/8="), "\xfb\xff");
  EXPECT_EQ(base64_decode("AA=="), "\0"s);
}

TEST(Base64, OutputUsesOnlyTheAlphabet) {
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes += static_cast<char>((i * 7919) & 0xff);
  std::string encoded = base64_encode(bytes);
  for (char c : encoded) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '/' || c == '=';
    EXPECT_TRUE(ok) << "unexpected character " << int(c);
  }
}

class Base64Invalid : public ::testing::TestWithParam<std::string> {};

TEST_P(Base64Invalid, IsRejected) { EXPECT_EQ(base64_decode(GetParam()), std::nullopt); }

INSTANTIATE_TEST_SUITE_P(
    Inputs, Base64Invalid,
    ::testing::Values(
        // Wrong length.
        "Z", "Zg", "Zg=", "Zm9", "Zm9vY", "Zm9vYg=", "Zm9vYg===",
        // Characters outside the alphabet.
        "Zm9*", "Zm 9", "Zm9\n", "Zm9v\nYmFy", "Zm9-", "Zm9_", "Zm9\xff", "\xc3\xa9\xc3\xa9", "Zm\0v"s, "Zm9.",
        // Data after padding.
        "Zg==Zg==", "Zg=a", "Zm8=Zm9v", "Zg==AAAA",
        // Padding in the wrong place.
        "a===", "====", "=AAA", "A=AA", "AA=A", "Zm9v====", "Zm9v=Zg="));

TEST(Base64, EmptyDecodesToEmpty) { EXPECT_EQ(base64_decode(""), ""); }

}  // namespace
}  // namespace vm_manager::util

// Reading a registry's WWW-Authenticate challenge (image/auth_challenge.hpp).
#include "image/auth_challenge.hpp"

#include <gtest/gtest.h>

namespace vm_manager::image {
namespace {

TEST(AuthChallenge, ABearerChallengeAsDockerHubSendsIt) {
  const auto c = parse_auth_challenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull")");
  EXPECT_EQ(c.scheme, "bearer");
  EXPECT_EQ(c.params.at("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(c.params.at("service"), "registry.docker.io");
  EXPECT_EQ(c.params.at("scope"), "repository:library/debian:pull");
}

TEST(AuthChallenge, QuotedValuesKeepCommasAndEscapes) {
  const auto c = parse_auth_challenge(R"(Bearer scope="repository:a:pull,push", realm="x\"y\\z")");
  EXPECT_EQ(c.params.at("scope"), "repository:a:pull,push");
  EXPECT_EQ(c.params.at("realm"), R"(x"y\z)");
}

TEST(AuthChallenge, UnquotedValuesNamesInAnyCaseAndSpaces) {
  const auto c = parse_auth_challenge("BASIC Realm=vmctl , charset = UTF-8");
  EXPECT_EQ(c.scheme, "basic");
  EXPECT_EQ(c.params.at("realm"), "vmctl");
  EXPECT_EQ(c.params.at("charset"), "UTF-8");
}

TEST(AuthChallenge, WhatCannotBeReadIsLeftOut) {
  EXPECT_EQ(parse_auth_challenge("").scheme, "");
  EXPECT_TRUE(parse_auth_challenge("Negotiate").params.empty());
  EXPECT_EQ(parse_auth_challenge("Bearer realm=\"unterminated").params.at("realm"), "unterminated");
  EXPECT_TRUE(parse_auth_challenge("Bearer no-equals-sign").params.empty());
}

TEST(AuthChallenge, UrlEncodingLeavesOnlyUnreservedCharacters) {
  EXPECT_EQ(url_encode("repository:vm/base:pull"), "repository%3Avm%2Fbase%3Apull");
  EXPECT_EQ(url_encode("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(url_encode(std::string("\0\xff ", 3)), "%00%FF%20");
}

}  // namespace
}  // namespace vm_manager::image

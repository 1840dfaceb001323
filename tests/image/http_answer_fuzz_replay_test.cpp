// Runs the libFuzzer harness of a server's answer headers
// (fuzz/http_answer_fuzz.cpp, compiled in with g++) over its seed corpus and
// over deterministic mutations of it, so a build without clang still
// exercises it.
#include <gtest/gtest.h>

#include <iterator>
#include <random>
#include <string>

#include "support/fuzz_corpus.hpp"

namespace {

using vmctl::test::fuzz_corpus;
using vmctl::test::run_fuzz_harness;

TEST(HttpAnswerFuzzReplay, TheSeedCorpusPasses) {
  const auto seeds = fuzz_corpus("http_answer");
  ASSERT_GE(seeds.size(), 5u);
  for (const auto& seed : seeds) run_fuzz_harness(seed);
}

// Truncations, flipped bytes and numbers at the edges of what they fit in.
TEST(HttpAnswerFuzzReplay, MutatedAnswersAreReadOrRefused) {
  std::mt19937 rng(4242);
  const char* const values[] = {"0", "-1", "18446744073709551616", "9223372036854775807", "*", "", "\"\"",
                                "W/", "Sat, 31 Dec 9999 23:59:60 GMT", "Thu, 01 Jan 1970 00:00:00 GMT"};
  for (const auto& seed : fuzz_corpus("http_answer")) {
    for (int i = 0; i < 200 && !seed.empty(); ++i) {
      std::string input = seed;
      switch (rng() % 3) {
        case 0: input.resize(rng() % input.size()); break;
        case 1: input[rng() % input.size()] = static_cast<char>(rng() % 256); break;
        default: {
          const auto colon = input.find(':', rng() % input.size());
          if (colon == std::string::npos) break;
          const auto end = input.find('\n', colon);
          input.replace(colon + 1, end == std::string::npos ? std::string::npos : end - colon - 1,
                        std::string(" ") + values[rng() % std::size(values)]);
        }
      }
      run_fuzz_harness(input);
    }
  }
}

}  // namespace

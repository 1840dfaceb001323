// Runs the libFuzzer harness (fuzz/store_load_fuzz.cpp, compiled into this
// binary with g++) over the seed corpus and deterministic mutations of it,
// so a build without clang still exercises it. A finding shows up as a
// crash, an abort or an escaping exception.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "support/fuzz_corpus.hpp"

namespace {

std::vector<std::string> corpus() { return vmctl::test::fuzz_corpus("store"); }
void run(const std::string& input) { vmctl::test::run_fuzz_harness(input); }

TEST(StoreFuzzReplay, TheSeedCorpusPasses) {
  auto seeds = corpus();
  ASSERT_GE(seeds.size(), 5u);
  for (const auto& seed : seeds) run(seed);
}

// Truncations, byte flips and swapped values: the shapes a torn write or a
// hand edit leaves.
TEST(StoreFuzzReplay, MutatedRecordsEndInARecordOrAnError) {
  std::mt19937 rng(12345);
  const char* const values[] = {"null", "[]", "{}", "-1", "1e999", "\"\"", "\"../../x\"", "true", "\"\\u0000\""};
  for (const auto& seed : corpus()) {
    for (int i = 0; i < 150; ++i) {
      std::string input = seed;
      if (input.empty()) break;
      switch (rng() % 3) {
        case 0:
          input.resize(rng() % input.size());
          break;
        case 1:
          input[rng() % input.size()] = static_cast<char>(rng() % 256);
          break;
        default: {
          auto colon = input.find(':', rng() % input.size());
          if (colon == std::string::npos) break;
          auto end = input.find_first_of(",}", colon);
          if (end == std::string::npos) break;
          input.replace(colon + 1, end - colon - 1, values[rng() % std::size(values)]);
        }
      }
      run(input);
    }
  }
}

}  // namespace

// The seed corpus of a libFuzzer harness (fuzz/corpus/<name>), for the
// replay tests that run the harness, compiled in with g++, in every build.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "support/bytes.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace vmctl::test {

inline std::vector<std::string> fuzz_corpus(const std::string& name) {
  std::vector<std::string> seeds;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(VMCTL_SOURCE_DIR) / "fuzz/corpus" / name)) {
    seeds.push_back(read_bytes(entry.path()));
  }
  return seeds;
}

// A finding shows up as a crash, an abort or an escaping exception.
inline void run_fuzz_harness(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

}  // namespace vmctl::test

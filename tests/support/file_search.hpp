// Whether a secret (a password, a key) was written anywhere under a folder.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace vmctl::test {

inline bool some_file_contains(const std::filesystem::path& dir, const std::string& text) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string content{std::istreambuf_iterator<char>(in), {}};
    if (content.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace vmctl::test

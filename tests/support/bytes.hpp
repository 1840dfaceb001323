// A file's bytes, whole, for tests that compare what was written or pulled.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace vmctl::test {

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::filesystem::path& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

}  // namespace vmctl::test

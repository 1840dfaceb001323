// Whether this process has a shared object whose path contains `name`
// mapped (/proc/self/maps): for tests that libraries loaded on first use
// (os/shared_library.hpp) are loaded then and not before.
#pragma once

#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

namespace vmctl::test {

inline bool library_mapped(std::string_view name) {
  std::ifstream maps("/proc/self/maps");
  const std::string text(std::istreambuf_iterator<char>(maps), {});
  return text.find(name) != std::string::npos;
}

}  // namespace vmctl::test

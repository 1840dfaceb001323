#include "util/printable.hpp"

#include <fmt/format.h>

namespace vm_manager::util {

std::string printable(std::string_view text, std::size_t max_bytes) {
  std::string out;
  for (char c : text.substr(0, max_bytes)) {
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? std::string(1, c) : fmt::format("\\x{:02x}", u);
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

}  // namespace vm_manager::util

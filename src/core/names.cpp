#include "vm_manager/names.hpp"

#include <fmt/format.h>

#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager {
namespace {

using util::printable;

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_name_char(char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; }

}  // namespace

bool is_valid_vm_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxVmNameLength || !is_alnum(name.front())) return false;
  for (char c : name) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

void validate_vm_name(std::string_view name) {
  if (is_valid_vm_name(name)) return;
  std::string why;
  if (name.empty()) {
    why = "it is empty";
  } else if (name.size() > kMaxVmNameLength) {
    why = fmt::format("it is {} characters long (at most {})", name.size(), kMaxVmNameLength);
  } else if (!is_alnum(name.front())) {
    why = "it must begin with a letter or digit";
  } else {
    for (char c : name) {
      if (!is_name_char(c)) {
        why = fmt::format("it contains '{}'", printable(std::string_view(&c, 1)));
        break;
      }
    }
  }
  throw Error(errc::vm_invalid_name, fmt::format("invalid VM name '{}': {}", printable(name), why),
              "use 1-63 characters of A-Z, a-z, 0-9, '_', '.' and '-', beginning with a letter or digit");
}

}  // namespace vm_manager

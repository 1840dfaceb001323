#include "vm_manager/names.hpp"

#include <algorithm>
#include <string>

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

// What makes `name` no RFC 1123 host name, or empty when it is one.
std::string hostname_problem(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.size() > kMaxHostnameLength) {
    return fmt::format("it is {} characters long (at most {})", name.size(), kMaxHostnameLength);
  }
  for (std::size_t start = 0; start <= name.size();) {
    const std::size_t dot = std::min(name.find('.', start), name.size());
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty()) return "it has an empty label (two dots in a row, or a dot at either end)";
    if (label.size() > kMaxHostnameLabelLength) {
      return fmt::format("the label '{}…' is {} characters long (at most {})", printable(label.substr(0, 16)),
                         label.size(), kMaxHostnameLabelLength);
    }
    for (char c : label) {
      if (!is_alnum(c) && c != '-') return fmt::format("it contains '{}'", printable(std::string_view(&c, 1)));
    }
    if (label.front() == '-' || label.back() == '-') {
      return fmt::format("the label '{}' begins or ends with '-'", printable(label));
    }
    start = dot + 1;
  }
  return {};
}

}  // namespace

bool is_valid_vm_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxVmNameLength || !is_alnum(name.front())) return false;
  for (char c : name) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

namespace {

std::string vm_name_problem(std::string_view name) {
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
  return why;
}

constexpr const char* kNameRules = "use 1-63 characters of A-Z, a-z, 0-9, '_', '.' and '-', beginning with a letter or digit";

}  // namespace

void validate_vm_name(std::string_view name) {
  if (is_valid_vm_name(name)) return;
  throw Error(errc::vm_invalid_name, fmt::format("invalid VM name '{}': {}", printable(name), vm_name_problem(name)),
              kNameRules);
}

void validate_snapshot_name(std::string_view name) {
  if (is_valid_vm_name(name)) return;
  throw Error(errc::snapshot_invalid_name,
              fmt::format("invalid snapshot name '{}': {}", printable(name), vm_name_problem(name)), kNameRules);
}

bool is_valid_hostname(std::string_view name) { return hostname_problem(name).empty(); }

void validate_hostname(std::string_view name) {
  const std::string why = hostname_problem(name);
  if (why.empty()) return;
  throw Error(errc::spec_invalid, fmt::format("invalid hostname '{}': {}", printable(name), why),
              "use labels of 1-63 letters, digits and inner '-', joined by dots, 253 characters at most");
}

}  // namespace vm_manager

#include "image/auth_challenge.hpp"

#include <cctype>

#include <fmt/format.h>

#include "util/strings.hpp"

namespace vm_manager::image {
using util::lower;
using util::trim;

AuthChallenge parse_auth_challenge(std::string_view text) {
  AuthChallenge c;
  std::size_t space = text.find(' ');
  c.scheme = lower(std::string(text.substr(0, space)));
  std::size_t i = space == std::string_view::npos ? text.size() : space + 1;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ',' || text[i] == ' ')) ++i;
    std::size_t eq = text.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key = lower(trim(text.substr(i, eq - i)));
    std::string value;
    i = eq + 1;
    if (i < text.size() && text[i] == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        value += text[i];
      }
      ++i;
    } else {
      std::size_t end = text.find(',', i);
      value = trim(text.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
      i = end == std::string_view::npos ? text.size() : end;
    }
    c.params[key] = value;
  }
  return c;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace vm_manager::image

// Number literals of the hand-written KDL parser (no Debian package provides
// KDL). The grammar is the same in KDL 1.0 and 2.0:
//   decimal := sign? integer ('.' integer)? (('e' | 'E') sign? integer)?
//   integer := digit (digit | '_')*
//   hex / octal / binary := sign? '0x' | '0o' | '0b' digit (digit | '_')*
// Integers that do not fit in int64 are kept (flagged out_of_range) because
// KDL integers are unbounded.
#include <charconv>
#include <cstdint>
#include <limits>

#include "vmfile/kdl_scalars.hpp"

namespace vm_manager::kdl::detail {
namespace {

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// digit (digit | '_')* in the given radix, from `i`; returns false if there is
// no leading digit.
bool skip_digits(std::string_view text, std::size_t& i, int radix) {
  if (i >= text.size() || digit_value(text[i]) >= radix) return false;
  while (i < text.size() && (text[i] == '_' || digit_value(text[i]) < radix)) ++i;
  return true;
}

Integer make_integer(std::string_view text, std::string_view digits, int radix, bool negative) {
  // Accumulate the magnitude; -2^63 is the one value whose magnitude is
  // larger than int64's maximum.
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;
  std::uint64_t magnitude = 0;
  bool overflow = false;
  for (char c : digits) {
    if (c == '_') continue;
    auto d = static_cast<std::uint64_t>(digit_value(c));
    if (magnitude > (kLimit - d) / static_cast<std::uint64_t>(radix)) {
      overflow = true;
      break;
    }
    magnitude = magnitude * static_cast<std::uint64_t>(radix) + d;
  }
  if (!overflow && !negative && magnitude == kLimit) overflow = true;
  Integer integer{0, overflow, std::string(text)};
  if (!overflow) {
    integer.value = negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
  }
  return integer;
}

double make_double(std::string_view text) {
  std::string plain;
  for (char c : text) {
    if (c != '_' && c != '+') plain += c;
  }
  // "+" can also precede the exponent; from_chars accepts "e5" and "e-5" only.
  double value = 0;
  auto [end, error] = std::from_chars(plain.data(), plain.data() + plain.size(), value);
  (void)end;
  if (error == std::errc::result_out_of_range) {
    bool tiny = plain.find("e-") != std::string::npos || plain.find("E-") != std::string::npos;
    bool negative = !plain.empty() && plain[0] == '-';
    value = tiny ? 0.0 : std::numeric_limits<double>::infinity();
    if (negative) value = -value;
  }
  return value;
}

std::optional<Value::Data> parse_radix(std::string_view text, std::size_t i, bool negative) {
  char prefix = text[i + 1];
  int radix = prefix == 'x' ? 16 : prefix == 'o' ? 8 : 2;
  std::size_t start = i + 2;
  std::size_t end = start;
  if (!skip_digits(text, end, radix) || end != text.size()) return std::nullopt;
  return make_integer(text, text.substr(start), radix, negative);
}

}  // namespace

std::optional<Value::Data> parse_number(std::string_view text) {
  std::size_t i = 0;
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    ++i;
  }
  if (text.size() >= i + 2 && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'o' || text[i + 1] == 'b')) {
    return parse_radix(text, i, negative);
  }
  std::size_t digits_start = i;
  if (!skip_digits(text, i, 10)) return std::nullopt;
  std::size_t digits_end = i;
  bool is_integer = true;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!skip_digits(text, i, 10)) return std::nullopt;
    is_integer = false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!skip_digits(text, i, 10)) return std::nullopt;
    is_integer = false;
  }
  if (i != text.size()) return std::nullopt;
  if (is_integer) return make_integer(text, text.substr(digits_start, digits_end - digits_start), 10, negative);
  return make_double(text);
}

}  // namespace vm_manager::kdl::detail

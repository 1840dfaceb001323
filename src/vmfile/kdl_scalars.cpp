// Decides which kind of scalar starts at the cursor, for the hand-written
// KDL parser (no Debian package provides KDL), and reads identifiers,
// keywords and numbers.
#include "vmfile/kdl_scalars.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace vm_manager::kdl::detail {
namespace {

constexpr std::string_view kNumberHelp =
    "numbers look like 12, -3.5, 1_000, 1e10, 0xff, 0o755 or 0b1010; quote text that starts with a digit";

// The longest run of identifier code points at the cursor.
std::u32string read_run(Reader& reader) {
  std::u32string run;
  while (is_identifier_char(reader.peek(), reader.syntax())) run += reader.next();
  return run;
}

std::string shorten(const std::u32string& text) {
  constexpr std::size_t kMax = 40;
  return text.size() <= kMax ? to_utf8(text) : to_utf8(text.substr(0, kMax)) + "…";
}

bool starts_number(const Reader& reader) {
  char32_t c = reader.peek();
  char32_t after_sign = is_sign(c) ? reader.peek(1) : c;
  if (is_digit(after_sign)) return true;
  // KDL 2 rejects ".5", "+.5": neither numbers nor identifiers.
  std::size_t dot = is_sign(c) ? 1 : 0;
  return reader.v2() && reader.peek(dot) == '.' && is_digit(reader.peek(dot + 1));
}

Scalar read_number(Reader& reader) {
  Mark start = reader.mark();
  std::u32string run = read_run(reader);
  std::string ascii;
  for (char32_t c : run) {
    if (c >= 0x80) reader.fail_at(start, fmt::format("invalid number '{}'", shorten(run)), std::string(kNumberHelp));
    ascii += static_cast<char>(c);
  }
  auto number = parse_number(ascii);
  if (!number) reader.fail_at(start, fmt::format("invalid number '{}'", shorten(run)), std::string(kNumberHelp));
  return {std::move(*number), false, false};
}

Scalar read_keyword(Reader& reader) {
  Mark start = reader.mark();
  reader.next();  // '#'
  std::u32string name = read_run(reader);
  if (name == U"true") return {true};
  if (name == U"false") return {false};
  if (name == U"null") return {Value::Null{}};
  if (name == U"inf") return {std::numeric_limits<double>::infinity()};
  if (name == U"-inf") return {-std::numeric_limits<double>::infinity()};
  if (name == U"nan") return {std::numeric_limits<double>::quiet_NaN()};
  reader.fail_at(start, name.empty() ? "unexpected '#'" : fmt::format("unknown keyword #{}", shorten(name)),
                 "the keywords are #true, #false, #null, #inf, #-inf and #nan; raw strings look like #\"…\"#");
}

Scalar read_identifier(Reader& reader) {
  Mark start = reader.mark();
  std::u32string name = read_run(reader);
  if (reader.v2()) {
    for (std::u32string_view keyword : {U"true", U"false", U"null", U"inf", U"-inf", U"nan"}) {
      if (name == keyword) {
        std::string word = to_utf8(name);
        reader.fail_at(start, fmt::format("bare '{}' is not allowed in KDL 2", word),
                       fmt::format("write #{} for the keyword, or \"{}\" for the string", word, word));
      }
    }
  } else {
    if (name == U"true") return {true};
    if (name == U"false") return {false};
    if (name == U"null") return {Value::Null{}};
  }
  return {to_utf8(name), true, true};
}

bool starts_v2_raw_string(const Reader& reader) {
  std::size_t i = 0;
  while (reader.peek(i) == '#') ++i;
  return reader.peek(i) == '"';
}

bool starts_v1_raw_string(const Reader& reader) {
  if (reader.peek() != 'r') return false;
  std::size_t i = 1;
  while (reader.peek(i) == '#') ++i;
  return reader.peek(i) == '"';
}

Scalar string_scalar(std::string text) { return {std::move(text), true, false}; }

std::optional<Scalar> read_v2_scalar(Reader& reader) {
  char32_t c = reader.peek();
  if (c == '"') return string_scalar(read_quoted_string(reader));
  if (c == '#') return starts_v2_raw_string(reader) ? string_scalar(read_raw_string(reader)) : read_keyword(reader);
  if (starts_number(reader)) return read_number(reader);
  if (is_identifier_char(c, Syntax::v2)) return read_identifier(reader);
  return std::nullopt;
}

std::optional<Scalar> read_v1_scalar(Reader& reader) {
  char32_t c = reader.peek();
  if (c == '"') return string_scalar(read_v1_string(reader));
  if (starts_v1_raw_string(reader)) return string_scalar(read_v1_raw_string(reader));
  if (starts_number(reader)) return read_number(reader);
  if (is_identifier_char(c, Syntax::v1)) return read_identifier(reader);
  return std::nullopt;
}

}  // namespace

std::optional<Scalar> read_scalar(Reader& reader) {
  return reader.v2() ? read_v2_scalar(reader) : read_v1_scalar(reader);
}

}  // namespace vm_manager::kdl::detail

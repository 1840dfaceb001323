// Code point helpers for the hand-written KDL parser (no Debian package
// provides KDL). Character classes follow the KDL 2.0.0 spec's tables.
#include "vmfile/kdl_text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace vm_manager::kdl::detail {

bool is_unicode_space(char32_t c) {
  switch (c) {
    case 0x09: case 0x20: case 0xA0: case 0x1680: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_newline(char32_t c) {
  switch (c) {
    case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x85: case 0x2028: case 0x2029:
      return true;
    default:
      return false;
  }
}

bool is_disallowed(char32_t c) {
  return c <= 0x08 || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0xD800 && c <= 0xDFFF) ||
         c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) ||
         c == kBom || c > 0x10FFFF;
}

bool is_identifier_char(char32_t c, Syntax syntax) {
  if (c == kEnd || is_unicode_space(c) || is_newline(c) || is_disallowed(c)) return false;
  // KDL 2 freed `<>,` and reserved `#`; KDL 1 is the other way round.
  std::u32string_view reserved = syntax == Syntax::v2 ? U"\\/(){};[]\"#=" : U"\\/(){}<>;[]=,\"";
  return reserved.find(c) == std::u32string_view::npos;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) append_utf8(out, c);
  return out;
}

bool decode_utf8(std::string_view bytes, std::size_t& i, char32_t& out) {
  auto byte = [&](std::size_t at) { return static_cast<unsigned char>(bytes[at]); };
  unsigned char lead = byte(i);
  std::size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || i + length > bytes.size()) {
    ++i;
    return false;
  }
  char32_t c = length == 1 ? lead : lead & (0x7F >> length);
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      ++i;
      return false;
    }
    c = (c << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr char32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < kMinimum[length] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    ++i;
    return false;
  }
  i += length;
  out = c;
  return true;
}

namespace {

// Tracks line and column while decoding, with the same newline rules as the
// parser's Reader (CRLF counts once).
struct LineCounter {
  Position position;
  char32_t previous = 0;
  void advance(char32_t c) {
    if (is_newline(c)) {
      if (!(c == '\n' && previous == '\r')) {
        ++position.line;
        position.column = 1;
      }
    } else {
      ++position.column;
    }
    previous = c;
  }
};

// The line around a bad byte (at `column`), invalid bytes shown as U+FFFD.
// Sets `first_column` to the column of the first code point returned.
std::string line_at_bad_byte(std::string_view bytes, std::size_t bad, int column, int& first_column) {
  std::size_t start = bad;
  while (start > 0 && bytes[start - 1] != '\n' && bytes[start - 1] != '\r' && bad - start < 400) --start;
  while (start < bad && (static_cast<unsigned char>(bytes[start]) & 0xC0) == 0x80) ++start;
  std::string line;
  std::size_t i = start;
  int before = 0;
  int after = 0;
  while (i < bytes.size() && bytes[i] != '\n' && bytes[i] != '\r' && after < 200) {
    bool is_before = i < bad;
    char32_t c = 0xFFFD;
    if (!decode_utf8(bytes, i, c)) c = 0xFFFD;
    append_utf8(line, c);
    ++(is_before ? before : after);
  }
  first_column = column - before;
  return line;
}

}  // namespace

std::u32string decode_document(std::string_view bytes, const std::string& source_name) {
  std::u32string text;
  text.reserve(bytes.size());
  LineCounter counter;
  std::size_t i = 0;
  while (i < bytes.size()) {
    std::size_t at = i;
    char32_t c = 0;
    if (!decode_utf8(bytes, i, c)) {
      int first_column = 1;
      std::string line = line_at_bad_byte(bytes, at, counter.position.column, first_column);
      throw ParseError(source_name, counter.position,
                       fmt::format("invalid UTF-8 (byte 0x{:02X})", static_cast<unsigned char>(bytes[at])),
                       "save the file as UTF-8: KDL documents must be valid UTF-8", line, first_column);
    }
    if (c == kBom && at == 0) continue;  // a BOM is allowed only as the very first code point
    if (is_disallowed(c)) {
      text.push_back(c);
      int first_column = 1;
      std::string line = line_around(text, text.size() - 1, first_column);
      throw ParseError(source_name, counter.position,
                       fmt::format("{} may not appear literally in a KDL document", describe(c)),
                       "write it as a \\u{...} escape inside a quoted string, or remove it", line,
                       first_column);
    }
    text.push_back(c);
    counter.advance(c);
  }
  return text;
}

std::string describe(char32_t c) {
  if (c == kEnd) return "end of input";
  if (c > 0x20 && c < 0x7F) return fmt::format("'{}'", static_cast<char>(c));
  if (c == '\n') return "newline";
  if (c == ' ') return "space";
  if (c >= 0x80 && !is_disallowed(c) && !is_unicode_space(c) && !is_newline(c)) {
    std::string s = "'";
    append_utf8(s, c);
    return s + "'";
  }
  return fmt::format("U+{:04X}", static_cast<std::uint32_t>(c));
}

std::string line_around(std::u32string_view text, std::size_t index, int& first_column) {
  constexpr std::size_t kWindow = 200;
  index = std::min(index, text.size());
  std::size_t start = index;
  while (start > 0 && !is_newline(text[start - 1])) --start;
  std::size_t column_index = index - start;
  std::size_t shown_start = column_index > kWindow ? index - kWindow : start;
  std::size_t end = index;
  while (end < text.size() && !is_newline(text[end]) && end - index < kWindow) ++end;
  first_column = static_cast<int>(shown_start - start) + 1;
  return to_utf8(text.substr(shown_start, end - shown_start));
}

}  // namespace vm_manager::kdl::detail

// Code point level helpers for the hand-written KDL parser (no Debian
// package provides KDL): UTF-8 decoding and the character classes of the
// KDL 1.0 and 2.0 grammars.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "vmfile/kdl.hpp"

namespace vm_manager::kdl::detail {

enum class Syntax { v1, v2 };

// What Reader::peek returns past the end; outside the Unicode range, so it
// never equals a decoded code point.
inline constexpr char32_t kEnd = 0x110000;
inline constexpr char32_t kBom = 0xFEFF;

bool is_unicode_space(char32_t c);
// CR, LF, NEL, VT, FF, LS, PS (CRLF is one newline; callers handle the pair).
bool is_newline(char32_t c);
// Code points that may not appear literally anywhere in a KDL 2 document.
bool is_disallowed(char32_t c);
bool is_identifier_char(char32_t c, Syntax syntax);
inline bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }
inline bool is_hex_digit(char32_t c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline bool is_sign(char32_t c) { return c == '+' || c == '-'; }
// A Unicode scalar value: what \u{…} may produce.
inline bool is_scalar_value(char32_t c) { return c < 0xD800 || (c > 0xDFFF && c <= 0x10FFFF); }

void append_utf8(std::string& out, char32_t c);
std::string to_utf8(std::u32string_view text);

// Decodes one code point at `i` (advancing it). Returns false for invalid
// UTF-8 (overlong forms, surrogates, values above U+10FFFF, truncation);
// `i` then advances by one byte.
bool decode_utf8(std::string_view bytes, std::size_t& i, char32_t& out);

// Decodes a whole document, dropping a leading BOM. Invalid UTF-8 and
// disallowed literal code points are ParseErrors with their position.
std::u32string decode_document(std::string_view bytes, const std::string& source_name);

// A short, printable description of a code point for messages: 'x' or U+0007.
std::string describe(char32_t c);

// The text of the line containing `index` (at most a window of code points
// around it), for ParseError snippets. Sets `first_column` to the column of
// the first code point returned.
std::string line_around(std::u32string_view text, std::size_t index, int& first_column);

}  // namespace vm_manager::kdl::detail

// Quoted, raw and multi-line strings of the hand-written KDL parser (no
// Debian package provides KDL). Multi-line strings follow KDL 2.0.0 §
// "Multi-line String": whitespace escapes are resolved first, then the
// closing line's indentation is removed, then the other escapes apply.
#include <fmt/format.h>

#include <vector>

#include "vmfile/kdl_scalars.hpp"

namespace vm_manager::kdl::detail {
namespace {

// One piece of a multi-line string body, before dedenting.
struct Piece {
  enum Kind { literal, escape, newline } kind = literal;
  char32_t code_point = 0;  // literal
  std::string text;         // escape: its value
  Mark mark;
};

using Line = std::vector<Piece>;

bool is_literal_space(const Piece& piece) {
  return piece.kind == Piece::literal && is_unicode_space(piece.code_point);
}

bool all_space(const Line& line) {
  for (const Piece& piece : line) {
    if (!is_literal_space(piece)) return false;
  }
  return true;
}

std::u32string indentation_of(const Line& closing) {
  std::u32string prefix;
  for (const Piece& piece : closing) prefix += piece.code_point;
  return prefix;
}

bool starts_with(const Line& line, std::u32string_view prefix) {
  if (line.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (line[i].kind != Piece::literal || line[i].code_point != prefix[i]) return false;
  }
  return true;
}

void append_piece(std::string& out, const Piece& piece) {
  if (piece.kind == Piece::escape) {
    out += piece.text;
  } else {
    append_utf8(out, piece.code_point);
  }
}

std::vector<Line> split_lines(std::vector<Piece> pieces) {
  std::vector<Line> lines(1);
  for (Piece& piece : pieces) {
    if (piece.kind == Piece::newline) {
      lines.emplace_back();
    } else {
      lines.back().push_back(std::move(piece));
    }
  }
  return lines;
}

// Dedents by the closing line's whitespace and joins the lines with LF.
std::string dedent(const Reader& reader, std::vector<Piece> pieces) {
  std::vector<Line> lines = split_lines(std::move(pieces));
  const Line& closing = lines.back();
  for (const Piece& piece : closing) {
    if (!is_literal_space(piece)) {
      reader.fail_at(piece.mark, "the closing \"\"\" of a multi-line string must be on a line of its own",
                     "put the closing \"\"\" on its own line, indented like the text");
    }
  }
  std::u32string prefix = indentation_of(closing);
  std::string out;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    if (i > 0) out += '\n';
    const Line& line = lines[i];
    if (all_space(line)) continue;  // whitespace-only lines become empty
    if (!starts_with(line, prefix)) {
      reader.fail_at(line.front().mark,
                     "this line of a multi-line string is not indented like its closing \"\"\"",
                     "every line must start with exactly the whitespace before the closing \"\"\"");
    }
    for (std::size_t k = prefix.size(); k < line.size(); ++k) append_piece(out, line[k]);
  }
  return out;
}

std::string unclosed(std::string_view what) { return fmt::format("unclosed {}", what); }

// Reads the body of a multi-line string after its opening quotes (and the
// newline that must follow them), up to and including `closing`.
std::string read_multi_line_body(Reader& reader, std::u32string_view closing, bool escapes,
                                 const Mark& opening) {
  if (!reader.consume_newline()) {
    reader.fail("a multi-line string must start with a newline right after its opening \"\"\"",
                "write \"\"\" at the end of a line and the text on the following lines, or use \"…\" for one line");
  }
  std::vector<Piece> pieces;
  while (!reader.consume(closing)) {
    Mark mark = reader.mark();
    if (reader.at_end()) reader.fail_at(opening, unclosed("multi-line string"), "close it with \"\"\" on a line of its own");
    if (reader.consume_newline()) {
      pieces.push_back({Piece::newline, '\n', {}, mark});
    } else if (escapes && reader.peek() == '\\') {
      if (auto text = read_escape(reader)) pieces.push_back({Piece::escape, 0, std::move(*text), mark});
    } else {
      pieces.push_back({Piece::literal, reader.next(), {}, mark});
    }
  }
  return dedent(reader, std::move(pieces));
}

char32_t read_unicode_escape(Reader& reader) {
  Mark start = reader.mark();
  if (!reader.consume('{')) reader.fail_expected("'{' after \\u");
  char32_t value = 0;
  int digits = 0;
  while (is_hex_digit(reader.peek()) && digits < 6) {
    char32_t c = reader.next();
    value = value * 16 + (is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
    ++digits;
  }
  if (digits == 0 || !reader.consume('}')) {
    reader.fail_at(start, "a \\u escape needs 1 to 6 hex digits in braces", "write e.g. \\u{1F600}");
  }
  if (!is_scalar_value(value)) {
    reader.fail_at(start, fmt::format("\\u{{{:X}}} is not a Unicode scalar value", static_cast<std::uint32_t>(value)));
  }
  return value;
}

}  // namespace

std::optional<std::string> read_escape(Reader& reader) {
  Mark start = reader.mark();
  reader.next();  // the backslash
  char32_t c = reader.peek();
  if (reader.v2() && (is_unicode_space(c) || is_newline(c))) {
    while (is_unicode_space(reader.peek()) || reader.at_newline()) reader.next();
    return std::nullopt;
  }
  reader.next();
  switch (c) {
    case 'n': return "\n";
    case 'r': return "\r";
    case 't': return "\t";
    case '\\': return "\\";
    case '"': return "\"";
    case 'b': return "\b";
    case 'f': return "\f";
    case 'u': {
      std::string out;
      append_utf8(out, read_unicode_escape(reader));
      return out;
    }
    default: break;
  }
  if (c == 's' && reader.v2()) return " ";
  if (c == '/' && !reader.v2()) return "/";
  std::string written = c > 0x20 && c < 0x7F ? fmt::format("\\{}", static_cast<char>(c)) : "\\ followed by " + describe(c);
  reader.fail_at(start, fmt::format("invalid escape {} in a string", written),
                 "valid escapes are \\n \\r \\t \\\\ \\\" \\b \\f \\s \\u{…}; use a raw string #\"…\"# for literal backslashes");
}

std::string read_quoted_string(Reader& reader) {
  Mark opening = reader.mark();
  if (reader.consume(U"\"\"\"")) return read_multi_line_body(reader, U"\"\"\"", true, opening);
  reader.next();
  std::string out;
  while (!reader.consume('"')) {
    if (reader.at_end()) reader.fail_at(opening, unclosed("string"), "close it with '\"'");
    if (reader.at_newline()) {
      reader.fail("a quoted string cannot span lines",
                  "close the string on this line, write \\n, or use a multi-line \"\"\" string");
    }
    if (reader.peek() == '\\') {
      if (auto text = read_escape(reader)) out += *text;
    } else {
      append_utf8(out, reader.next());
    }
  }
  return out;
}

std::string read_raw_string(Reader& reader) {
  Mark opening = reader.mark();
  std::u32string closing;
  while (reader.consume('#')) closing += '#';
  if (reader.consume(U"\"\"\"")) return read_multi_line_body(reader, U"\"\"\"" + closing, false, opening);
  if (!reader.consume('"')) reader.fail_expected("'\"' to open a raw string");
  closing.insert(closing.begin(), '"');
  std::string out;
  while (!reader.consume(closing)) {
    if (reader.at_end()) reader.fail_at(opening, unclosed("raw string"), "close it with '\"' and as many '#' as it opened with");
    if (reader.at_newline()) {
      reader.fail("a raw string cannot span lines", "use a multi-line raw string #\"\"\" … \"\"\"#");
    }
    append_utf8(out, reader.next());
  }
  return out;
}

std::string read_v1_string(Reader& reader) {
  Mark opening = reader.mark();
  reader.next();
  std::string out;
  while (!reader.consume('"')) {
    if (reader.at_end()) reader.fail_at(opening, unclosed("string"), "close it with '\"'");
    if (reader.peek() == '\\') {
      if (auto text = read_escape(reader)) out += *text;
    } else {
      append_utf8(out, reader.next());
    }
  }
  return out;
}

std::string read_v1_raw_string(Reader& reader) {
  Mark opening = reader.mark();
  reader.next();  // the r
  std::u32string closing = U"\"";
  while (reader.consume('#')) closing += '#';
  if (!reader.consume('"')) reader.fail_expected("'\"' to open a raw string");
  std::string out;
  while (!reader.consume(closing)) {
    if (reader.at_end()) reader.fail_at(opening, unclosed("raw string"), "close it with '\"' and as many '#' as it opened with");
    append_utf8(out, reader.next());
  }
  return out;
}

}  // namespace vm_manager::kdl::detail

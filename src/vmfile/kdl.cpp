// KDL entry point: version selection and error reporting for the
// hand-written KDL parser (Debian ships no KDL library).
//
// Version rule: a leading "/- kdl-version N" marker (or ParseOptions::version)
// picks the syntax. Otherwise the document is parsed as KDL 2.0 and, if that
// fails, as KDL 1.0, as the spec recommends (no document means different
// things in the two). If both fail, the error of the attempt that got further
// into the document is reported (ties go to KDL 2): a KDL 1 document with a
// typo fails early as KDL 2 (at `true` or at its first bare value) but late
// as KDL 1, while a KDL 2 document fails early as KDL 1.
#include "vmfile/kdl.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "vmfile/kdl_parser.hpp"
#include "vmfile/kdl_text.hpp"

namespace vm_manager::kdl {

const Value* Node::property(std::string_view key) const {
  for (const Property& p : properties) {
    if (p.name == key) return &p.value;
  }
  return nullptr;
}

ParseError::ParseError(std::string source_name, Position position, std::string what, std::string help,
                       std::string line_text, int line_text_first_column)
    : Error(errc::vmfile_syntax,
            fmt::format("{}:{}:{}: {}", source_name, position.line, position.column, what), std::move(help)),
      source_name_(std::move(source_name)),
      position_(position),
      reason_(std::move(what)),
      line_text_(std::move(line_text)),
      line_text_first_column_(line_text_first_column) {}

namespace {

using detail::Syntax;

// Code points that would garble a terminal or the caret's alignment.
bool is_unprintable(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c < 0xA0) || detail::is_disallowed(c) || detail::is_newline(c);
}

// Renders one code point for the snippet; returns its width in columns.
int render(std::string& out, char32_t c, int display_column) {
  constexpr int kTabWidth = 4;
  if (c == '\t') {
    int width = kTabWidth - display_column % kTabWidth;
    out.append(static_cast<std::size_t>(width), ' ');
    return width;
  }
  detail::append_utf8(out, is_unprintable(c) ? U'\uFFFD' : c);
  return 1;
}

std::u32string decode_lenient(std::string_view text) {
  std::u32string out;
  std::size_t i = 0;
  while (i < text.size()) {
    char32_t c = 0xFFFD;
    if (!detail::decode_utf8(text, i, c)) c = 0xFFFD;
    out += c;
  }
  return out;
}

}  // namespace

std::string ParseError::snippet() const {
  constexpr std::size_t kContext = 60;
  std::u32string line = decode_lenient(line_text_);
  std::size_t caret = static_cast<std::size_t>(std::max(0, position_.column - line_text_first_column_));
  caret = std::min(caret, line.size());
  std::size_t begin = caret > kContext ? caret - kContext : 0;
  std::size_t end = std::min(line.size(), caret + kContext);
  std::string shown = begin > 0 || line_text_first_column_ > 1 ? "…" : "";
  int width = begin > 0 || line_text_first_column_ > 1 ? 1 : 0;
  int caret_width = 0;
  for (std::size_t i = begin; i < end; ++i) {
    if (i == caret) caret_width = width;
    width += render(shown, line[i], width);
  }
  if (caret >= end) caret_width = width;
  if (end < line.size()) shown += "…";
  std::string gutter = std::to_string(position_.line);
  return fmt::format(" {} | {}\n {} | {}^", gutter, shown, std::string(gutter.size(), ' '),
                     std::string(static_cast<std::size_t>(caret_width), ' '));
}

namespace {

// '/-' unicode-space* 'kdl-version' unicode-space+ ('1' | '2') unicode-space* newline
std::optional<Syntax> version_marker(std::u32string_view text) {
  std::size_t i = 0;
  auto spaces = [&] {
    std::size_t start = i;
    while (i < text.size() && detail::is_unicode_space(text[i])) ++i;
    return i - start;
  };
  auto literal = [&](std::u32string_view word) {
    if (text.substr(i, word.size()) != word) return false;
    i += word.size();
    return true;
  };
  if (!literal(U"/-")) return std::nullopt;
  spaces();
  if (!literal(U"kdl-version") || spaces() == 0 || i >= text.size()) return std::nullopt;
  char32_t digit = text[i++];
  if (digit != '1' && digit != '2') return std::nullopt;
  spaces();
  if (i >= text.size() || !detail::is_newline(text[i])) return std::nullopt;
  return digit == '1' ? Syntax::v1 : Syntax::v2;
}

Document parse_as(std::u32string_view text, Syntax syntax, const ParseOptions& options) {
  return {detail::parse_nodes(text, syntax, options), syntax == Syntax::v1 ? 1 : 2};
}

bool got_further(const ParseError& a, const ParseError& b) {
  const Position& pa = a.position();
  const Position& pb = b.position();
  return pa.line != pb.line ? pa.line > pb.line : pa.column > pb.column;
}

std::optional<Syntax> requested_syntax(std::u32string_view text, const ParseOptions& options) {
  switch (options.version) {
    case Version::v1: return Syntax::v1;
    case Version::v2: return Syntax::v2;
    case Version::detect: break;
  }
  return version_marker(text);
}

}  // namespace

Document parse(std::string_view bytes, const ParseOptions& options) {
  std::u32string text = detail::decode_document(bytes, options.source_name);
  if (auto syntax = requested_syntax(text, options)) return parse_as(text, *syntax, options);
  try {
    return parse_as(text, Syntax::v2, options);
  } catch (const ParseError& v2_error) {
    try {
      return parse_as(text, Syntax::v1, options);
    } catch (const ParseError& v1_error) {
      if (!got_further(v1_error, v2_error)) throw v2_error;
      throw ParseError(v1_error.source_name(), v1_error.position(), v1_error.reason() + " (read as KDL 1.0)",
                       v1_error.help() + "; this document reads further as KDL 1.0 than as KDL 2.0",
                       v1_error.line_text(), v1_error.line_text_first_column());
    }
  }
}

}  // namespace vm_manager::kdl

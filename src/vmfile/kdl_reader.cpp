// The cursor of the hand-written KDL parser (no Debian package provides KDL).
#include "vmfile/kdl_reader.hpp"

#include <fmt/format.h>

namespace vm_manager::kdl::detail {

char32_t Reader::next() {
  if (at_end()) return kEnd;
  char32_t c = text_[index_++];
  if (is_newline(c)) {
    // The LF of a CRLF pair does not start another line.
    bool crlf_lf = c == '\n' && index_ >= 2 && text_[index_ - 2] == '\r';
    if (!crlf_lf) {
      ++position_.line;
      position_.column = 1;
    }
  } else {
    ++position_.column;
  }
  return c;
}

bool Reader::consume(char32_t c) {
  if (peek() != c) return false;
  next();
  return true;
}

bool Reader::consume(std::u32string_view literal) {
  if (!looking_at(literal)) return false;
  for (std::size_t i = 0; i < literal.size(); ++i) next();
  return true;
}

bool Reader::consume_newline() {
  if (!at_newline()) return false;
  if (next() == '\r') consume('\n');
  return true;
}

void Reader::fail(std::string what, std::string help) const { fail_at(mark(), std::move(what), std::move(help)); }

void Reader::fail_at(const Mark& at, std::string what, std::string help) const {
  int first_column = 1;
  std::string line = line_around(text_, at.index, first_column);
  throw ParseError(options_.source_name, at.position, std::move(what), std::move(help), std::move(line),
                   first_column);
}

void Reader::fail_expected(std::string_view what) const {
  fail(fmt::format("expected {}, found {}", what, describe(peek())));
}

}  // namespace vm_manager::kdl::detail

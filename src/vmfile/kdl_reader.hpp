// The cursor of the hand-written KDL parser (no Debian package provides
// KDL): walks decoded code points, keeps line and column, raises ParseErrors.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "vmfile/kdl.hpp"
#include "vmfile/kdl_text.hpp"

namespace vm_manager::kdl::detail {

inline constexpr std::string_view kSpecHelp = "KDL syntax is described at https://kdl.dev/spec";

struct Mark {
  std::size_t index = 0;
  Position position;
};

class Reader {
 public:
  Reader(std::u32string_view text, Syntax syntax, const ParseOptions& options)
      : text_(text), syntax_(syntax), options_(options) {}

  Syntax syntax() const { return syntax_; }
  bool v2() const { return syntax_ == Syntax::v2; }
  int max_depth() const { return options_.max_depth; }

  char32_t peek(std::size_t ahead = 0) const {
    return index_ + ahead < text_.size() ? text_[index_ + ahead] : kEnd;
  }
  bool at_end() const { return index_ >= text_.size(); }
  bool looking_at(std::u32string_view literal) const {
    return text_.substr(index_, literal.size()) == literal;
  }
  // True at a newline (a CRLF pair counts as one).
  bool at_newline() const { return is_newline(peek()); }

  char32_t next();
  bool consume(char32_t c);
  bool consume(std::u32string_view literal);
  // Consumes one newline, CRLF as a whole. Returns false if none is here.
  bool consume_newline();

  Mark mark() const { return {index_, position_}; }
  void reset(const Mark& mark) {
    index_ = mark.index;
    position_ = mark.position;
  }
  Position position() const { return position_; }

  [[noreturn]] void fail(std::string what, std::string help = std::string(kSpecHelp)) const;
  [[noreturn]] void fail_at(const Mark& at, std::string what, std::string help = std::string(kSpecHelp)) const;
  // "expected <what>, found <the code point here>"
  [[noreturn]] void fail_expected(std::string_view what) const;

 private:
  std::u32string_view text_;
  Syntax syntax_;
  const ParseOptions& options_;
  std::size_t index_ = 0;
  Position position_;
};

}  // namespace vm_manager::kdl::detail

// A KDL document parser (KDL 2.0.0 as specified at https://kdl.dev, with a
// fallback to KDL 1.0.0), used to read VMFile.kdl files.
//
// Written by hand: Debian ships no KDL library, and the grammar is small.
// The parser never recurses without bound (children blocks and nested
// /* */ comments are limited by ParseOptions::max_depth), validates UTF-8
// and reports every syntax error as a ParseError with a position.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vm_manager/error.hpp"
#include "vm_manager/vmfile.hpp"

namespace vm_manager::kdl {

// 1-based. column counts Unicode code points, not bytes.
// The public one, which VMFile definitions carry (vm_manager/vmfile.hpp).
using Position = SourcePosition;

// KDL integers are unbounded. `value` holds the integer when it fits in an
// int64; otherwise `out_of_range` is set (value is 0) so that a schema can say
// "too large" instead of silently wrapping. `text` is the literal as written.
struct Integer {
  std::int64_t value = 0;
  bool out_of_range = false;
  std::string text;
  friend bool operator==(const Integer&, const Integer&) = default;
};

struct Value {
  using Null = std::monostate;
  // Numbers with a fraction or exponent, and #inf/#-inf/#nan, are doubles.
  using Data = std::variant<Null, bool, Integer, double, std::string>;

  std::optional<std::string> type_annotation;
  Data data;
  Position position;  // where the value (or its type annotation) starts

  bool is_null() const { return std::holds_alternative<Null>(data); }
  const std::string* as_string() const { return std::get_if<std::string>(&data); }
  const Integer* as_integer() const { return std::get_if<Integer>(&data); }
  const bool* as_bool() const { return std::get_if<bool>(&data); }
  const double* as_double() const { return std::get_if<double>(&data); }
};

struct Property {
  std::string name;
  Value value;
  Position position;  // of the key
};

struct Node {
  std::optional<std::string> type_annotation;
  std::string name;
  std::vector<Value> arguments;
  // One entry per key, in the order keys first appear. Per the spec the
  // rightmost duplicate wins: its key and value replace the earlier entry in
  // place. The replaced entries are kept, in order, in
  // `overridden_properties` so a schema can warn about them.
  std::vector<Property> properties;
  std::vector<Property> overridden_properties;
  std::vector<Node> children;
  Position position;  // of the node's first token (its type annotation or name)

  const Value* property(std::string_view key) const;
};

struct Document {
  std::vector<Node> nodes;
  int version = 2;  // 1 or 2: the syntax that parsed the document
};

enum class Version { detect, v1, v2 };

struct ParseOptions {
  // Maximum nesting of children blocks and of /* */ comments.
  int max_depth = 128;
  // Names the document in messages ("<source_name>:<line>:<column>: …").
  std::string source_name = "<kdl>";
  // detect: a leading "/- kdl-version N" marker decides; without one, KDL 2
  // is tried first and KDL 1 if that fails (the spec's recommended fallback).
  Version version = Version::detect;
};

// A syntax error. message() is one line, "<source>:<line>:<column>: <what>";
// code() is errc::vmfile_syntax.
class ParseError : public Error {
 public:
  // line_text: (part of) the offending line, UTF-8; its first code point is
  // at column line_text_first_column.
  ParseError(std::string source_name, Position position, std::string what, std::string help,
             std::string line_text, int line_text_first_column = 1);

  const Position& position() const noexcept { return position_; }
  const std::string& source_name() const noexcept { return source_name_; }
  // What went wrong, without the location prefix.
  const std::string& reason() const noexcept { return reason_; }
  // The offending line and a caret under the column, e.g.
  //    3 | node 1.0v2
  //      |      ^
  // Tabs are expanded and control characters replaced, so it prints safely.
  std::string snippet() const;
  // snippet(), for the CLI's error output.
  std::string details() const override { return snippet() + "\n"; }
  // The raw material of snippet(): (part of) the offending line, and the
  // column of its first code point.
  const std::string& line_text() const noexcept { return line_text_; }
  int line_text_first_column() const noexcept { return line_text_first_column_; }

 private:
  std::string source_name_;
  Position position_;
  std::string reason_;
  std::string line_text_;
  int line_text_first_column_;
};

// Parses a whole document. Throws ParseError on any syntax error.
Document parse(std::string_view text, const ParseOptions& options = {});

}  // namespace vm_manager::kdl

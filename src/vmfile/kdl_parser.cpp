// The node grammar of the hand-written KDL parser (no Debian package
// provides KDL): documents, nodes, entries, children blocks, comments,
// slashdashes and line continuations, for KDL 2.0.0 and KDL 1.0.0.
//
// Recursion happens only for children blocks, bounded by max_depth; block
// comments nest through a counter. Slashdashed parts are parsed in full (they
// must be valid) and then dropped.
#include "vmfile/kdl_parser.hpp"

#include <fmt/format.h>

#include <unordered_map>

#include "vmfile/kdl_scalars.hpp"

namespace vm_manager::kdl::detail {
namespace {

std::string at_text(const Position& p) { return fmt::format("{}:{}", p.line, p.column); }

class Parser {
 public:
  explicit Parser(Reader& reader) : reader_(reader) {}

  std::vector<Node> document() { return nodes(0, std::nullopt); }

 private:
  // ---- whitespace and comments -------------------------------------------

  void block_comment() {
    Mark opening = reader_.mark();
    reader_.consume(U"/*");
    int depth = 1;
    while (depth > 0) {
      if (reader_.at_end()) reader_.fail_at(opening, "unclosed /* comment", "close it with */ (comments nest)");
      if (reader_.consume(U"/*")) {
        if (++depth > reader_.max_depth()) {
          reader_.fail(fmt::format("/* comments nested more than {} deep", reader_.max_depth()));
        }
      } else if (reader_.consume(U"*/")) {
        --depth;
      } else {
        reader_.next();
      }
    }
  }

  void line_comment() {
    reader_.consume(U"//");
    while (!reader_.at_end() && !reader_.at_newline()) reader_.next();
    reader_.consume_newline();
  }

  // ws := unicode-space | multi-line-comment
  bool ws() {
    bool any = false;
    for (;;) {
      if (is_unicode_space(reader_.peek())) {
        reader_.next();
      } else if (reader_.looking_at(U"/*")) {
        block_comment();
      } else {
        return any;
      }
      any = true;
    }
  }

  // escline := '\' ws* (single-line-comment | newline | eof)
  void escline() {
    reader_.next();
    ws();
    if (reader_.looking_at(U"//")) return line_comment();
    if (reader_.consume_newline()) return;
    if (reader_.at_end() && reader_.v2()) return;
    reader_.fail_expected("a newline after the line continuation '\\'");
  }

  // node-space := ws* escline ws* | ws+  (repeated). True if any was read.
  bool node_space() {
    bool any = false;
    for (;;) {
      if (ws()) {
        any = true;
      } else if (reader_.peek() == '\\') {
        escline();
        any = true;
      } else {
        return any;
      }
    }
  }

  // Whitespace where newlines are allowed: between nodes and after a slashdash.
  void line_space() {
    for (;;) {
      if (reader_.v2() ? node_space() : ws()) continue;
      if (reader_.consume_newline()) continue;
      if (reader_.looking_at(U"//")) {
        line_comment();
        continue;
      }
      return;
    }
  }

  // After '/-': KDL 2 allows newlines and comments, KDL 1 only node-space.
  void after_slashdash() {
    if (reader_.v2()) {
      line_space();
    } else {
      node_space();
    }
    if (reader_.looking_at(U"/-")) reader_.fail("a slashdash cannot comment out another slashdash");
  }

  // ---- nodes --------------------------------------------------------------

  // Nodes up to the end of input (top level) or the '}' of the block opened
  // at `opening` (not consumed).
  std::vector<Node> nodes(int depth, std::optional<Mark> opening) {
    std::vector<Node> result;
    for (;;) {
      line_space();
      if (reader_.at_end()) {
        if (opening) reader_.fail_at(*opening, "unclosed children block '{'", "close it with '}'");
        return result;
      }
      if (reader_.peek() == '}') {
        if (opening) return result;
        reader_.fail("unexpected '}' with no open children block");
      }
      bool dropped = reader_.consume(U"/-");
      if (dropped) after_slashdash();
      Node parsed = node(depth, opening.has_value());
      if (!dropped) result.push_back(std::move(parsed));
    }
  }

  Node node(int depth, bool in_block) {
    Node result;
    Mark start = reader_.mark();
    result.position = start.position;
    result.type_annotation = type_annotation();
    Mark name_mark = reader_.mark();
    auto name = read_scalar(reader_);
    if (!name) reader_.fail_expected("a node name");
    if (!name->is_string) reader_.fail_at(name_mark, "a node name must be a string", "quote it: \"name\"");
    result.name = std::get<std::string>(std::move(name->data));
    entries_and_children(result, depth);
    terminator(in_block);
    return result;
  }

  void entries_and_children(Node& node, int depth) {
    PropertyIndex properties;  // so that many properties stay linear
    bool had_children = false;  // a block, slashdashed or not
    bool had_live_children = false;
    for (;;) {
      bool spaced = node_space();
      char32_t c = reader_.peek();
      if (reader_.at_end() || reader_.at_newline() || c == ';' || c == '}' || reader_.looking_at(U"//")) return;
      bool dropped = reader_.consume(U"/-");
      if (dropped) after_slashdash();
      if (reader_.peek() == '{') {
        if (had_live_children && !dropped) reader_.fail("a node can have only one children block");
        had_children = true;
        had_live_children = had_live_children || !dropped;
        auto block = children(depth);
        if (!dropped) node.children = std::move(block);
        continue;
      }
      if (!spaced && !dropped) reader_.fail_expected("whitespace before the next argument or property");
      if (had_children) {
        reader_.fail("arguments and properties must come before the children block",
                     "move them in front of the '{'");
      }
      entry(node, dropped, properties);
    }
  }

  void terminator(bool in_block) {
    if (reader_.at_end() || reader_.consume_newline() || reader_.consume(';')) return;
    if (reader_.looking_at(U"//")) return line_comment();
    if (reader_.peek() == '}' && in_block) return;
    reader_.fail_expected("the end of the node (a newline or ';')");
  }

  std::vector<Node> children(int depth) {
    Mark opening = reader_.mark();
    if (depth + 1 > reader_.max_depth()) {
      reader_.fail(fmt::format("children blocks nested more than {} deep", reader_.max_depth()),
                   "flatten the document");
    }
    reader_.next();  // '{'
    std::vector<Node> result = nodes(depth + 1, opening);
    reader_.next();  // '}'
    return result;
  }

  // ---- entries ------------------------------------------------------------

  using PropertyIndex = std::unordered_map<std::string, std::size_t>;

  void entry(Node& node, bool dropped, PropertyIndex& properties) {
    Mark start = reader_.mark();
    auto type = type_annotation();
    Mark scalar_mark = reader_.mark();
    auto scalar = read_scalar(reader_);
    if (!scalar) reader_.fail_expected("an argument or property");
    if (equals_follows()) {
      if (type) reader_.fail_at(start, "a property key cannot have a type annotation", "annotate the value instead: key=(type)value");
      if (!scalar->is_string) reader_.fail_at(scalar_mark, "a property key must be a string", "quote it: \"key\"=value");
      Property property{std::get<std::string>(std::move(scalar->data)), value(), start.position};
      if (!dropped) add_property(node, std::move(property), properties);
      return;
    }
    Value argument = make_value(std::move(type), std::move(*scalar), start, scalar_mark);
    if (!dropped) node.arguments.push_back(std::move(argument));
  }

  // Consumes '=' if it follows (KDL 2 allows node-space around it).
  bool equals_follows() {
    Mark before = reader_.mark();
    if (reader_.v2()) node_space();
    if (reader_.consume('=')) {
      if (reader_.v2()) node_space();
      return true;
    }
    reader_.reset(before);
    return false;
  }

  Value value() {
    Mark start = reader_.mark();
    auto type = type_annotation();
    Mark scalar_mark = reader_.mark();
    auto scalar = read_scalar(reader_);
    if (!scalar) reader_.fail_expected("a value");
    return make_value(std::move(type), std::move(*scalar), start, scalar_mark);
  }

  Value make_value(std::optional<std::string> type, Scalar scalar, const Mark& start, const Mark& scalar_mark) {
    if (scalar.bare_identifier && !reader_.v2()) {
      reader_.fail_at(scalar_mark, "a value must be quoted in KDL 1", "write \"text\" (KDL 2 allows bare words)");
    }
    return Value{std::move(type), std::move(scalar.data), start.position};
  }

  // The rightmost duplicate wins (KDL spec); the one it replaces is kept in
  // overridden_properties.
  static void add_property(Node& node, Property property, PropertyIndex& index) {
    auto [it, added] = index.try_emplace(property.name, node.properties.size());
    if (added) {
      node.properties.push_back(std::move(property));
      return;
    }
    Property& slot = node.properties[it->second];
    node.overridden_properties.push_back(std::move(slot));
    slot = std::move(property);
  }

  // type := '(' node-space* string node-space* ')' node-space*   (KDL 2)
  // type := '(' identifier ')'                                   (KDL 1)
  std::optional<std::string> type_annotation() {
    if (reader_.peek() != '(') return std::nullopt;
    Mark opening = reader_.mark();
    reader_.next();
    if (reader_.v2()) node_space();
    Mark name_mark = reader_.mark();
    auto name = read_scalar(reader_);
    if (!name) reader_.fail_expected("a type name");
    if (!name->is_string) reader_.fail_at(name_mark, "a type annotation must be a string", "quote it: (\"type\")");
    if (reader_.v2()) node_space();
    if (!reader_.consume(')')) {
      reader_.fail(fmt::format("expected ')' to close the type annotation opened at {}, found {}",
                               at_text(opening.position), describe(reader_.peek())));
    }
    if (reader_.v2()) node_space();
    return std::get<std::string>(std::move(name->data));
  }

  Reader& reader_;
};

}  // namespace

std::vector<Node> parse_nodes(std::u32string_view text, Syntax syntax, const ParseOptions& options) {
  Reader reader(text, syntax, options);
  return Parser(reader).document();
}

}  // namespace vm_manager::kdl::detail

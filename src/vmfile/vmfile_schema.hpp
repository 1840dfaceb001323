// The toolkit the VMFile readers are built from: a list that collects
// problems instead of throwing at the first, readers for node values that
// report wrong types and ranges at the value's position, and a dispatcher
// for a block's children that reports unknown and repeated nodes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmfile/kdl.hpp"
#include "vmfile/vmfile.hpp"

namespace vm_manager::vmfile {

class Problems {
 public:
  void add(kdl::Position at, std::string message, std::string help = {});
  bool empty() const { return list_.empty(); }
  std::size_t size() const { return list_.size(); }
  // Sorted by position, so they read in file order.
  std::vector<Problem> take();

 private:
  std::vector<Problem> list_;
};

// "a string", "an integer", "a decimal number", "a boolean", "#null".
std::string describe_type(const kdl::Value& value);

// File order of positions: line first, then column.
bool comes_before(kdl::Position a, kdl::Position b);

// Of two places, the one further down the file: where a conflict between
// two nodes is reported (at the second, the one that made it a conflict).
kdl::Position later_of(kdl::Position a, kdl::Position b);

// "1:5" for messages that point back at an earlier place.
std::string describe_position(kdl::Position position);

// `name` quoted for a message, made printable.
std::string as_code(std::string_view name);

// Reports type annotations: a VMFile gives them no meaning, so one is a
// mistake rather than something to ignore silently.
void reject_annotation(const kdl::Value& value, Problems& problems);
void reject_annotation(const kdl::Node& node, Problems& problems);

// Reports every property not in `allowed` (with a did-you-mean), and each
// property given more than once.
void check_properties(const kdl::Node& node, std::span<const std::string_view> allowed, Problems& problems);

// Reports a children block on a node that takes none.
void reject_children(const kdl::Node& node, Problems& problems);

// Reports each argument after the first `count`.
void reject_extra_arguments(const kdl::Node& node, std::size_t count, Problems& problems);

// The node's first argument; reports its absence, naming `expected`
// ("a string", "an integer", …) and showing `example`.
const kdl::Value* first_argument(const kdl::Node& node, std::string_view expected, std::string_view example,
                                 Problems& problems);

// Typed reads of one value; a wrong type is reported, naming the node.
std::optional<std::string> read_string(const kdl::Value& value, std::string_view node_name, Problems& problems);
std::optional<bool> read_bool(const kdl::Value& value, std::string_view node_name, Problems& problems);

struct IntegerRange {
  std::int64_t min;
  std::int64_t max;
  std::string_view unit;  // "MB", "GB", or empty
};
std::optional<std::int64_t> read_integer(const kdl::Value& value, std::string_view node_name, IntegerRange range,
                                         Problems& problems);

// Leaf nodes such as `memory 2048`: exactly one argument of the type, no
// properties, no children. Every problem is reported; nullopt when the value
// is unusable.
std::optional<std::string> string_leaf(const kdl::Node& node, std::string_view example, Problems& problems);
std::optional<bool> bool_leaf(const kdl::Node& node, std::string_view example, Problems& problems);
std::optional<std::int64_t> integer_leaf(const kdl::Node& node, IntegerRange range, std::string_view example,
                                         Problems& problems);

// One kind of child a block accepts.
struct ChildRule {
  std::string_view name;
  std::function<void(const kdl::Node&)> read;
  bool repeatable = false;  // `provision` may appear many times; most nodes once
};

// Where else a misplaced node belongs: `hostname` at the top of a vm block
// is a cloud-init child. Used for a hint when the name is unknown here.
struct ElsewhereHint {
  std::string_view name;
  std::string_view belongs_in;  // "cloud-init { … }"
};

// Runs the rule of each node in `children`, in order. Reports nodes no rule
// names ("unknown node `memroy` in vm \"web\""; did-you-mean against the
// rules, else an ElsewhereHint, else the valid names) and repeats of
// non-repeatable ones. Annotated node names are reported too.
void read_children(std::span<const kdl::Node> children, std::string_view where, std::span<const ChildRule> rules,
                   std::span<const ElsewhereHint> elsewhere, Problems& problems);

}  // namespace vm_manager::vmfile

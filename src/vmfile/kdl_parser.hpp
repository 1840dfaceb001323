// The node grammar of the hand-written KDL parser (no Debian package
// provides KDL), for one syntax version.
#pragma once

#include <string_view>
#include <vector>

#include "vmfile/kdl.hpp"
#include "vmfile/kdl_text.hpp"

namespace vm_manager::kdl::detail {

// Parses decoded text (BOM already removed) as KDL 1 or KDL 2.
std::vector<Node> parse_nodes(std::u32string_view text, Syntax syntax, const ParseOptions& options);

}  // namespace vm_manager::kdl::detail

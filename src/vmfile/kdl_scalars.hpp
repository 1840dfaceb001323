// Strings, numbers and keywords of the hand-written KDL parser (no Debian
// package provides KDL).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "vmfile/kdl.hpp"
#include "vmfile/kdl_reader.hpp"

namespace vm_manager::kdl::detail {

struct Scalar {
  Value::Data data;
  bool is_string = false;        // may name a node or key a property
  bool bare_identifier = false;  // written without quotes (KDL 1 allows these only as names)
};

// Reads a string, number or keyword at the cursor. Returns nullopt, having
// consumed nothing, when none starts here; a malformed one is a ParseError.
std::optional<Scalar> read_scalar(Reader& reader);

// KDL 2 strings. The cursor is on the opening '"' / first '#'.
std::string read_quoted_string(Reader& reader);
std::string read_raw_string(Reader& reader);
// KDL 1 strings: "…" (literal newlines allowed) and r"…" / r#"…"#.
std::string read_v1_string(Reader& reader);
std::string read_v1_raw_string(Reader& reader);

// Reads `\` escapes of quoted strings (the cursor is on the '\'). Returns
// nullopt for a whitespace escape (the `\` and the whitespace are skipped);
// otherwise the escaped text.
std::optional<std::string> read_escape(Reader& reader);

// Parses a number literal (already cut at the next non-identifier code
// point). nullopt if it is not a valid KDL number.
std::optional<Value::Data> parse_number(std::string_view text);

}  // namespace vm_manager::kdl::detail

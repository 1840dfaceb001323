#pragma once

#include <string>
#include <string_view>

namespace vm_manager::util {

// `text` for a one-line message: control and non-ASCII bytes as \xNN, cut
// after `max_bytes` (80: a name or value quoted in a message), so user input
// can neither break the line nor drive the terminal.
std::string printable(std::string_view text, std::size_t max_bytes = 80);

}  // namespace vm_manager::util

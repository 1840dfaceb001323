#pragma once

#include <string>
#include <string_view>

namespace vm_manager::util {

// `text` for a one-line message: control and non-ASCII bytes as \xNN, cut
// after 80 bytes, so user input can neither break the line nor drive the
// terminal.
std::string printable(std::string_view text);

}  // namespace vm_manager::util

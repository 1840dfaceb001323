// Small string helpers that several components need.
#pragma once

#include <string>
#include <string_view>

namespace vm_manager::util {

// ASCII lower case (header names, MAC addresses, digests).
std::string lower(std::string_view text);

// `text` without leading and trailing white space (as std::isspace in the
// C locale).
std::string_view trim(std::string_view text);

// A byte count for people: one decimal and binary units ("512.0 B", "1.5 MiB").
std::string human_bytes(double bytes);

}  // namespace vm_manager::util

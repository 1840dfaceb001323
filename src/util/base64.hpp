// Standard base64 (RFC 4648, with padding). Written by hand because it is
// twenty lines and no package we already depend on exposes it as public API.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vm_manager::util {

std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not valid padded base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace vm_manager::util

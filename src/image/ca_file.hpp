// VMCTL_CA_FILE: the certificate authorities https servers (image URLs,
// registries, their CDNs) are checked against, instead of the system's store
// (as curl's --cacert), e.g. a company's private CA; and the hints of TLS
// failures, which point at it.
#pragma once

#include <string>
#include <string_view>

#include "net/http_client.hpp"
#include "vm_manager/environment.hpp"

namespace vm_manager::image {

inline constexpr std::string_view kCaFileVariable = "VMCTL_CA_FILE";

// The absolute path VMCTL_CA_FILE names, checked to be a readable regular
// file holding at least one PEM certificate; `fallback` when the variable is
// unset or empty. Raises input::not_found, input::not_regular,
// input::unreadable or input::too_large, naming the variable and the path.
std::string ca_file_from_environment(const Environment& env, const std::string& fallback = {});

// What to do about a TLS failure (one of net::is_tls()).
std::string tls_hint(net::TransferFailure failure);

}  // namespace vm_manager::image

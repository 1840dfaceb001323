// A registry's WWW-Authenticate challenge (RFC 9110 §11.6.1), read from a
// server that may be hostile: the scheme and its auth-params.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace vm_manager::image {

struct AuthChallenge {
  std::string scheme;                         // lower case: "bearer", "basic"
  std::map<std::string, std::string> params;  // lower-case names: realm, service, scope…
};

// Bearer realm="…",service="…",scope="repository:a:pull,push". Quoted values
// may hold commas and backslash escapes; a later param of the same name wins.
// Never fails: what cannot be read is left out.
AuthChallenge parse_auth_challenge(std::string_view text);

// `text` with everything but RFC 3986's unreserved characters %-encoded, for
// a query parameter.
std::string url_encode(std::string_view text);

}  // namespace vm_manager::image

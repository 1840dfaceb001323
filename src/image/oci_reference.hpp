// OCI image references as vmctl sources:
//   oci://REGISTRY/REPOSITORY:TAG
//   oci://REGISTRY/REPOSITORY@sha256:HEX      (also REPOSITORY:TAG@sha256:HEX)
// REGISTRY is a host name, IPv4 address or [IPv6] address with an optional
// :PORT; REPOSITORY is one or more lower-case path segments.
#pragma once

#include <string>
#include <string_view>

namespace vm_manager::image {

struct OciReference {
  std::string registry;    // "host[:port]", as given
  std::string repository;  // "a/b/c"
  std::string tag;         // empty when only a digest was given
  std::string digest;      // "sha256:<64 lower-case hex>" or empty

  // What /v2/<repository>/manifests/<…> is asked for: the digest wins.
  const std::string& manifest_reference() const { return digest.empty() ? tag : digest; }
  // The host without the port (brackets kept off an IPv6 address).
  std::string host() const;
};

bool is_oci_source(std::string_view source);

// Raises Error(image::bad_source) naming the part that is malformed.
OciReference parse_oci_reference(std::string_view source);

}  // namespace vm_manager::image

// A client for the OCI distribution API (v2) that finds the disk image layer
// of an OCI reference and downloads it: manifests and image indexes (OCI and
// Docker v2), anonymous bearer tokens, and credentials from the environment.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "image/download.hpp"
#include "image/oci_reference.hpp"
#include "vm_manager/environment.hpp"

namespace vm_manager::image {

// Layer media types taken as a disk image, in order of preference.
inline constexpr std::string_view kQcow2LayerType = "application/vnd.cloudnebula.qcow2.layer.v1";
inline constexpr std::string_view kOctetStreamLayerType = "application/octet-stream";

struct RegistryCredentials {
  std::string username;
  std::string password;  // only ever sent, never printed
};

struct RegistryOptions {
  DownloadOptions download;
  std::optional<RegistryCredentials> credentials;
  bool insecure = false;  // plain http even for a registry that is not local

  // VMCTL_REGISTRY_USERNAME / VMCTL_REGISTRY_PASSWORD and VMCTL_REGISTRY_INSECURE=1.
  static RegistryOptions from_environment(const Environment& env, DownloadOptions download);
};

struct OciLayer {
  std::string manifest_digest;  // of what the reference named (a manifest or an index)
  std::string digest;           // of the layer blob, "sha256:<hex>"
  std::string media_type;
  std::uint64_t size = 0;
};

class RegistryClient {
 public:
  RegistryClient(OciReference reference, RegistryOptions options);

  // "http://host:port" or "https://host": http for localhost, 127.0.0.1 and
  // [::1] (as docker does) or when insecure, https otherwise.
  std::string base_url() const;

  // Fetches the manifest (through an index when there is one: the
  // linux/amd64 entry, or the only one) and picks the disk image layer.
  // Raises image::not_found, registry_failed, registry_auth, bad_image,
  // checksum_mismatch (a manifest that does not match the reference's digest).
  OciLayer resolve();

  // Downloads the layer's blob into `partial`, resuming what an earlier
  // attempt at the same blob left there, and checks its sha256 against the
  // layer's digest: on a mismatch `partial` is deleted and
  // image::checksum_mismatch raised.
  void download_layer(const OciLayer& layer, const std::filesystem::path& partial);

 private:
  struct Response;
  Response get(const std::string& url, const std::string& accept);
  void authenticate(const std::string& challenge);
  void fetch_token(const std::string& challenge);
  std::string fetch_manifest(const std::string& reference, const std::string& expected_digest, std::string& media_type);

  OciReference ref_;
  RegistryOptions options_;
  std::string authorization_;  // "Authorization: …" once the registry asked for it
};

}  // namespace vm_manager::image

// A client for the OCI distribution API (v2) that finds the disk image layer
// of an OCI reference and downloads it: manifests and image indexes (OCI and
// Docker v2), anonymous bearer tokens, and credentials from the environment.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

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

// An image index entry's platform, in OCI's words ("linux", "arm64", "v7").
struct OciPlatform {
  std::string os;
  std::string architecture;
  std::string variant;  // empty: any

  // linux and this machine's architecture (uname's machine in OCI's names).
  static OciPlatform host();
  std::string to_string() const;  // "linux/arm64", "linux/arm/v7"
  bool operator==(const OciPlatform&) const = default;
};

// uname's machine in OCI's (Go's) names: x86_64 -> amd64, aarch64 -> arm64,
// armv7l -> arm (variant v7), i686 -> 386…; an unknown one as it is.
OciPlatform oci_platform_of_machine(std::string_view machine);

struct RegistryOptions {
  DownloadOptions download;
  std::optional<RegistryCredentials> credentials;
  // Plain http even for a registry that is not local. Nothing else: https
  // URLs (a blob's redirect to a CDN) are still checked against the CAs.
  bool insecure = false;
  // The manifest an image index resolves to.
  OciPlatform platform = OciPlatform::host();

  // VMCTL_REGISTRY_USERNAME / VMCTL_REGISTRY_PASSWORD, VMCTL_REGISTRY_INSECURE=1
  // and VMCTL_CA_FILE (image/ca_file.hpp; raises as ca_file_from_environment).
  // Without VMCTL_REGISTRY_USERNAME, a pull from ghcr.io (`registry_host`,
  // any port) uses GITHUB_TOKEN as the first vmctl did: Basic credentials
  // "_token" and the token, which GitHub's token service takes.
  static RegistryOptions from_environment(const Environment& env, DownloadOptions download,
                                          std::string_view registry_host = {});
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

  // Fetches the manifest (through an index when there is one: the entry of
  // options.platform, or the only entry when it names no platform) and picks
  // the disk image layer. A bearer token that expires meanwhile (401) is
  // renewed once per request, here and in download_layer().
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

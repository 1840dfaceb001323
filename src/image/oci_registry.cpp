#include "image/oci_registry.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/logger.hpp"
#include "image/auth_challenge.hpp"
#include "image/ca_file.hpp"
#include "image/sha256.hpp"
#include "net/http_client.hpp"
#include "util/base64.hpp"
#include "util/strings.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace fs = std::filesystem;
namespace {
using util::lower;
using util::trim;

constexpr std::size_t kMaxDocument = 4 << 20;  // manifests and tokens are small; refuse anything huge
constexpr std::string_view kManifestTypes =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr std::string_view kCredentialsHint =
    "set VMCTL_REGISTRY_USERNAME and VMCTL_REGISTRY_PASSWORD to credentials allowed to pull it (for ghcr.io, "
    "GITHUB_TOKEN is enough)";

// What a failed answer was, for the retry note: "HTTP 503", or libcurl's words.
std::string reason_of(const net::HttpResponse& r) {
  return r.ok() ? fmt::format("HTTP {}", r.status) : r.error;
}

// Sends `request` until it gets an answer that is not a transient failure
// (a 5xx, a 429, a reset or a stall), as downloads do, and returns the last.
net::HttpResponse perform_with_retries(const net::HttpRequest& request, const DownloadOptions& options) {
  const net::RetryPolicy policy = retry_policy(options);
  const Logger log(options.log);
  for (int tries = 1;; ++tries) {
    net::HttpResponse r = net::perform(request);
    const bool transient = r.ok() ? net::is_transient_status(r.status) : net::is_transient(r.failure);
    if (!transient || tries >= policy.attempts) return r;
    std::optional<std::string> retry_after;
    if (auto wait = r.headers.find("retry-after"); wait != r.headers.end() && (r.status == 429 || r.status == 503)) {
      retry_after = wait->second;
    }
    const auto delay = net::retry_delay(policy, tries, retry_after, std::chrono::system_clock::now());
    log.info("Retrying {} in {}: {} (attempt {} of {})", request.url, net::describe_delay(delay), reason_of(r),
             tries + 1, policy.attempts);
    std::this_thread::sleep_for(delay);
  }
}

// A GET of a small document; transport failures raise registry_failed.
net::HttpResponse http_get(const std::string& url, std::vector<std::string> headers, const DownloadOptions& options) {
  net::HttpRequest request;
  request.url = url;
  request.headers = std::move(headers);
  request.max_redirects = options.max_redirects;
  request.timeouts.connect = options.connect_timeout;
  request.timeouts.low_speed_bytes = options.low_speed_limit;
  request.timeouts.low_speed_time = options.low_speed_time;
  request.max_body = kMaxDocument;
  request.ca_file = options.ca_file;
  net::HttpResponse r = perform_with_retries(request, options);
  if (r.failure == net::TransferFailure::too_large) {
    throw Error(errc::image_registry_failed, fmt::format("{} sent more than {} bytes", url, kMaxDocument),
                "this is not a registry serving manifests; check the reference");
  }
  if (!r.ok()) {
    const bool https = url.starts_with("https://");
    std::string hint = "check the registry address and the network";
    if (https && (r.failure == net::TransferFailure::tls_failed || !net::is_tls(r.failure))) {
      hint = fmt::format("{}; a plain-HTTP registry needs VMCTL_REGISTRY_INSECURE=1, one with a private CA {}", hint,
                         kCaFileVariable);
    } else if (net::is_tls(r.failure)) {
      hint = tls_hint(r.failure);
    }
    throw Error(errc::image_registry_failed, fmt::format("cannot reach {}: {}", url, r.error), hint);
  }
  return r;
}

// The first message of a registry's {"errors":[{"code","message"}]} body, else the status.
std::string registry_message(const net::HttpResponse& r) {
  try {
    const auto doc = nlohmann::json::parse(r.body);
    const auto& error = doc.at("errors").at(0);
    return fmt::format("{} ({})", error.value("message", std::string("error")), error.value("code", std::string("?")));
  } catch (const nlohmann::json::exception&) {
    return fmt::format("HTTP {}", r.status);
  }
}

std::string basic_header(const RegistryCredentials& credentials) {
  return "Authorization: Basic " + util::base64_encode(credentials.username + ":" + credentials.password);
}

bool is_index(const std::string& media_type, const nlohmann::json& doc) {
  if (media_type.find("index") != std::string::npos || media_type.find("manifest.list") != std::string::npos) {
    return true;
  }
  return media_type.empty() && doc.contains("manifests") && !doc.contains("layers");
}

OciPlatform platform_of(const nlohmann::json& entry) {
  const auto platform = entry.value("platform", nlohmann::json::object());
  return {platform.value("os", std::string()), platform.value("architecture", std::string()),
          platform.value("variant", std::string())};
}

// A variant is compared only when both name one (arm64 entries often omit v8).
bool fits(const OciPlatform& entry, const OciPlatform& wanted) {
  return entry.os == wanted.os && entry.architecture == wanted.architecture &&
         (entry.variant.empty() || wanted.variant.empty() || entry.variant == wanted.variant);
}

// The entry of an index for `wanted`, or its only entry when that one names
// no platform.
const nlohmann::json& pick_platform(const nlohmann::json& index, const OciPlatform& wanted, const std::string& what) {
  const auto& manifests = index.at("manifests");
  std::vector<std::string> platforms;
  for (const auto& entry : manifests) {
    const OciPlatform platform = platform_of(entry);
    if (fits(platform, wanted)) return entry;
    platforms.push_back(platform.os.empty() && platform.architecture.empty() ? "(no platform)" : platform.to_string());
  }
  if (manifests.size() == 1 && !manifests.at(0).contains("platform")) return manifests.at(0);
  throw Error(errc::image_not_found,
              fmt::format("the image index of {} has no {} manifest (it has: {})", what, wanted.to_string(),
                          platforms.empty() ? std::string("none") : fmt::format("{}", fmt::join(platforms, ", "))),
              fmt::format("push a {} disk image, or name one platform's manifest by its digest", wanted.to_string()));
}

OciLayer pick_layer(const nlohmann::json& manifest, const std::string& what) {
  std::vector<std::string> types;
  for (std::string_view wanted : {kQcow2LayerType, kOctetStreamLayerType}) {
    for (const auto& layer : manifest.value("layers", nlohmann::json::array())) {
      std::string type = layer.value("mediaType", std::string());
      if (type != wanted) continue;
      OciLayer out;
      out.digest = lower(layer.at("digest").get<std::string>());
      out.media_type = type;
      out.size = layer.value("size", std::uint64_t{0});
      if (!out.digest.starts_with("sha256:") || !is_sha256_hex(std::string_view(out.digest).substr(7))) {
        throw Error(errc::image_registry_failed, fmt::format("unsupported layer digest {} in {}", out.digest, what),
                    "only sha256 digests are supported");
      }
      return out;
    }
  }
  for (const auto& layer : manifest.value("layers", nlohmann::json::array())) {
    types.push_back(layer.value("mediaType", std::string("(none)")));
  }
  throw Error(errc::image_bad_image,
              fmt::format("the manifest of {} has no disk image layer (its layers: {})", what,
                          types.empty() ? std::string("none") : fmt::format("{}", fmt::join(types, ", "))),
              fmt::format("push the disk image as a layer of media type {} or {}", kQcow2LayerType,
                          kOctetStreamLayerType));
}

}  // namespace

struct RegistryClient::Response : net::HttpResponse {};

OciPlatform oci_platform_of_machine(std::string_view machine) {
  static const std::map<std::string_view, OciPlatform> kKnown = {
      {"x86_64", {"linux", "amd64", ""}},    {"amd64", {"linux", "amd64", ""}},
      {"aarch64", {"linux", "arm64", ""}},   {"arm64", {"linux", "arm64", ""}},
      {"armv7l", {"linux", "arm", "v7"}},    {"armv6l", {"linux", "arm", "v6"}},
      {"i386", {"linux", "386", ""}},        {"i486", {"linux", "386", ""}},
      {"i586", {"linux", "386", ""}},        {"i686", {"linux", "386", ""}},
      {"ppc64le", {"linux", "ppc64le", ""}}, {"ppc64", {"linux", "ppc64", ""}},
      {"s390x", {"linux", "s390x", ""}},     {"riscv64", {"linux", "riscv64", ""}},
      {"loongarch64", {"linux", "loong64", ""}}, {"mips64", {"linux", "mips64", ""}},
  };
  auto known = kKnown.find(machine);
  return known != kKnown.end() ? known->second : OciPlatform{"linux", std::string(machine), ""};
}

OciPlatform OciPlatform::host() {
  struct utsname name {};
  if (::uname(&name) != 0) return {"linux", "amd64", ""};  // uname cannot fail on Linux
  return oci_platform_of_machine(name.machine);
}

std::string OciPlatform::to_string() const {
  std::string text = fmt::format("{}/{}", os.empty() ? "?" : os, architecture.empty() ? "?" : architecture);
  if (!variant.empty()) text += "/" + variant;
  return text;
}

namespace {

// GitHub's container registry takes a GitHub token (a PAT, or Actions'
// GITHUB_TOKEN) as the password of any user name.
std::optional<RegistryCredentials> github_token_for(const Environment& env, std::string_view registry_host) {
  if (util::lower(std::string(registry_host)) != "ghcr.io") return std::nullopt;
  std::optional<std::string> token = env.get("GITHUB_TOKEN");
  if (!token || token->empty()) return std::nullopt;
  return RegistryCredentials{"_token", *token};
}

}  // namespace

RegistryOptions RegistryOptions::from_environment(const Environment& env, DownloadOptions download,
                                                  std::string_view registry_host) {
  RegistryOptions options;
  options.download = std::move(download);
  options.download.ca_file = ca_file_from_environment(env, options.download.ca_file);
  if (auto user = env.get("VMCTL_REGISTRY_USERNAME")) {
    options.credentials = RegistryCredentials{*user, env.get("VMCTL_REGISTRY_PASSWORD").value_or("")};
  } else {
    options.credentials = github_token_for(env, registry_host);
  }
  options.insecure = env.get("VMCTL_REGISTRY_INSECURE") == "1";
  return options;
}

RegistryClient::RegistryClient(OciReference reference, RegistryOptions options)
    : ref_(std::move(reference)), options_(std::move(options)) {}

std::string RegistryClient::base_url() const {
  const std::string host = ref_.host();
  const bool local = host == "localhost" || host == "127.0.0.1" || host == "[::1]";
  return fmt::format("{}://{}", local || options_.insecure ? "http" : "https", ref_.registry);
}

RegistryClient::Response RegistryClient::get(const std::string& url, const std::string& accept) {
  auto attempt = [&] {
    std::vector<std::string> headers{"Accept: " + accept};
    if (!authorization_.empty()) headers.push_back(authorization_);
    return Response{http_get(url, headers, options_.download)};
  };
  Response r = attempt();
  if (r.status == 401) {
    // First contact, or a bearer token that expired since: asked again once.
    // Credentials that were already sent and refused are not sent again.
    const std::string before = authorization_;
    authenticate(r.headers["www-authenticate"]);
    if (authorization_ != before) r = attempt();
  }
  if (r.status == 401 || r.status == 403) {
    throw Error(errc::image_registry_auth,
                fmt::format("{} refused access to {}: {}", ref_.registry, ref_.repository, registry_message(r)),
                std::string(kCredentialsHint));
  }
  return r;
}

void RegistryClient::authenticate(const std::string& header) {
  AuthChallenge challenge = parse_auth_challenge(header);
  if (challenge.scheme == "bearer") return fetch_token(header);
  if (challenge.scheme == "basic" && options_.credentials) {
    authorization_ = basic_header(*options_.credentials);
    return;
  }
  throw Error(errc::image_registry_auth,
              fmt::format("{} requires authentication for {}{}", ref_.registry, ref_.repository,
                          challenge.scheme == "basic" ? "" : fmt::format(" (unsupported scheme \"{}\")", challenge.scheme)),
              std::string(kCredentialsHint));
}

void RegistryClient::fetch_token(const std::string& header) {
  AuthChallenge challenge = parse_auth_challenge(header);
  std::string realm = challenge.params["realm"];
  if (!realm.starts_with("http://") && !realm.starts_with("https://")) {
    throw Error(errc::image_registry_failed, fmt::format("{} sent a bearer challenge without a usable realm", ref_.registry));
  }
  std::string scope = challenge.params.count("scope") ? challenge.params["scope"] : "repository:" + ref_.repository + ":pull";
  std::string url = fmt::format("{}{}scope={}", realm, realm.find('?') == std::string::npos ? '?' : '&', url_encode(scope));
  if (challenge.params.count("service")) url += "&service=" + url_encode(challenge.params["service"]);
  std::vector<std::string> headers{"Accept: application/json"};
  if (options_.credentials) headers.push_back(basic_header(*options_.credentials));
  net::HttpResponse r = http_get(url, std::move(headers), options_.download);
  if (r.status == 401 || r.status == 403) {
    throw Error(errc::image_registry_auth,
                fmt::format("the token service of {} refused {} ({})", ref_.registry,
                            options_.credentials ? "the credentials" : "an anonymous pull", registry_message(r)),
                std::string(kCredentialsHint));
  }
  std::string token;
  try {
    // Docker's token services send "token", OAuth 2 ones "access_token", some both (the same).
    const auto doc = nlohmann::json::parse(r.body);
    for (const char* field : {"token", "access_token"}) {
      if (doc.contains(field) && doc[field].is_string() && !doc[field].get<std::string>().empty()) {
        token = doc[field].get<std::string>();
        break;
      }
    }
  } catch (const nlohmann::json::exception&) {
  }
  if (r.status != 200 || token.empty()) {
    throw Error(errc::image_registry_failed,
                fmt::format("the token service of {} failed: {}", ref_.registry, registry_message(r)),
                "try again later, or check the registry");
  }
  authorization_ = "Authorization: Bearer " + token;
}

std::string RegistryClient::fetch_manifest(const std::string& reference, const std::string& expected_digest,
                                           std::string& media_type) {
  const char separator = reference.starts_with("sha256:") ? '@' : ':';
  const std::string what = fmt::format("{}/{}{}{}", ref_.registry, ref_.repository, separator, reference);
  Response r = get(fmt::format("{}/v2/{}/manifests/{}", base_url(), ref_.repository, reference), std::string(kManifestTypes));
  if (r.status == 404) {
    throw Error(errc::image_not_found, fmt::format("no manifest {}: {}", what, registry_message(r)),
                "check the repository and the tag or digest");
  }
  if (r.status != 200) {
    throw Error(errc::image_registry_failed, fmt::format("cannot get the manifest {}: {}", what, registry_message(r)),
                "try again later, or check the registry");
  }
  std::string actual = "sha256:" + sha256_hex(r.body);
  if (!expected_digest.empty() && actual != expected_digest) {
    throw Error(errc::image_checksum_mismatch,
                fmt::format("manifest digest mismatch for {}: expected {}, the registry sent {}", what,
                            expected_digest, actual),
                "the registry served a different manifest than the digest names; do not trust it");
  }
  media_type = r.headers["content-type"];
  return r.body;
}

OciLayer RegistryClient::resolve() {
  const std::string what = fmt::format("{}/{}", ref_.registry, ref_.repository);
  std::string media_type;
  std::string body = fetch_manifest(ref_.manifest_reference(), ref_.digest, media_type);
  const std::string top_digest = "sha256:" + sha256_hex(body);
  try {
    auto doc = nlohmann::json::parse(body);
    media_type = doc.value("mediaType", media_type);
    if (is_index(media_type, doc)) {
      std::string child = lower(pick_platform(doc, options_.platform, what).at("digest").get<std::string>());
      body = fetch_manifest(child, child, media_type);
      doc = nlohmann::json::parse(body);
    }
    OciLayer layer = pick_layer(doc, what);
    layer.manifest_digest = top_digest;
    return layer;
  } catch (const nlohmann::json::exception& e) {
    throw Error(errc::image_registry_failed, fmt::format("malformed manifest for {}: {}", what, e.what()),
                "the registry served something that is not an OCI or Docker v2 manifest");
  }
}

void RegistryClient::download_layer(const OciLayer& layer, const fs::path& partial) {
  // A partial download of another blob (the tag moved since) must not be resumed.
  const fs::path marker = partial.string() + ".digest";
  std::string previous;
  if (FILE* f = std::fopen(marker.c_str(), "r")) {
    char buffer[128] = {};
    previous = std::string(buffer, std::fread(buffer, 1, sizeof buffer - 1, f));
    std::fclose(f);
  }
  std::error_code ec;
  if (previous != layer.digest) fs::remove(partial, ec);
  if (FILE* f = std::fopen(marker.c_str(), "w")) {
    std::fputs(layer.digest.c_str(), f);
    std::fclose(f);
  }

  DownloadOptions options = options_.download;
  if (!authorization_.empty()) options.headers.push_back(authorization_);
  // A token that expired since the manifest was fetched (or during a long
  // download) is renewed, and the download resumes where it stopped.
  options.reauthenticate = [this](const std::string& challenge) -> std::optional<std::vector<std::string>> {
    const std::string before = authorization_;
    if (challenge.empty()) return std::nullopt;
    authenticate(challenge);
    if (authorization_ == before) return std::nullopt;
    std::vector<std::string> headers = options_.download.headers;
    headers.push_back(authorization_);
    return headers;
  };
  download(fmt::format("{}/v2/{}/blobs/{}", base_url(), ref_.repository, layer.digest), partial, options);

  std::string actual = "sha256:" + sha256_file(partial);
  if (actual != layer.digest) {
    fs::remove(partial, ec);
    fs::remove(marker, ec);
    throw Error(errc::image_checksum_mismatch,
                fmt::format("blob digest mismatch for {}/{}: expected {}, downloaded {}", ref_.registry,
                            ref_.repository, layer.digest, actual),
                "the download was deleted; pull again, and if it persists the registry's storage is corrupt");
  }
  fs::remove(marker, ec);
}

}  // namespace vm_manager::image

// OCI pulls against a real registry (Debian's docker-registry, distribution
// 2.x) on 127.0.0.1, with tests/image/oci_helper.py pushing the images and
// standing in front of it as an auth or corrupting proxy.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/image_cache.hpp"
#include "image/oci_reference.hpp"
#include "image/oci_registry.hpp"
#include "image/sha256.hpp"
#include "support/error_from.hpp"
#include "support/ports.hpp"
#include "support/bytes.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using vmctl::test::ProcessOptions;
using vmctl::test::RunningProcess;
using vmctl::test::TempDir;
using vmctl::test::read_bytes;
using vmctl::test::write_bytes;
using vmctl::test::free_port;
using vmctl::test::error_from;

const std::string kHelper = VMCTL_SOURCE_DIR "/tests/image/oci_helper.py";

bool answers(const std::string& url) {
  return vmctl::test::run_process({"python3", kHelper, "wait", "--url", url, "--timeout", "10"}).exit_code == 0;
}

struct Pushed {
  std::string manifest, index, layer;
  std::map<std::string, Pushed> platforms;  // of an index: "linux/arm64" -> its manifest and layer
};

// The platforms of the suite's image index: amd64 not first, and the host's
// whatever it is (its entry carries the real disk image).
std::string index_platforms() {
  std::string list = "linux/arm64,linux/amd64,linux/s390x";
  const std::string host = OciPlatform::host().to_string();
  if (list.find(host) == std::string::npos) list += "," + host;
  return list;
}

// The real registry and what the suite pushed into it, shared by all tests.
struct Registry {
  TempDir dir;
  std::optional<RunningProcess> process;
  int port = 0;
  std::string qcow2;  // the disk image bytes every image carries
  Pushed base, decoy, zstd, multi, notdisk;
  std::string error;  // why setting up failed

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }

  bool start() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port = free_port();
      fs::path config = dir / "config.yml";
      write_bytes(config, "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                          "storage:\n  filesystem:\n    rootdirectory: " + (dir / "storage").string() +
                          "\nhttp:\n  addr: 127.0.0.1:" + std::to_string(port) + "\n");
      process.emplace(std::vector<std::string>{"/usr/bin/docker-registry", "serve", config.string()},
                      ProcessOptions{{}, 600s});
      if (answers(url() + "/v2/")) return true;
      process.reset();  // most likely the port was taken meanwhile
    }
    error = "docker-registry did not start (make deps installs it)";
    return false;
  }

  std::optional<Pushed> push(const std::string& repo, const std::string& tag, const fs::path& layer,
                             const std::string& media_type, bool index = false) {
    std::vector<std::string> argv{"python3", kHelper, "push", "--registry", url(), "--repo", repo, "--tag", tag,
                                  "--layer", layer.string(), "--media-type", media_type};
    if (index) {
      argv.insert(argv.end(), {"--index", "--platforms", index_platforms(), "--layer-platform",
                               OciPlatform::host().to_string()});
    }
    auto r = vmctl::test::run_process(argv);
    if (r.exit_code != 0) {
      error = "push of " + repo + ":" + tag + " failed: " + r.err;
      return std::nullopt;
    }
    auto j = nlohmann::json::parse(r.out);
    Pushed pushed{j.at("manifest").get<std::string>(),
                  j.value("index", nlohmann::json()).is_null() ? "" : j.at("index").get<std::string>(),
                  j.at("layer").get<std::string>(),
                  {}};
    for (const auto& [platform, p] : j.at("platforms").items()) {
      pushed.platforms[platform] = Pushed{p.at("manifest").get<std::string>(), "", p.at("layer").get<std::string>(), {}};
    }
    return pushed;
  }

  bool populate() {
    fs::path disk = dir / "disk.qcow2";
    auto made = vmctl::test::run_process({"qemu-img", "create", "-q", "-f", "qcow2", disk.string(), "64M"});
    auto packed = vmctl::test::run_process({"zstd", "-q", "-f", "-k", disk.string(), "-o", disk.string() + ".zst"});
    if (made.exit_code != 0 || packed.exit_code != 0) {
      error = "qemu-img or zstd failed: " + made.err + packed.err;
      return false;
    }
    qcow2 = read_bytes(disk);
    write_bytes(dir / "decoy.bin", "a different layer");
    write_bytes(dir / "layer.tar.gz", "not a disk image");
    auto a = push("vm/base", "v1", disk, std::string(kQcow2LayerType));
    auto b = push("vm/base", "decoy", dir / "decoy.bin", std::string(kQcow2LayerType));
    auto c = push("vm/zstd", "v1", disk.string() + ".zst", std::string(kOctetStreamLayerType));
    auto d = push("vm/multi", "v1", disk, std::string(kQcow2LayerType), true);
    auto e = push("vm/notdisk", "v1", dir / "layer.tar.gz", "application/vnd.oci.image.layer.v1.tar+gzip");
    if (!a || !b || !c || !d || !e) return false;
    base = *a, decoy = *b, zstd = *c, multi = *d, notdisk = *e;
    return true;
  }
};

Registry* registry = nullptr;

class OciRegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry = new Registry;
    if (registry->start()) registry->populate();
  }
  static void TearDownTestSuite() {
    registry->process.reset();
    delete registry;
    registry = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(registry->error.empty()) << registry->error;
  }
  void TearDown() override { proxy_.reset(); }

  ImageCache cache(int attempts = DownloadOptions{}.attempts) const {
    ImageCacheOptions options;
    options.root = root_;
    options.lock_timeout = 30s;
    options.download.connect_timeout = 5s;
    options.download.low_speed_time = 10s;
    options.download.attempts = attempts;
    options.environment = env_;  // the registry credentials, as vmctl hands them in
    return ImageCache(options);
  }

  static std::string source(const std::string& host, const std::string& name) { return "oci://" + host + "/" + name; }
  std::string direct(const std::string& name) const { return source("127.0.0.1:" + std::to_string(registry->port), name); }
  std::string proxied(const std::string& name) const { return source("127.0.0.1:" + std::to_string(proxy_port_), name); }

  void start_proxy(const std::vector<std::string>& extra) {
    fs::path port_file = tmp_ / "proxy.port";
    std::vector<std::string> argv{"python3", kHelper, "proxy", "--upstream", registry->url(), "--port-file",
                                  port_file.string(), "--log", proxy_log_.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proxy_.emplace(argv, ProcessOptions{{}, 120s});
    const auto port = vmctl::test::wait_for_port_file(port_file);
    ASSERT_TRUE(port) << "the proxy did not start";
    proxy_port_ = *port;
  }

  void expect_nothing_cached() const {
    EXPECT_TRUE(cache().list().empty());
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root_, ec)) {
      EXPECT_EQ(entry.path().extension(), ".lock") << "left behind: " << entry.path();
    }
  }

  TempDir tmp_;
  fs::path root_ = tmp_ / "cache";
  fs::path proxy_log_ = tmp_ / "proxy.log";
  std::optional<RunningProcess> proxy_;
  int proxy_port_ = 0;
  Environment env_;  // what the program hands the library (no process environment is read)
};

TEST_F(OciRegistryTest, PullsByTag) {
  auto c = cache();
  const std::string src = direct("vm/base:v1");
  fs::path path = c.pull(src);
  EXPECT_EQ(path, root_ / ImageCache::key_for(src) / "image");
  EXPECT_EQ(read_bytes(path), registry->qcow2);
  CachedImage entry = c.inspect(src);
  EXPECT_EQ(entry.format, "qcow2");
  EXPECT_EQ(entry.manifest_digest, registry->base.manifest);
  EXPECT_EQ(entry.blob_digest, registry->base.layer);
  auto meta = nlohmann::json::parse(read_bytes(path.parent_path() / "meta.json"));
  EXPECT_EQ(meta.at("manifest_digest"), registry->base.manifest);
  EXPECT_EQ(meta.at("blob_digest"), registry->base.layer);
  EXPECT_FALSE(fs::exists(path.parent_path() / "download.partial.digest"));
  EXPECT_EQ(c.pull(src), path);  // cached: served without a second download
}

TEST_F(OciRegistryTest, PullsByDigestAndChecksTheUsersSha256Too) {
  auto c = cache();
  const std::string src = direct("vm/base@" + registry->base.manifest);
  const std::string layer_hex = registry->base.layer.substr(7);
  EXPECT_EQ(error_from([&] { c.pull(src, std::string(64, 'a')); }).code(), errc::image_checksum_mismatch);
  expect_nothing_cached();
  fs::path path = c.pull(src, layer_hex);
  EXPECT_EQ(read_bytes(path), registry->qcow2);
  EXPECT_EQ(c.inspect(src).manifest_digest, registry->base.manifest);
}

TEST_F(OciRegistryTest, AManifestThatDoesNotMatchTheDigestIsRefused) {
  // The proxy answers every by-digest manifest request with tag "decoy"'s manifest.
  start_proxy({"--mode", "wrong-manifest", "--tag", "decoy"});
  auto e = error_from([&] { cache().pull(proxied("vm/base@" + registry->base.manifest)); });
  EXPECT_EQ(e.code(), errc::image_checksum_mismatch);
  EXPECT_THAT(e.message(), HasSubstr("manifest digest mismatch"));
  EXPECT_THAT(e.message(), HasSubstr(registry->decoy.manifest));
  expect_nothing_cached();
}

TEST_F(OciRegistryTest, ACorruptBlobIsDetectedAndDeleted) {
  start_proxy({"--mode", "corrupt"});
  auto e = error_from([&] { cache().pull(proxied("vm/base:v1")); });
  EXPECT_EQ(e.code(), errc::image_checksum_mismatch);
  EXPECT_THAT(e.message(), HasSubstr("blob digest mismatch"));
  EXPECT_THAT(e.message(), HasSubstr(registry->base.layer));
  expect_nothing_cached();
}

TEST_F(OciRegistryTest, AnInterruptedBlobDownloadIsResumed) {
  start_proxy({"--mode", "cut"});
  EXPECT_EQ(read_bytes(cache().pull(proxied("vm/base:v1"))), registry->qcow2);
  const std::string log = read_bytes(proxy_log_);
  const std::string blob = "GET /v2/vm/base/blobs/" + registry->base.layer;
  EXPECT_THAT(log, HasSubstr(blob + " auth=no range=-\n"));
  EXPECT_THAT(log, HasSubstr(blob + " auth=no range=bytes=" + std::to_string(registry->qcow2.size() / 2) + "-\n"));
}

TEST_F(OciRegistryTest, AnIndexResolvesToTheHostsPlatform) {
  auto c = cache();
  const std::string src = direct("vm/multi:v1");
  EXPECT_EQ(read_bytes(c.pull(src)), registry->qcow2);
  EXPECT_EQ(c.inspect(src).manifest_digest, registry->multi.index);
  EXPECT_EQ(c.inspect(src).blob_digest, registry->multi.layer);
  EXPECT_EQ(registry->multi.layer, registry->multi.platforms.at(OciPlatform::host().to_string()).layer);
}

TEST_F(OciRegistryTest, AnIndexResolvesToThePlatformAskedFor) {
  for (const std::string arch : {"arm64", "amd64", "s390x"}) {
    RegistryOptions options;
    options.platform = OciPlatform{"linux", arch, ""};
    RegistryClient client(parse_oci_reference(direct("vm/multi:v1")), options);
    const OciLayer layer = client.resolve();
    EXPECT_EQ(layer.digest, registry->multi.platforms.at("linux/" + arch).layer) << arch;
    EXPECT_EQ(layer.manifest_digest, registry->multi.index) << arch;
  }
}

TEST_F(OciRegistryTest, AnIndexWithoutThePlatformIsNotFoundAndSaysWhatItHas) {
  RegistryOptions options;
  options.platform = OciPlatform{"linux", "riscv64", ""};
  RegistryClient client(parse_oci_reference(direct("vm/multi:v1")), options);
  auto e = error_from([&] { client.resolve(); });
  EXPECT_EQ(e.code(), errc::image_not_found);
  EXPECT_THAT(e.message(), HasSubstr("no linux/riscv64 manifest"));
  EXPECT_THAT(e.message(), HasSubstr("linux/arm64, linux/amd64, linux/s390x"));
  EXPECT_THAT(e.help(), HasSubstr("linux/riscv64"));
}

// GITHUB_TOKEN, as the first vmctl used it: Basic "_token" and the token,
// for ghcr.io only, and only when no VMCTL_REGISTRY_USERNAME is set.
TEST(RegistryOptionsTest, GithubTokenIsTheCredentialsOfGhcrOnly) {
  Environment env;
  env.set("GITHUB_TOKEN", "ghp_secret");
  auto ghcr = RegistryOptions::from_environment(env, {}, "ghcr.io").credentials;
  ASSERT_TRUE(ghcr);
  EXPECT_EQ(ghcr->username, "_token");
  EXPECT_EQ(ghcr->password, "ghp_secret");
  EXPECT_TRUE(RegistryOptions::from_environment(env, {}, "GHCR.IO").credentials);
  EXPECT_FALSE(RegistryOptions::from_environment(env, {}, "docker.io").credentials);
  EXPECT_FALSE(RegistryOptions::from_environment(env, {}, "ghcr.io.example.com").credentials);
  EXPECT_FALSE(RegistryOptions::from_environment(env, {}).credentials);
  env.set("VMCTL_REGISTRY_USERNAME", "me");
  env.set("VMCTL_REGISTRY_PASSWORD", "pw");
  auto own = RegistryOptions::from_environment(env, {}, "ghcr.io").credentials;
  ASSERT_TRUE(own);
  EXPECT_EQ(own->username, "me");
  EXPECT_EQ(own->password, "pw");
  Environment empty_token;
  empty_token.set("GITHUB_TOKEN", "");
  EXPECT_FALSE(RegistryOptions::from_environment(empty_token, {}, "ghcr.io").credentials);
}

// The whole way, through the real vmctl: ghcr.io resolves to 127.0.0.1 in a
// mount namespace of its own (its /etc/hosts bind-mounted), where a bearer
// token service in front of the real registry wants GitHub-style Basic
// credentials. vmctl hands GITHUB_TOKEN to the library; nothing else does.
class GithubTokenCliTest : public OciRegistryTest {
 protected:
  vmctl::test::ProcessResult pull_as_ghcr(const std::map<std::string, std::string>& env, const std::string& host) {
    const fs::path hosts = tmp_ / "hosts";
    write_bytes(hosts, "127.0.0.1 localhost\n127.0.0.1 ghcr.io\n");
    // Only the credentials given here: none the test's own environment has.
    std::vector<std::string> argv{"unshare", "--mount", "sh", "-c", "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
                                  hosts.string(), "env", "-u", "GITHUB_TOKEN", "-u", "VMCTL_REGISTRY_USERNAME",
                                  "-u", "VMCTL_REGISTRY_PASSWORD"};
    for (const auto& [name, value] : env) argv.push_back(name + "=" + value);
    for (const std::string& arg :
         vmctl::test::vmctl_argv((tmp_ / "data").string(),
                                 {"image", "pull", "oci://" + host + ":" + std::to_string(proxy_port_) + "/vm/base:v1"})) {
      argv.push_back(arg);
    }
    ProcessOptions options{{}, 120s};
    options.env["VMCTL_IMAGE_CACHE"] = root_.string();
    options.env["VMCTL_REGISTRY_INSECURE"] = "1";  // plain http to a registry that is not named as local
    return vmctl::test::run_process(argv, options);
  }
};

TEST_F(GithubTokenCliTest, VmctlPullsFromGhcrWithGithubToken) {
  ASSERT_EQ(vmctl::test::run_process({"unshare", "--mount", "true"}).exit_code, 0)
      << "the test needs root and util-linux's unshare (apt-get install util-linux)";
  start_proxy({"--mode", "bearer", "--user", "_token", "--password", "ghp_test_token"});

  auto refused = pull_as_ghcr({{"GITHUB_TOKEN", "ghp_wrong"}}, "ghcr.io");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("error[vm_manager::image::registry_auth]")) << refused.err;
  EXPECT_THAT(refused.err, Not(HasSubstr("ghp_wrong"))) << "a token is never printed";
  auto not_ghcr = pull_as_ghcr({{"GITHUB_TOKEN", "ghp_test_token"}}, "localhost");
  EXPECT_THAT(not_ghcr.err, HasSubstr("error[vm_manager::image::registry_auth]")) << "only ghcr.io gets the token";
  auto own_first = pull_as_ghcr({{"GITHUB_TOKEN", "ghp_test_token"}, {"VMCTL_REGISTRY_USERNAME", "someone"},
                                 {"VMCTL_REGISTRY_PASSWORD", "else"}},
                                "ghcr.io");
  EXPECT_THAT(own_first.err, HasSubstr("error[vm_manager::image::registry_auth]")) << "registry credentials come first";
  expect_nothing_cached();

  auto pulled = pull_as_ghcr({{"GITHUB_TOKEN", "ghp_test_token"}}, "ghcr.io");
  ASSERT_EQ(pulled.exit_code, 0) << pulled.out << pulled.err;
  EXPECT_THAT(pulled.out, HasSubstr("Pulled oci://ghcr.io:")) << pulled.out;
  ASSERT_EQ(cache().list().size(), 1u);
  EXPECT_EQ(read_bytes(cache().list().front().path), registry->qcow2);
  EXPECT_THAT(read_bytes(proxy_log_), HasSubstr("GET /token?scope=repository%3Avm%2Fbase%3Apull"));
}

TEST(OciPlatformTest, TheHostsMachineInOciNames) {
  EXPECT_EQ(oci_platform_of_machine("x86_64"), (OciPlatform{"linux", "amd64", ""}));
  EXPECT_EQ(oci_platform_of_machine("aarch64"), (OciPlatform{"linux", "arm64", ""}));
  EXPECT_EQ(oci_platform_of_machine("armv7l"), (OciPlatform{"linux", "arm", "v7"}));
  EXPECT_EQ(oci_platform_of_machine("i686"), (OciPlatform{"linux", "386", ""}));
  EXPECT_EQ(oci_platform_of_machine("s390x"), (OciPlatform{"linux", "s390x", ""}));
  EXPECT_EQ(oci_platform_of_machine("ppc64le"), (OciPlatform{"linux", "ppc64le", ""}));
  EXPECT_EQ((OciPlatform{"linux", "arm", "v7"}.to_string()), "linux/arm/v7");
  EXPECT_EQ(RegistryOptions{}.platform, OciPlatform::host());
  EXPECT_EQ(OciPlatform::host().os, "linux");
}

TEST_F(OciRegistryTest, AMissingTagOrRepositoryIsNotFound) {
  auto e = error_from([&] { cache().pull(direct("vm/base:nope")); });
  EXPECT_EQ(e.code(), errc::image_not_found);
  EXPECT_THAT(e.message(), HasSubstr("vm/base:nope"));
  EXPECT_FALSE(e.help().empty());
  EXPECT_EQ(error_from([&] { cache().pull(direct("vm/nothing/here:v1")); }).code(), errc::image_not_found);
  expect_nothing_cached();
}

TEST_F(OciRegistryTest, AManifestWithoutADiskLayerIsRefused) {
  auto e = error_from([&] { cache().pull(direct("vm/notdisk:v1")); });
  EXPECT_EQ(e.code(), errc::image_bad_image);
  EXPECT_THAT(e.message(), HasSubstr("application/vnd.oci.image.layer.v1.tar+gzip"));
  EXPECT_THAT(e.help(), HasSubstr(std::string(kQcow2LayerType)));
  expect_nothing_cached();
}

TEST_F(OciRegistryTest, AZstdLayerIsDecompressed) {
  auto c = cache();
  const std::string src = direct("vm/zstd:v1");
  EXPECT_EQ(read_bytes(c.pull(src)), registry->qcow2);
  CachedImage entry = c.inspect(src);
  EXPECT_EQ(entry.compression, "zstd");
  EXPECT_EQ(entry.format, "qcow2");
  EXPECT_EQ("sha256:" + entry.download_sha256, registry->zstd.layer);
}

TEST_F(OciRegistryTest, AnonymousBearerTokensAreFetched) {
  start_proxy({"--mode", "bearer"});
  EXPECT_EQ(read_bytes(cache().pull(proxied("vm/base:v1"))), registry->qcow2);
  std::string log = read_bytes(proxy_log_);
  EXPECT_THAT(log, HasSubstr("GET /token?"));
  EXPECT_THAT(log, HasSubstr("scope=repository%3Avm%2Fbase%3Apull"));
  EXPECT_THAT(log, HasSubstr("/blobs/" + registry->base.layer + " auth=yes range=-"));
}

TEST_F(OciRegistryTest, BearerTokensWithCredentialsFromTheEnvironment) {
  start_proxy({"--mode", "bearer", "--user", "alice", "--password", "s3cret-pw"});
  auto e = error_from([&] { cache().pull(proxied("vm/base:v1")); });
  EXPECT_EQ(e.code(), errc::image_registry_auth);
  EXPECT_THAT(e.help(), HasSubstr("VMCTL_REGISTRY_USERNAME"));
  env_.set("VMCTL_REGISTRY_USERNAME", "alice");
  env_.set("VMCTL_REGISTRY_PASSWORD", "wrong-pw");
  e = error_from([&] { cache().pull(proxied("vm/base:v1")); });
  EXPECT_EQ(e.code(), errc::image_registry_auth);
  EXPECT_THAT(e.message() + e.help(), Not(HasSubstr("wrong-pw")));
  expect_nothing_cached();
  env_.set("VMCTL_REGISTRY_PASSWORD", "s3cret-pw");
  EXPECT_EQ(read_bytes(cache().pull(proxied("vm/base:v1"))), registry->qcow2);
}

TEST_F(OciRegistryTest, BasicAuthWithCredentialsFromTheEnvironment) {
  start_proxy({"--mode", "basic", "--user", "bob", "--password", "hunter2"});
  auto e = error_from([&] { cache().pull(proxied("vm/base:v1")); });
  EXPECT_EQ(e.code(), errc::image_registry_auth);
  EXPECT_THAT(e.help(), HasSubstr("VMCTL_REGISTRY_PASSWORD"));
  env_.set("VMCTL_REGISTRY_USERNAME", "bob");
  env_.set("VMCTL_REGISTRY_PASSWORD", "nope");
  EXPECT_EQ(error_from([&] { cache().pull(proxied("vm/base:v1")); }).code(), errc::image_registry_auth);
  env_.set("VMCTL_REGISTRY_PASSWORD", "hunter2");
  EXPECT_EQ(read_bytes(cache().pull(proxied("vm/base:v1"))), registry->qcow2);
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// What the CDN of --redirect-blobs logged for the blob.
std::string cdn_request(const std::string& log, const std::string& digest) {
  const std::size_t at = log.find("CDN GET /cdn/v2/vm/base/blobs/" + digest);
  return at == std::string::npos ? std::string() : log.substr(at, log.find('\n', at) - at);
}

TEST_F(OciRegistryTest, ABlobRedirectedToAnotherHostIsFollowedWithoutTheAuthorization) {
  start_proxy({"--mode", "bearer", "--redirect-blobs", "127.0.0.2"});
  EXPECT_EQ(read_bytes(cache().pull(proxied("vm/base:v1"))), registry->qcow2);
  const std::string log = read_bytes(proxy_log_);
  EXPECT_THAT(log, HasSubstr("GET /v2/vm/base/blobs/" + registry->base.layer + " auth=yes"));
  const std::string cdn = cdn_request(log, registry->base.layer);
  ASSERT_FALSE(cdn.empty()) << log;  // the redirect was followed
  EXPECT_THAT(cdn, HasSubstr("?signature=s1gn3d auth=no"));
}

TEST_F(OciRegistryTest, ABlobRedirectedToAnotherPortOfTheSameHostLosesTheAuthorizationToo) {
  start_proxy({"--mode", "bearer", "--redirect-blobs", "127.0.0.1"});
  EXPECT_EQ(read_bytes(cache().pull(proxied("vm/base:v1"))), registry->qcow2);
  const std::string cdn = cdn_request(read_bytes(proxy_log_), registry->base.layer);
  ASSERT_FALSE(cdn.empty());
  EXPECT_THAT(cdn, HasSubstr(" auth=no"));
}

TEST_F(OciRegistryTest, TokenServicesAnsweringAccessTokenOrBothFieldsWork) {
  for (const std::string field : {"access_token", "both", "token"}) {
    start_proxy({"--mode", "bearer", "--token-field", field});
    auto c = cache();
    EXPECT_EQ(read_bytes(c.pull(proxied("vm/base:v1"))), registry->qcow2) << field;
    EXPECT_THAT(read_bytes(proxy_log_), HasSubstr("/blobs/" + registry->base.layer + " auth=yes")) << field;
    c.remove(proxied("vm/base:v1"));
    proxy_.reset();
    fs::remove(tmp_ / "proxy.port");
    fs::remove(proxy_log_);
  }
}

// As at a busy registry: the first GET of each path (the manifest, the
// token, the blob) is answered 503. Each is tried again and the pull goes on.
TEST_F(OciRegistryTest, TransientRegistryFailuresAreRetried) {
  start_proxy({"--mode", "bearer", "--flaky"});
  EXPECT_EQ(read_bytes(cache().pull(proxied("vm/base:v1"))), registry->qcow2);
  const std::string log = read_bytes(proxy_log_);
  EXPECT_EQ(count(log, "GET /token?"), 2u) << log;                           // 503, then the token
  EXPECT_EQ(count(log, "GET /v2/vm/base/manifests/v1 "), 3u) << log;         // 503, 401, then the manifest
  EXPECT_EQ(count(log, "GET /v2/vm/base/blobs/" + registry->base.layer + " "), 2u) << log;  // 503, then the blob
}

TEST_F(OciRegistryTest, WithoutRetriesA503IsARegistryFailure) {
  start_proxy({"--mode", "bearer", "--flaky"});
  auto c = cache(1);
  const auto e = error_from([&] { c.pull(proxied("vm/base:v1")); });
  EXPECT_EQ(e.code(), errc::image_registry_failed);
  EXPECT_THAT(e.what(), HasSubstr("try again (UNAVAILABLE)"));
  expect_nothing_cached();
}

// Each token is good for one request: the blob GET after the manifest, and
// the second manifest of an index, meet an expired token.
TEST_F(OciRegistryTest, ATokenThatExpiresMidPullIsRenewed) {
  start_proxy({"--mode", "bearer", "--token-uses", "1"});
  auto c = cache();
  EXPECT_EQ(read_bytes(c.pull(proxied("vm/multi:v1"))), registry->qcow2);
  const std::string log = read_bytes(proxy_log_);
  EXPECT_EQ(count(log, "GET /token?"), 3u) << log;  // for the index, its manifest, the blob
  EXPECT_THAT(log, HasSubstr("/blobs/" + registry->multi.layer + " auth=yes range=-"));
}

TEST_F(OciRegistryTest, ATokenThatExpiresBeforeTheBlobIsRenewedByTheDownload) {
  // The manifest uses up the first token: the blob GET is answered 401, the
  // download asks for a second token and goes on.
  start_proxy({"--mode", "bearer", "--token-uses", "1"});
  EXPECT_EQ(read_bytes(cache().pull(proxied("vm/base:v1"))), registry->qcow2);
  const std::string log = read_bytes(proxy_log_);
  EXPECT_EQ(count(log, "GET /token?"), 2u) << log;
  EXPECT_EQ(count(log, "GET /v2/vm/base/blobs/" + registry->base.layer + " auth=yes range=-\n"), 2u) << log;
}

TEST_F(OciRegistryTest, ATokenThatExpiresDuringTheBlobDownloadIsRenewedAndTheDownloadResumes) {
  // Tokens good for one request: the blob's first GET meets a 401, its second
  // (with a fresh token) is cut halfway, and the resume meets a 401 again; it
  // goes on with a third token from where it stopped.
  start_proxy({"--mode", "bearer", "--token-uses", "1", "--cut"});
  EXPECT_EQ(read_bytes(cache().pull(proxied("vm/base:v1"))), registry->qcow2);
  const std::string log = read_bytes(proxy_log_);
  const std::string blob = "GET /v2/vm/base/blobs/" + registry->base.layer + " auth=yes range=";
  const std::string resumed = blob + "bytes=" + std::to_string(registry->qcow2.size() / 2) + "-\n";
  EXPECT_EQ(count(log, "GET /token?"), 3u) << log;  // the manifest's, then two for the blob
  EXPECT_EQ(count(log, blob + "-\n"), 2u) << log;
  EXPECT_EQ(count(log, resumed), 2u) << log;
}

TEST_F(OciRegistryTest, ATokenRefusedAgainAfterRenewalIsAnAuthError) {
  // Tokens good for no request at all: renewing does not help, and the pull stops.
  start_proxy({"--mode", "bearer", "--token-uses", "-1"});
  auto e = error_from([&] { cache().pull(proxied("vm/base:v1")); });
  EXPECT_EQ(e.code(), errc::image_registry_auth);
  expect_nothing_cached();
}

TEST_F(OciRegistryTest, AnUnreachableRegistryIsARegistryFailure) {
  int port = free_port();
  auto e = error_from([&] { cache().pull(source("127.0.0.1:" + std::to_string(port), "vm/base:v1")); });
  EXPECT_EQ(e.code(), errc::image_registry_failed);
  expect_nothing_cached();
}

TEST(OciReferenceTest, ParsesRegistryRepositoryTagAndDigest) {
  OciReference a = parse_oci_reference("oci://registry.example.com:5000/team/images/debian:12.5-cloud");
  EXPECT_EQ(a.registry, "registry.example.com:5000");
  EXPECT_EQ(a.host(), "registry.example.com");
  EXPECT_EQ(a.repository, "team/images/debian");
  EXPECT_EQ(a.tag, "12.5-cloud");
  EXPECT_EQ(a.manifest_reference(), "12.5-cloud");
  const std::string digest = "sha256:" + std::string(64, 'a');
  OciReference b = parse_oci_reference("oci://[::1]:5000/vm/base@sha256:" + std::string(64, 'A'));
  EXPECT_EQ(b.host(), "[::1]");
  EXPECT_EQ(b.digest, digest);
  EXPECT_EQ(b.tag, "");
  OciReference c = parse_oci_reference("oci://localhost/base:v1@" + digest);
  EXPECT_EQ(c.tag, "v1");
  EXPECT_EQ(c.manifest_reference(), digest);
}

TEST(OciReferenceTest, MalformedReferencesAreBadSources) {
  for (const std::string& text : std::vector<std::string>{"oci://", "oci://registry", "oci://registry/", "oci://registry/repo", "oci://registry/Repo:v1",
        "oci://registry/repo:", "oci://registry/repo:-v1", "oci://registry/a//b:v1", "oci://registry:99999/repo:v1",
        "oci://registry:/repo:v1", "oci://reg_istry/repo:v1", "oci://registry/repo@sha256:abc",
        "oci://registry/repo@md5:" + std::string(32, 'a'), "oci:///repo:v1", "oci://registry/repo:v1 x"}) {
    auto e = error_from([&] { parse_oci_reference(text); });
    EXPECT_EQ(e.code(), errc::image_bad_source) << text;
    EXPECT_THAT(e.help(), HasSubstr("oci://REGISTRY/REPOSITORY")) << text;
  }
}

TEST(OciReferenceTest, LocalRegistriesUsePlainHttp) {
  auto url = [](const std::string& ref, bool insecure) {
    RegistryOptions options;
    options.insecure = insecure;
    return RegistryClient(parse_oci_reference(ref), options).base_url();
  };
  EXPECT_EQ(url("oci://localhost:5000/a:b", false), "http://localhost:5000");
  EXPECT_EQ(url("oci://127.0.0.1/a:b", false), "http://127.0.0.1");
  EXPECT_EQ(url("oci://[::1]:80/a:b", false), "http://[::1]:80");
  EXPECT_EQ(url("oci://ghcr.io/a:b", false), "https://ghcr.io");
  EXPECT_EQ(url("oci://ghcr.io/a:b", true), "http://ghcr.io");
  Environment env;
  env.set("VMCTL_REGISTRY_INSECURE", "1");
  EXPECT_TRUE(RegistryOptions::from_environment(env, {}).insecure);
  EXPECT_FALSE(RegistryOptions::from_environment(Environment{}, {}).insecure);
}

}  // namespace
}  // namespace vm_manager::image

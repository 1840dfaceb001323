// Pulls over TLS with a CA made for the test (support/test_ca): image URLs
// from tests/image/https_server.py, and OCI images from Debian's
// docker-registry serving TLS on 127.0.0.2; VMCTL_CA_FILE, the three refused
// certificates, and what VMCTL_REGISTRY_INSECURE allows (plain HTTP to a
// registry that is not local) and what not (unchecked certificates).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/image_cache.hpp"
#include "image/oci_registry.hpp"
#include "support/error_from.hpp"
#include "support/ports.hpp"
#include "support/bytes.hpp"
#include "support/https_server.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"
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
using vmctl::test::free_port;
using vmctl::test::error_from;
using vmctl::test::TestCa;
using vmctl::test::TestHttpsServer;
using vmctl::test::Validity;

const std::string kHelper = VMCTL_SOURCE_DIR "/tests/image/oci_helper.py";

// Debian's docker-registry on `address`, over TLS when given a certificate,
// with one image pushed: vm/base:v1, whose layer is `disk`.
struct Registry {
  std::optional<RunningProcess> process;
  std::string address;
  int port = 0;
  std::string scheme;
  std::string error;  // why it did not come up

  std::string url() const { return scheme + "://" + address + ":" + std::to_string(port); }
  std::string host() const { return address + ":" + std::to_string(port); }

  bool start(const fs::path& dir, const std::string& at, const vmctl::test::ServerCertificate* tls,
             const fs::path& ca, const fs::path& disk) {
    address = at;
    scheme = tls ? "https" : "http";
    std::vector<std::string> trust;
    if (tls) trust = {"--cafile", ca.string()};
    for (int attempt = 0; attempt < 5 && !process; ++attempt) {
      port = free_port(address);
      std::string config = "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                           "storage:\n  filesystem:\n    rootdirectory: " + (dir / "storage").string() +
                           "\nhttp:\n  addr: " + host() + "\n";
      if (tls) config += "  tls:\n    certificate: " + tls->cert.string() + "\n    key: " + tls->key.string() + "\n";
      std::ofstream(dir / "config.yml") << config;
      process.emplace(std::vector<std::string>{"/usr/bin/docker-registry", "serve", (dir / "config.yml").string()},
                      ProcessOptions{{}, 600s});
      std::vector<std::string> wait{"python3", kHelper, "wait", "--url", url() + "/v2/", "--timeout", "10"};
      wait.insert(wait.end(), trust.begin(), trust.end());
      if (vmctl::test::run_process(wait).exit_code != 0) process.reset();  // most likely the port was taken
    }
    if (!process) {
      error = "docker-registry did not start on " + address + " (make deps installs it)";
      return false;
    }
    std::vector<std::string> push{"python3", kHelper, "push", "--registry", url(), "--repo", "vm/base", "--tag",
                                  "v1", "--layer", disk.string(), "--media-type", std::string(kQcow2LayerType)};
    push.insert(push.end(), trust.begin(), trust.end());
    auto pushed = vmctl::test::run_process(push);
    if (pushed.exit_code != 0) error = "push failed: " + pushed.err;
    return error.empty();
  }
};

class TlsPullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ca_.error().empty()) << ca_.error();
    fs::create_directories(served_);
    disk_ = served_ / "disk.qcow2";
    auto made = vmctl::test::run_process({"qemu-img", "create", "-q", "-f", "qcow2", disk_.string(), "16M"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }
  void TearDown() override {
    registry_.process.reset();
    proxy_.reset();
  }

  ImageCache cache() const {
    ImageCacheOptions options;
    options.root = tmp_ / "cache";
    options.lock_timeout = 30s;
    options.download.connect_timeout = 5s;
    options.download.low_speed_time = 10s;
    options.environment = env_;
    return ImageCache(options);
  }
  void trust_the_test_ca() { env_.set("VMCTL_CA_FILE", ca_.cert().string()); }

  void expect_nothing_cached() const {
    EXPECT_TRUE(cache().list().empty());
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(tmp_ / "cache", ec)) {
      EXPECT_EQ(entry.path().extension(), ".lock") << "left behind: " << entry.path();
    }
  }

  void start_registry(const std::string& address, const vmctl::test::ServerCertificate* tls) {
    fs::create_directories(tmp_ / "registry");
    ASSERT_TRUE(registry_.start(tmp_ / "registry", address, tls, ca_.cert(), disk_)) << registry_.error;
  }

  // oci_helper.py's proxy in front of the registry, on `address`.
  void start_proxy(const std::string& address, const std::vector<std::string>& extra) {
    const fs::path port_file = tmp_ / "proxy.port";
    std::vector<std::string> argv{"python3", kHelper, "proxy", "--upstream", registry_.url(), "--port-file",
                                  port_file.string(), "--log", (tmp_ / "proxy.log").string(), "--bind", address};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proxy_.emplace(argv, ProcessOptions{{}, 120s});
    const auto port = vmctl::test::wait_for_port_file(port_file);
    ASSERT_TRUE(port) << "the proxy did not start";
    proxy_host_ = address + ":" + std::to_string(*port);
  }

  TempDir tmp_;
  TestCa ca_{tmp_ / "ca"};
  fs::path served_ = tmp_ / "www";
  fs::path disk_;
  Environment env_;
  Registry registry_;
  std::optional<RunningProcess> proxy_;
  std::string proxy_host_;
};

TEST_F(TlsPullTest, AnHttpsImageIsPulledWithTheCaFile) {
  TestHttpsServer server(served_, ca_.issue("good", {"127.0.0.1"}));
  trust_the_test_ca();
  auto c = cache();
  EXPECT_EQ(read_bytes(c.pull(server.url("disk.qcow2"))), read_bytes(disk_));
  EXPECT_EQ(c.inspect(server.url("disk.qcow2")).format, "qcow2");
}

TEST_F(TlsPullTest, WithoutTheCaFileTheServerIsUntrusted) {
  TestHttpsServer server(served_, ca_.issue("good", {"127.0.0.1"}));
  auto e = error_from([&] { cache().pull(server.url("disk.qcow2")); });
  EXPECT_EQ(e.code(), errc::image_download_failed);
  EXPECT_THAT(e.message(), HasSubstr("127.0.0.1:" + std::to_string(server.port())));
  EXPECT_THAT(e.message(), HasSubstr("not signed by a certificate authority this machine trusts"));
  EXPECT_THAT(e.help(), HasSubstr("VMCTL_CA_FILE"));
  EXPECT_EQ(server.log(), "");
  expect_nothing_cached();
}

TEST_F(TlsPullTest, AnExpiredCertificateIsRefusedEvenWithTheCaFile) {
  TestHttpsServer server(served_, ca_.issue("expired", {"127.0.0.1"}, Validity::expired));
  trust_the_test_ca();
  auto e = error_from([&] { cache().pull(server.url("disk.qcow2")); });
  EXPECT_EQ(e.code(), errc::image_download_failed);
  EXPECT_THAT(e.message(), HasSubstr("127.0.0.1:" + std::to_string(server.port())));
  EXPECT_THAT(e.message(), HasSubstr("has expired"));
  EXPECT_THAT(e.help(), HasSubstr("renewed"));
  expect_nothing_cached();
}

TEST_F(TlsPullTest, ACertificateForAnotherHostIsRefused) {
  TestHttpsServer server(served_, ca_.issue("for-127-0-0-1", {"127.0.0.1"}), "127.0.0.2");
  trust_the_test_ca();
  auto e = error_from([&] { cache().pull(server.url("disk.qcow2")); });
  EXPECT_EQ(e.code(), errc::image_download_failed);
  EXPECT_THAT(e.message(), HasSubstr("127.0.0.2:" + std::to_string(server.port())));
  EXPECT_THAT(e.message(), HasSubstr("made out for another host name"));
  expect_nothing_cached();
}

TEST_F(TlsPullTest, AMissingOrEmptyCaFileIsAnErrorNamingTheVariableAndThePath) {
  TestHttpsServer server(served_, ca_.issue("good", {"127.0.0.1"}));
  const fs::path missing = tmp_ / "no-such-ca.pem";
  env_.set("VMCTL_CA_FILE", missing.string());
  auto e = error_from([&] { cache().pull(server.url("disk.qcow2")); });
  EXPECT_EQ(e.code(), errc::input_not_found);
  EXPECT_THAT(e.message(), HasSubstr("VMCTL_CA_FILE"));
  EXPECT_THAT(e.message(), HasSubstr(missing.string()));
  EXPECT_THAT(e.help(), HasSubstr("VMCTL_CA_FILE"));
  const fs::path empty = tmp_ / "empty.pem";
  std::ofstream(empty) << "not a certificate\n";
  env_.set("VMCTL_CA_FILE", empty.string());
  e = error_from([&] { cache().pull(server.url("disk.qcow2")); });
  EXPECT_EQ(e.code(), errc::input_unreadable);
  EXPECT_THAT(e.message(), HasSubstr(empty.string()));
  EXPECT_THAT(e.message(), HasSubstr("no PEM certificate"));
  EXPECT_EQ(server.log(), "");
  expect_nothing_cached();
}

TEST_F(TlsPullTest, TheVmctlCliPullsOverHttpsWithVmctlCaFile) {
  TestHttpsServer server(served_, ca_.issue("good", {"127.0.0.1"}));
  const std::string url = server.url("disk.qcow2");
  const std::string cache_dir = (tmp_ / "cli-cache").string();
  auto refused = vmctl::test::run_vmctl((tmp_ / "data").string(), {"image", "pull", url},
                                        ProcessOptions{{{"VMCTL_IMAGE_CACHE", cache_dir}}, 60s});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("error[vm_manager::image::download_failed]: "));
  EXPECT_THAT(refused.err, HasSubstr("127.0.0.1:" + std::to_string(server.port())));
  EXPECT_THAT(refused.err, HasSubstr("VMCTL_CA_FILE"));
  auto pulled = vmctl::test::run_vmctl(
      (tmp_ / "data").string(), {"image", "pull", url},
      ProcessOptions{{{"VMCTL_IMAGE_CACHE", cache_dir}, {"VMCTL_CA_FILE", ca_.cert().string()}}, 60s});
  EXPECT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_THAT(pulled.out, HasSubstr("Pulled " + url));
}

TEST_F(TlsPullTest, ARegistryBehindTlsIsPulledOverHttpsWithTheCaFile) {
  const auto cert = ca_.issue("registry", {"127.0.0.2"});
  start_registry("127.0.0.2", &cert);
  const std::string src = "oci://" + registry_.host() + "/vm/base:v1";
  auto e = error_from([&] { cache().pull(src); });
  EXPECT_EQ(e.code(), errc::image_registry_failed);
  EXPECT_THAT(e.message(), HasSubstr("https://" + registry_.host()));
  EXPECT_THAT(e.message(), HasSubstr("not signed by a certificate authority this machine trusts"));
  EXPECT_THAT(e.help(), HasSubstr("VMCTL_CA_FILE"));
  expect_nothing_cached();
  trust_the_test_ca();
  auto c = cache();
  EXPECT_EQ(read_bytes(c.pull(src)), read_bytes(disk_));
  EXPECT_EQ(c.inspect(src).format, "qcow2");
}

TEST_F(TlsPullTest, InsecureAllowsPlainHttpToARegistryThatIsNotLocal) {
  start_registry("127.0.0.1", nullptr);
  start_proxy("127.0.0.2", {"--mode", "plain"});
  const std::string src = "oci://" + proxy_host_ + "/vm/base:v1";
  // Not local: https is tried, and a plain-HTTP server fails the handshake.
  auto e = error_from([&] { cache().pull(src); });
  EXPECT_EQ(e.code(), errc::image_registry_failed);
  EXPECT_THAT(e.message(), HasSubstr("https://" + proxy_host_));
  EXPECT_THAT(e.message(), HasSubstr("TLS handshake with " + proxy_host_ + " failed"));
  EXPECT_THAT(e.help(), HasSubstr("VMCTL_REGISTRY_INSECURE=1"));
  env_.set("VMCTL_REGISTRY_INSECURE", "1");
  EXPECT_EQ(read_bytes(cache().pull(src)), read_bytes(disk_));
  EXPECT_THAT(read_bytes(tmp_ / "proxy.log"), HasSubstr("GET /v2/vm/base/manifests/v1 auth=no"));
}

TEST_F(TlsPullTest, InsecureDoesNotTurnOffCertificateChecks) {
  // A plain-HTTP registry whose blobs redirect to an https CDN: the CDN's
  // certificate is checked all the same.
  start_registry("127.0.0.1", nullptr);
  const auto cdn = ca_.issue("cdn", {"127.0.0.2"});
  start_proxy("127.0.0.2", {"--mode", "plain", "--redirect-blobs", "127.0.0.2", "--cdn-cert", cdn.cert.string(),
                            "--cdn-key", cdn.key.string()});
  env_.set("VMCTL_REGISTRY_INSECURE", "1");
  const std::string src = "oci://" + proxy_host_ + "/vm/base:v1";
  auto e = error_from([&] { cache().pull(src); });
  EXPECT_EQ(e.code(), errc::image_download_failed);
  EXPECT_THAT(e.message(), HasSubstr("not signed by a certificate authority this machine trusts"));
  EXPECT_THAT(e.message(), HasSubstr("127.0.0.2:"));
  EXPECT_THAT(e.message(), Not(HasSubstr(proxy_host_ + " (")));  // the CDN is named, not the registry
  expect_nothing_cached();
  trust_the_test_ca();
  EXPECT_EQ(read_bytes(cache().pull(src)), read_bytes(disk_));
  EXPECT_THAT(read_bytes(tmp_ / "proxy.log"), HasSubstr("CDN GET /cdn/v2/vm/base/blobs/"));
}

}  // namespace
}  // namespace vm_manager::image

// net::perform over TLS, against tests/image/https_server.py with
// certificates of a CA made for the test (support/test_ca): the CA file is
// what is trusted, and each kind of refused certificate is named as such,
// with the host and port.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <string>

#include "net/http_client.hpp"
#include "net/tls_failure.hpp"
#include "support/https_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"

namespace vm_manager::net {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using vmctl::test::TestHttpsServer;
using vmctl::test::Validity;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ca_.error().empty()) << ca_.error();
    fs::create_directories(served_);
    std::ofstream(served_ / "file.txt") << "served over TLS\n";
  }

  HttpResponse get(const std::string& url, const std::string& ca_file) const {
    HttpRequest request;
    request.url = url;
    request.ca_file = ca_file;
    request.timeouts.total = 30s;  // a broken test ends instead of hanging
    return perform(request);
  }

  std::string host(const TestHttpsServer& server, const std::string& address = "127.0.0.1") const {
    return address + ":" + std::to_string(server.port());
  }

  vmctl::test::TempDir tmp_;
  vmctl::test::TestCa ca_{tmp_ / "ca"};
  fs::path served_ = tmp_ / "www";
};

TEST_F(TlsTest, TheCaFileIsTrusted) {
  TestHttpsServer server(served_, ca_.issue("good", {"127.0.0.1"}));
  HttpResponse r = get(server.url("file.txt"), ca_.cert().string());
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "served over TLS\n");
}

TEST_F(TlsTest, WithoutTheCaFileTheCertificateIsUntrusted) {
  TestHttpsServer server(served_, ca_.issue("good", {"127.0.0.1"}));
  HttpResponse r = get(server.url("file.txt"), "");
  EXPECT_EQ(r.failure, TransferFailure::tls_untrusted) << r.error;
  EXPECT_TRUE(is_tls(r.failure));
  EXPECT_THAT(r.error, HasSubstr(host(server)));
  EXPECT_THAT(r.error, HasSubstr("not signed by a certificate authority this machine trusts"));
  EXPECT_EQ(server.log(), "");  // nothing was asked of a server we do not trust
}

TEST_F(TlsTest, AnExpiredCertificateIsExpired) {
  TestHttpsServer server(served_, ca_.issue("expired", {"127.0.0.1"}, Validity::expired));
  HttpResponse r = get(server.url("file.txt"), ca_.cert().string());
  EXPECT_EQ(r.failure, TransferFailure::tls_expired) << r.error;
  EXPECT_THAT(r.error, HasSubstr(host(server)));
  EXPECT_THAT(r.error, HasSubstr("has expired"));
}

TEST_F(TlsTest, ACertificateForAnotherAddressIsTheWrongHost) {
  TestHttpsServer server(served_, ca_.issue("other", {"127.0.0.1"}), "127.0.0.2");
  HttpResponse r = get(server.url("file.txt"), ca_.cert().string());
  EXPECT_EQ(r.failure, TransferFailure::tls_wrong_host) << r.error;
  EXPECT_THAT(r.error, HasSubstr(host(server, "127.0.0.2")));
  EXPECT_THAT(r.error, HasSubstr("another host name"));
}

TEST_F(TlsTest, AnUnreadableCaFileIsATlsFailure) {
  TestHttpsServer server(served_, ca_.issue("good", {"127.0.0.1"}));
  HttpResponse r = get(server.url("file.txt"), (tmp_ / "missing.pem").string());
  EXPECT_EQ(r.failure, TransferFailure::tls_failed) << r.error;
  EXPECT_THAT(r.error, HasSubstr(host(server)));
}

TEST(TlsDiagnosisTest, NamesTheHostAndPortOfTheUrl) {
  EXPECT_EQ(host_and_port("https://example.org/a/b"), "example.org:443");
  EXPECT_EQ(host_and_port("http://example.org?x=1"), "example.org:80");
  EXPECT_EQ(host_and_port("https://user:pw@cdn.example.org:8443/x"), "cdn.example.org:8443");
  EXPECT_EQ(host_and_port("https://[::1]/x"), "[::1]:443");
  EXPECT_EQ(host_and_port("https://[::1]:5000"), "[::1]:5000");
}

TEST(TlsDiagnosisTest, OnlyTlsCodesAreDiagnosed) {
  EXPECT_EQ(diagnose_tls(CURLE_COULDNT_CONNECT, 0, "refused", "https://h/").failure, TransferFailure::none);
  EXPECT_EQ(diagnose_tls(CURLE_SSL_CONNECT_ERROR, 0, "wrong version number", "https://h:1/").failure,
            TransferFailure::tls_failed);
  EXPECT_EQ(diagnose_tls(CURLE_PEER_FAILED_VERIFICATION, 9, "not yet valid", "https://h/").failure,
            TransferFailure::tls_expired);
  EXPECT_EQ(diagnose_tls(CURLE_PEER_FAILED_VERIFICATION, 0,
                         "SSL: certificate subject name 'a' does not match target host name 'h'", "https://h/")
                .failure,
            TransferFailure::tls_wrong_host);
}

}  // namespace
}  // namespace vm_manager::net

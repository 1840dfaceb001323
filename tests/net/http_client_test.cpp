// net::perform against the test HTTP server on 127.0.0.1
// (tests/image/http_server.py) and against a socket that never answers; and
// that libcurl is loaded by the first request, not at start.
#include "net/http_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/libcurl.hpp"
#include "os/unique_fd.hpp"
#include "support/http_server.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/version.hpp"

namespace vm_manager::net {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// 20 KiB of varied bytes: several pieces on the wire.
std::string sample_bytes() {
  std::string bytes;
  for (int i = 0; i < 20 * 1024; ++i) bytes += static_cast<char>((i * 7 + i / 251) & 0xff);
  return bytes;
}

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(served_);
    std::ofstream(served_ / "file.bin", std::ios::binary) << bytes_;
    server_.emplace(served_);
    ASSERT_NE(server_->port(), 0) << "the test HTTP server did not start";
  }

  HttpRequest get(const std::string& path) const {
    HttpRequest request;
    request.url = server_->url(path);
    request.timeouts.total = 20s;  // a broken test ends instead of hanging
    return request;
  }

  // What the echo mode of the server saw of `request`.
  nlohmann::json echoed(const HttpRequest& request) const {
    HttpResponse r = perform(request);
    EXPECT_TRUE(r.success()) << r.error;
    return nlohmann::json::parse(r.body);
  }

  vmctl::test::TempDir tmp_;
  fs::path served_ = tmp_.path() / "served";
  std::string bytes_ = sample_bytes();
  std::optional<vmctl::test::TestHttpServer> server_;
};

// A listening socket on 127.0.0.1 that accepts connections (the kernel does)
// and never answers.
class SilentServer {
 public:
  SilentServer() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd_.get(), 8) != 0 ||
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    }
    port_ = ntohs(address.sin_port);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  os::UniqueFd fd_;
  int port_ = 0;
};

bool libcurl_mapped() {
  std::ifstream maps("/proc/self/maps");
  const std::string text(std::istreambuf_iterator<char>(maps), {});
  return text.find("libcurl") != std::string::npos;
}

TEST_F(HttpClientTest, ReportsTheStatusHeadersAndBodyOfTheAnswer) {
  HttpResponse r = perform(get("file.bin"));
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.success());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, bytes_);
  EXPECT_EQ(r.headers["content-type"], "application/octet-stream");
  EXPECT_EQ(r.headers["content-length"], std::to_string(bytes_.size()));
  EXPECT_TRUE(r.error.empty());
}

TEST_F(HttpClientTest, AnErrorStatusIsAnAnswerNotAFailure) {
  HttpResponse r = perform(get("missing.bin"));
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_FALSE(r.success());
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "<html>not found</html>");
  EXPECT_EQ(r.headers["content-type"], "text/html");
}

TEST_F(HttpClientTest, FollowsRedirectsOnlyWhenAsked) {
  HttpResponse unfollowed = perform(get("redirect/file.bin"));
  EXPECT_EQ(unfollowed.status, 302);
  EXPECT_EQ(unfollowed.headers["location"], "/file.bin");

  HttpRequest request = get("redirect/file.bin");
  request.max_redirects = 3;
  HttpResponse followed = perform(request);
  EXPECT_EQ(followed.status, 200);
  EXPECT_EQ(followed.body, bytes_);
  EXPECT_EQ(followed.headers.count("location"), 0u) << "the headers are the last answer's";
}

TEST_F(HttpClientTest, SendsTheHeadersTheUserAgentAndNoOthersItRemoves) {
  HttpRequest request = get("echo/x");
  request.headers = {"Accept: application/x.test", "api-version: 5.0.0", "Accept-Encoding:"};
  const nlohmann::json seen = echoed(request);
  std::vector<std::vector<std::string>> headers = seen.at("headers");
  EXPECT_THAT(headers, Contains(ElementsAre("Accept", "application/x.test")));
  EXPECT_THAT(headers, Contains(ElementsAre("api-version", "5.0.0")));
  EXPECT_THAT(headers, Contains(ElementsAre("User-Agent", "vmctl/" VM_MANAGER_VERSION)));
  for (const auto& header : headers) EXPECT_NE(header.at(0), "Accept-Encoding");
  EXPECT_EQ(user_agent(), "vmctl/" VM_MANAGER_VERSION);
}

TEST_F(HttpClientTest, SendsTheMethodAndTheBody) {
  HttpRequest put = get("echo/instance");
  put.method = "PUT";
  put.body = R"({"gen":3})";
  put.headers = {"Content-Type: application/json", "Expect:"};
  nlohmann::json seen = echoed(put);
  EXPECT_EQ(seen.at("method"), "PUT");
  EXPECT_EQ(seen.at("path"), "/echo/instance");
  EXPECT_EQ(seen.at("body"), R"({"gen":3})");

  HttpRequest get_with_body = get("echo/state-monitor");  // as propolis-server's state monitor wants
  get_with_body.body = "{}";
  seen = echoed(get_with_body);
  EXPECT_EQ(seen.at("method"), "GET");
  EXPECT_EQ(seen.at("body"), "{}");

  HttpRequest post = get("echo/token");
  post.method = "POST";
  post.body = "a=b";
  EXPECT_EQ(echoed(post).at("method"), "POST");
}

TEST_F(HttpClientTest, StreamsA2xxBodyIntoTheSinkPieceByPiece) {
  HttpRequest request = get("trickle/file.bin");  // 10 pieces, 0.1 s apart
  std::string streamed;
  int pieces = 0;
  std::uint64_t last_received = 0, last_expected = 0;
  request.sink = [&](std::string_view piece) {
    streamed += piece;
    ++pieces;
    return true;
  };
  request.progress = [&](std::uint64_t received, std::uint64_t expected) {
    last_received = received;
    last_expected = expected;
  };
  HttpResponse r = perform(request);
  EXPECT_TRUE(r.success()) << r.error;
  EXPECT_EQ(streamed, bytes_);
  EXPECT_GE(pieces, 2);
  EXPECT_TRUE(r.body.empty()) << "the sink took the body";
  EXPECT_EQ(last_expected, bytes_.size());
  EXPECT_EQ(last_received, bytes_.size());
}

TEST_F(HttpClientTest, AnErrorPageNeverReachesTheSink) {
  HttpRequest request = get("missing.bin");
  bool sunk = false;
  request.sink = [&](std::string_view) { return sunk = true; };
  HttpResponse r = perform(request);
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(sunk);
  EXPECT_EQ(r.body, "<html>not found</html>");
}

TEST_F(HttpClientTest, ASinkThatRefusesAbortsTheTransfer) {
  HttpRequest request = get("file.bin");
  request.sink = [](std::string_view) { return false; };
  HttpResponse r = perform(request);
  EXPECT_EQ(r.failure, TransferFailure::aborted);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.error.empty());
}

TEST_F(HttpClientTest, ASinkThatThrowsRaisesFromPerform) {
  HttpRequest request = get("file.bin");
  request.sink = [](std::string_view) -> bool { throw std::runtime_error("disk on fire"); };
  EXPECT_THROW(perform(request), std::runtime_error);
}

TEST_F(HttpClientTest, ABodyOverTheLimitFails) {
  HttpRequest request = get("file.bin");
  request.max_body = 1000;
  HttpResponse r = perform(request);
  EXPECT_EQ(r.failure, TransferFailure::too_large);
  EXPECT_LE(r.body.size(), 1000u);
}

TEST_F(HttpClientTest, TheAnswerCheckSeesA206BeforeItsBody) {
  HttpRequest request = get("file.bin");
  request.headers = {"Range: bytes=5000-"};
  std::vector<std::string> events;
  std::string body;
  request.on_answer = [&](long status, const std::map<std::string, std::string>& headers) {
    events.push_back("answer " + std::to_string(status) + " " + headers.at("content-range"));
    return true;
  };
  request.sink = [&](std::string_view piece) {
    if (body.empty()) events.push_back("body");
    body += piece;
    return true;
  };
  HttpResponse r = perform(request);
  EXPECT_TRUE(r.success()) << r.error;
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(body, bytes_.substr(5000));
  EXPECT_THAT(events, ElementsAre("answer 206 bytes 5000-" + std::to_string(bytes_.size() - 1) + "/" +
                                      std::to_string(bytes_.size()),
                                  "body"));
  EXPECT_THAT(server_->log(), HasSubstr("GET /file.bin bytes=5000-\n"));
}

TEST_F(HttpClientTest, AnAnswerCheckThatRefusesAbortsBeforeTheBody) {
  HttpRequest request = get("norange/file.bin");
  request.headers = {"Range: bytes=5000-"};
  long seen = 0;
  std::string body;
  request.on_answer = [&](long status, const std::map<std::string, std::string>&) {
    seen = status;
    return false;
  };
  request.sink = [&](std::string_view piece) {
    body += piece;
    return true;
  };
  HttpResponse r = perform(request);
  EXPECT_EQ(seen, 200);  // the server ignored the range
  EXPECT_EQ(r.failure, TransferFailure::aborted);
  EXPECT_EQ(body, "");
}

TEST_F(HttpClientTest, TheAnswerCheckHearsOnly2xxAnswers) {
  HttpRequest request = get("redirect/missing.bin");
  request.max_redirects = 3;
  bool asked = false;
  request.on_answer = [&](long, const std::map<std::string, std::string>&) { return asked = true; };
  HttpResponse r = perform(request);
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(asked);
}

TEST_F(HttpClientTest, ARefusedConnectionCannotConnect) {
  HttpRequest request = get("file.bin");
  request.url = "http://127.0.0.1:1/file.bin";  // nothing listens on port 1
  HttpResponse r = perform(request);
  EXPECT_EQ(r.failure, TransferFailure::cannot_connect);
  EXPECT_EQ(r.status, 0);
}

TEST(HttpClientTimeoutTest, ASilentServerTimesOut) {
  SilentServer silent;
  HttpRequest request;
  request.url = silent.url();
  request.timeouts.total = 300ms;
  const auto start = std::chrono::steady_clock::now();
  HttpResponse r = perform(request);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.failure, TransferFailure::timed_out) << r.error;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 60s) << "only a hang takes this long";
}

TEST(HttpClientTimeoutTest, AStalledTransferEndsAtTheLowSpeedLimit) {
  SilentServer silent;
  HttpRequest request;
  request.url = silent.url();
  request.timeouts.low_speed_bytes = 1;
  request.timeouts.low_speed_time = 1s;
  const auto start = std::chrono::steady_clock::now();
  HttpResponse r = perform(request);
  EXPECT_EQ(r.failure, TransferFailure::timed_out) << r.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

// In a fresh process (the death-test child re-runs only this test): nothing
// maps libcurl before the first request, and the request does.
TEST(LibCurlLoadingTest, LibcurlIsLoadedByTheFirstRequestNotBefore) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        if (libcurl_mapped()) {
          std::fputs("libcurl was mapped before any request\n", stderr);
          std::_Exit(1);
        }
        HttpRequest request;
        request.url = "http://127.0.0.1:1/";  // refused: a request all the same
        (void)perform(request);
        if (!libcurl_mapped()) {
          std::fputs("libcurl is not mapped after a request\n", stderr);
          std::_Exit(2);
        }
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(LibCurlLoadingTest, AMissingLibcurlIsAnErrorNamingThePackage) {
  try {
    (void)load_libcurl("libcurl-that-is-not-installed.so.4");
    ADD_FAILURE() << "loading a missing library succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::net_unavailable);
    EXPECT_THAT(e.message(), HasSubstr("libcurl-that-is-not-installed.so.4"));
    EXPECT_THAT(e.help(), HasSubstr("libcurl4"));
  }
}

}  // namespace
}  // namespace vm_manager::net

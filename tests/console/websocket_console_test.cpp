// WebSocketClient and attach_websocket_console against the fake
// propolis-server (tests/propolis/fake_propolis_server.py): a VM that runs,
// with a fake guest on its serial console.
#include "console/websocket_console.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backends/propolis/instance_spec.hpp"
#include "backends/propolis/propolis_client.hpp"
#include "console/attach.hpp"
#include "support/fake_propolis.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/terminal.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::console {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using vmctl::test::FakePropolisServer;
using vmctl::test::http_request;
using vmctl::test::HttpAnswer;
using vmctl::test::expect_same_settings;
using vmctl::test::Fd;
using vmctl::test::Pipe;
using vmctl::test::Pty;
using vmctl::test::read_fd_until;
using vmctl::test::TempDir;
using vmctl::test::wait_for_raw;
using vmctl::test::write_all;
namespace fs = std::filesystem;

// The fake propolis-server with one running VM, named vm-one, whose fake
// guest has printed its login prompt.
class FakePropolis {
 public:
  FakePropolis() : server_(dir_ / "fake", {"--start-delay", "0.05", "--log-level", "warning"}), client_(server_.address(), 5s) {
    propolis::InstanceParams params;
    params.id = "0f4c5e43-6d1f-4f5e-9a43-2d7a3c1b9e01";
    params.name = "vm-one";
    params.vcpus = 2;
    params.memory_mb = 1024;
    params.disk_path = (dir_ / "disk.raw").string();  // the fake checks that it exists
    std::ofstream(params.disk_path) << std::string(4096, '\0');
    params.vnics = {"vmctl0"};
    client_.ensure(propolis::make_ensure_request(params));
    client_.request_state("Run");
    client_.wait_for_state({"Running"}, Clock::now() + 20s);
    Clock::time_point deadline = Clock::now() + 20s;
    while (!client_.serial_history(100).data.ends_with("login: ")) {
      if (Clock::now() > deadline) throw std::runtime_error("the fake VM did not boot");
      std::this_thread::sleep_for(20ms);
    }
  }

  int port() const { return server_.port(); }
  propolis::PropolisClient& client() { return client_; }
  std::string url(const std::string& query = "") const {
    return "ws://" + server_.address() + "/instance/serial" + query;
  }
  HttpAnswer fake(const std::string& path, const nlohmann::json& body) {
    return http_request(port(), "POST", path, body.dump());
  }

 private:
  TempDir dir_;
  FakePropolisServer server_;
  propolis::PropolisClient client_;
};

const HttpHeaders kHeaders = propolis::console_headers();

// Reads until `expected` is in what arrived, the connection closes, or the timeout.
std::string read_until(WebSocketClient& ws, const std::string& expected, std::chrono::milliseconds timeout = 5s) {
  std::string got;
  Clock::time_point deadline = Clock::now() + timeout;
  while (got.find(expected) == std::string::npos && Clock::now() < deadline && !ws.closed()) {
    if (auto data = ws.read(50ms)) got += *data;
  }
  return got;
}

class WebSocketConsoleTest : public ::testing::Test {
 protected:
  FakePropolis fake_;
};

TEST_F(WebSocketConsoleTest, ReadsTheBannerAndTalksToTheGuest) {
  auto ws = WebSocketClient::connect(fake_.url("?from_start=0"), kHeaders, 5s);
  EXPECT_GE(ws.native_handle(), 0);
  std::string banner = read_until(ws, "vm-one login: ");
  EXPECT_NE(banner.find("Debian GNU/Linux 12 vm-one ttyS0"), std::string::npos) << banner;
  EXPECT_NE(banner.find("vm-one login: "), std::string::npos) << banner;
  ASSERT_TRUE(ws.write("hel"));
  ASSERT_TRUE(ws.write("lo\r"));
  std::string answer = read_until(ws, "fake-guest: got 'hello'\r\nvm-one login: ");
  EXPECT_NE(answer.find("hello\r\nfake-guest: got 'hello'\r\nvm-one login: "), std::string::npos) << answer;
  HttpAnswer input = http_request(fake_.port(), "GET", "/__fake/serial/input");
  EXPECT_EQ(nlohmann::json::parse(input.body).at("text"), "hello\r");
  EXPECT_FALSE(ws.closed());
  ws.close();
  EXPECT_TRUE(ws.closed());
  EXPECT_FALSE(ws.write("more"));
  EXPECT_EQ(ws.read(10ms), std::nullopt);
}

TEST_F(WebSocketConsoleTest, MostRecentReplaysTheLastBytesFirst) {
  auto ws = WebSocketClient::connect(fake_.url("?most_recent=7"), kHeaders, 5s);
  EXPECT_EQ(ws.read(5s), "login: ");
  EXPECT_EQ(ws.read(200ms), std::nullopt) << "nothing more until the guest prints";
  fake_.fake("/__fake/serial/output", {{"text", "kernel: hi\r\n"}});
  EXPECT_EQ(read_until(ws, "kernel: hi\r\n"), "kernel: hi\r\n");
}

TEST_F(WebSocketConsoleTest, LiveOutputOnlyWithoutAReplayQuery) {
  auto ws = WebSocketClient::connect(fake_.url(), kHeaders, 5s);
  EXPECT_EQ(ws.read(200ms), std::nullopt);
  std::string big(100'000, 'x');
  fake_.fake("/__fake/serial/output", {{"text", big + "END"}});
  std::string got = read_until(ws, "END");
  EXPECT_EQ(got.size(), big.size() + 3);
  EXPECT_FALSE(ws.has_buffered());
}

TEST_F(WebSocketConsoleTest, ServerCloseEndsCleanlyWithItsReason) {
  auto ws = WebSocketClient::connect(fake_.url(), kHeaders, 5s);
  EXPECT_EQ(fake_.fake("/__fake/serial/close", {{"code", 1011}, {"reason", "console is going away"}}).status, 200);
  Clock::time_point deadline = Clock::now() + 60s;
  while (!ws.closed() && Clock::now() < deadline) EXPECT_EQ(ws.read(100ms), std::nullopt);
  ASSERT_TRUE(ws.closed());
  ASSERT_TRUE(ws.close_reason().has_value());
  EXPECT_EQ(ws.close_reason()->code, 1011);
  EXPECT_EQ(ws.close_reason()->reason, "console is going away");
  EXPECT_TRUE(ws.has_buffered()) << "the close is news for a poll loop";
  EXPECT_FALSE(ws.write("x"));
  ws.close();  // idempotent
  EXPECT_EQ(ws.close_reason()->code, 1011);
}

TEST_F(WebSocketConsoleTest, StoppingTheVmClosesWith1001) {
  auto ws = WebSocketClient::connect(fake_.url(), kHeaders, 5s);
  fake_.client().request_state("Stop");
  Clock::time_point deadline = Clock::now() + 60s;
  while (!ws.closed() && Clock::now() < deadline) ws.read(100ms);
  ASSERT_TRUE(ws.close_reason().has_value());
  EXPECT_EQ(ws.close_reason()->code, 1001);
  EXPECT_EQ(ws.close_reason()->reason, "VM stopped");
}

TEST_F(WebSocketConsoleTest, PingsAreAnswered) {
  auto ws = WebSocketClient::connect(fake_.url(), kHeaders, 5s);
  fake_.fake("/__fake/serial/ping", {{"payload", "are you there"}});
  int pongs = 0;
  Clock::time_point deadline = Clock::now() + 60s;
  while (pongs == 0 && Clock::now() < deadline) {
    ws.read(50ms);
    pongs = nlohmann::json::parse(http_request(fake_.port(), "GET", "/__fake/state").body).at("pongs");
  }
  EXPECT_EQ(pongs, 1);
  EXPECT_FALSE(ws.closed());
}

TEST_F(WebSocketConsoleTest, MissingApiVersionHeaderIsRejected) {
  try {
    WebSocketClient::connect(fake_.url(), {}, 5s);
    FAIL() << "connected without api-version";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::console_websocket_failed);
    EXPECT_NE(e.message().find("HTTP 400"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("missing expected header \"api-version\""), std::string::npos) << e.message();
    EXPECT_EQ(e.message().find('\n'), std::string::npos);
    EXPECT_FALSE(e.help().empty());
  }
}

// ---- without the fake server ---------------------------------------------

TEST(WebSocketConsoleErrors, RefusedConnectionFailsAtOnce) {
  Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  sock.reset();  // nobody listens there now
  std::string url = "ws://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/instance/serial";
  Clock::time_point start = Clock::now();
  try {
    WebSocketClient::connect(url, kHeaders, 120s);
    FAIL() << "connected to nothing";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::console_websocket_failed);
    EXPECT_NE(e.message().find(url), std::string::npos) << e.message();
    EXPECT_FALSE(e.help().empty());
  }
  EXPECT_LT(Clock::now() - start, 60s) << "a refusal ends the call, not the timeout";
}

TEST(WebSocketConsoleErrors, SilentServerTimesOut) {
  // Listens (the kernel accepts the connection) but never answers the handshake.
  Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(sock.get(), 4), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  std::string url = "ws://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/instance/serial";
  Clock::time_point start = Clock::now();
  try {
    WebSocketClient::connect(url, kHeaders, 300ms);
    FAIL() << "a silent server completed the handshake";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::console_websocket_failed);
    EXPECT_NE(e.message().find("timed out"), std::string::npos) << e.message();
  }
  auto took = Clock::now() - start;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 60s) << "only a hang takes this long";
}

TEST(WebSocketConsoleErrors, OnlyWsUrlsAreSupported) {
  try {
    WebSocketClient::connect("wss://example.invalid/instance/serial", {}, 1s);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::console_websocket_failed);
    EXPECT_NE(e.message().find("only ws://"), std::string::npos) << e.message();
  }
}

// ---- attaching a terminal ------------------------------------------------

// attach_websocket_console on a thread.
class Attach {
 public:
  Attach(const std::string& url, int in_fd, int out_fd, AttachOptions options = {}) {
    result_ = std::async(std::launch::async, [=] {
      return attach_websocket_console(url, kHeaders, in_fd, out_fd, options);
    });
  }
  AttachEnd result() {
    if (result_.wait_for(10s) != std::future_status::ready) throw std::runtime_error("attach did not end");
    return result_.get();
  }

 private:
  std::future<AttachEnd> result_;
};

TEST_F(WebSocketConsoleTest, AttachedTerminalIsRawCtrlBracketDetachesAndItIsRestored) {
  Pty pty;
  termios before = pty.settings();
  ASSERT_NE(before.c_lflag & ICANON, 0u);
  Pipe out;
  Attach attach(fake_.url(), pty.slave.get(), out.write_end.get());
  ASSERT_TRUE(wait_for_raw(pty));
  EXPECT_EQ(pty.settings().c_oflag, before.c_oflag) << "output processing is kept";
  write_all(pty.master.get(), "hello\r");
  std::string answer = read_fd_until(out.read_end.get(), "fake-guest: got 'hello'\r\nvm-one login: ");
  EXPECT_NE(answer.find("hello\r\nfake-guest: got 'hello'"), std::string::npos) << answer;
  write_all(pty.master.get(), "ab\x1d" "cd");
  EXPECT_EQ(attach.result(), AttachEnd::detached);
  expect_same_settings(pty.settings(), before);
  // "ab" typed before Ctrl-] arrived; nothing after it did.
  auto input = nlohmann::json::parse(http_request(fake_.port(), "GET", "/__fake/serial/input").body);
  EXPECT_EQ(input.at("text"), "hello\rab");
}

TEST_F(WebSocketConsoleTest, AttachEndsWithTheReasonWhenTheServerCloses) {
  Pty pty;
  termios before = pty.settings();
  Pipe out;
  auto reason = std::make_shared<std::string>("unset");
  AttachOptions options;
  options.on_console_closed = [reason](const std::string& why) { *reason = why; };
  Attach attach(fake_.url("?most_recent=7"), pty.slave.get(), out.write_end.get(), options);
  ASSERT_TRUE(wait_for_raw(pty));
  EXPECT_EQ(read_fd_until(out.read_end.get(), "login: "), "login: ");
  fake_.fake("/__fake/serial/close", {{"code", 1001}, {"reason", "VM stopped"}});
  EXPECT_EQ(attach.result(), AttachEnd::console_closed);
  EXPECT_EQ(*reason, "VM stopped");
  expect_same_settings(pty.settings(), before);
}

TEST_F(WebSocketConsoleTest, PipedInputGetsTheReplyThenEnds) {
  Pipe in;
  Pipe out;
  write_all(in.write_end.get(), "uname\r");
  in.write_end.reset();
  Attach attach(fake_.url(), in.read_end.get(), out.write_end.get());
  EXPECT_EQ(attach.result(), AttachEnd::input_closed);
  out.write_end.reset();
  std::string got = read_fd_until(out.read_end.get(), "");
  EXPECT_NE(got.find("fake-guest: got 'uname'"), std::string::npos) << got;
}

TEST(WebSocketConsoleErrors, AttachToNothingFailsBeforeTouchingTheTerminal) {
  Pty pty;
  termios before = pty.settings();
  bool connected = false;
  AttachOptions options;
  options.on_connected = [&] { connected = true; };
  options.connect_timeout = 1s;
  try {
    attach_websocket_console("ws://127.0.0.1:1/instance/serial", kHeaders, pty.slave.get(),
                             STDOUT_FILENO, options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::console_websocket_failed);
  }
  EXPECT_FALSE(connected);
  expect_same_settings(pty.settings(), before);
}

}  // namespace
}  // namespace vm_manager::console

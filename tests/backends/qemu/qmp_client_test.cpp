#include "backends/qemu/qmp_client.hpp"
#include "backends/qemu/qmp_jobs.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "os/proc.hpp"
#include "support/error_from.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using vmctl::test::error_from;
using Clock = std::chrono::steady_clock;
using ::testing::HasSubstr;

// How long a fake server waits for the client: only a hang takes this long.
// A silent fake stays silent and connected until the client hangs up, so a
// client's qmp_timeout error (rather than "closed") proves its own deadline
// fired; no test asserts how soon after the deadline (that is timing, for
// make bench, and a loaded machine under ASan can be late by seconds).
constexpr auto kPatience = 60s;

const json kGreeting = json::parse(
    R"({"QMP": {"version": {"qemu": {"micro": 2, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7"},
                "capabilities": ["oob"]}})");

// ---- a scripted fake QEMU ----------------------------------------------------------

// The server's end of a QMP connection, driven by a test's script.
class Peer {
 public:
  explicit Peer(int fd) : fd_(fd) {}
  ~Peer() { close(); }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // False once the client is gone.
  bool send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void send(const json& message) { send_raw(message.dump() + "\r\n"); }
  void reply(const json& request, const json& value) { send({{"return", value}, {"id", request.value("id", json())}}); }
  void event(const std::string& name, const json& data = json::object()) {
    send({{"event", name}, {"data", data}, {"timestamp", {{"seconds", 1700000000}, {"microseconds", 42}}}});
  }

  // The next request, or null at EOF or when the client sends nothing.
  json read_request() {
    auto deadline = Clock::now() + kPatience;
    for (;;) {
      auto newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return json::parse(line, nullptr, /*allow_exceptions=*/false);
      }
      if (!read_more(deadline)) return nullptr;
    }
  }

  // Expects `command` next; returns the request.
  json expect(const std::string& command) {
    json request = read_request();
    EXPECT_TRUE(request.is_object()) << "expected " << command;
    if (!request.is_object()) return json::object({{"id", nullptr}});
    EXPECT_EQ(request.value("execute", ""), command);
    EXPECT_TRUE(request.contains("id")) << request.dump();
    ids.push_back(request.value("id", json()));
    return request;
  }

  // Greeting and capabilities negotiation, as QEMU does them.
  void greet() {
    send(kGreeting);
    json request = expect("qmp_capabilities");
    reply(request, json::object());
  }

  // Waits for the client to hang up (bounded by kPatience).
  void wait_for_close() {
    auto deadline = Clock::now() + kPatience;
    while (read_more(deadline)) {
    }
  }

  void close() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

  std::vector<json> ids;  // of the requests seen, in order

 private:
  bool read_more(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  std::string buffer_;
};

using Script = std::function<void(Peer&)>;

// Runs `script` as QEMU on one end of a socketpair; the client gets the other.
// Declare it before the client, so the client hangs up before the join.
class FakeQemu {
 public:
  explicit FakeQemu(Script script) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw std::runtime_error("socketpair");
    client_fd_ = fds[0];
    thread_ = std::thread([fd = fds[1], script = std::move(script)] {
      Peer peer(fd);
      script(peer);
    });
  }
  ~FakeQemu() {
    if (client_fd_ >= 0) ::close(client_fd_);
    thread_.join();
  }
  FakeQemu(const FakeQemu&) = delete;
  FakeQemu& operator=(const FakeQemu&) = delete;

  // The client's end; the client takes ownership.
  int client_fd() { return std::exchange(client_fd_, -1); }
  QmpClient connect(QmpClient::Duration timeout = 2s) { return QmpClient::over_fd(client_fd(), timeout); }

 private:
  int client_fd_ = -1;
  std::thread thread_;
};

// A listening unix socket in a temp dir, for connect().
class Listener {
 public:
  explicit Listener(const std::filesystem::path& path, int backlog = 8) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd_, backlog) != 0) {
      throw std::runtime_error("cannot listen on " + path.string());
    }
  }
  ~Listener() {
    if (server_.joinable()) server_.join();
    ::close(fd_);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Accepts one client and runs `script` for it in a thread.
  void serve_one(Script script) {
    server_ = std::thread([this, script = std::move(script)] {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kPatience).count())) <= 0) return;
      Peer peer(::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC));
      script(peer);
    });
  }

 private:
  int fd_;
  std::thread server_;
};

// ---- helpers ------------------------------------------------------------------------------

void expect_error(const Error& e, std::string_view code) {
  EXPECT_EQ(e.code(), code) << e.message();
  EXPECT_EQ(e.message().find('\n'), std::string::npos) << "one line: " << e.message();
  EXPECT_FALSE(e.help().empty());
}

// The error a call raises and how long it took to raise it.
struct TimedError {
  Error error;
  Clock::duration took;
};

template <class F>
TimedError timed_error(F&& call) {
  auto start = Clock::now();
  Error e = error_from(std::forward<F>(call));
  return {e, Clock::now() - start};
}

template <class F>
Clock::duration time_of(F&& call) {
  auto start = Clock::now();
  call();
  return Clock::now() - start;
}

// ---- handshake --------------------------------------------------------------------------

TEST(QmpClient, HandshakeReadsGreetingAndNegotiatesCapabilities) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  EXPECT_EQ(client.version(), json({{"major", 7}, {"minor", 2}, {"micro", 2}}));
}

TEST(QmpClient, GreetingWithoutVersionIsStillUsable) {
  FakeQemu qemu([](Peer& peer) {
    peer.send({{"QMP", json::object()}});
    peer.reply(peer.expect("qmp_capabilities"), json::object());
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  EXPECT_TRUE(client.version().is_null());
}

TEST(QmpClient, GreetingTimeoutIsBounded) {
  FakeQemu qemu([](Peer& peer) { peer.wait_for_close(); });
  auto [e, took] = timed_error([&] { qemu.connect(200ms); });
  expect_error(e, errc::qmp_timeout);
  EXPECT_GE(took, 200ms);
}

TEST(QmpClient, GreetingWithoutQmpIsProtocolError) {
  FakeQemu qemu([](Peer& peer) { peer.send({{"hello", 1}}); });
  auto e = error_from([&] { qemu.connect(); });
  expect_error(e, errc::qmp_protocol);
  EXPECT_THAT(e.message(), HasSubstr("QMP"));
}

TEST(QmpClient, RefusedCapabilitiesIsCommandFailed) {
  FakeQemu qemu([](Peer& peer) {
    peer.send(kGreeting);
    json request = peer.expect("qmp_capabilities");
    peer.send({{"error", {{"class", "CommandNotFound"}, {"desc", "nope"}}}, {"id", request["id"]}});
  });
  expect_error(error_from([&] { qemu.connect(); }), errc::qmp_command_failed);
}

// ---- commands and replies -----------------------------------------------------------------

TEST(QmpClient, IdsIncreaseAndRepliesAreMatchedById) {
  std::vector<json> ids;
  {
    FakeQemu qemu([&](Peer& peer) {
      peer.greet();
      json first = peer.expect("stop");
      // A stale reply (to a request that timed out earlier) and one without
      // "id" but with "return" are not ours: skipped.
      peer.send({{"return", {{"stale", true}}}, {"id", 999}});
      peer.send({{"return", {{"no-id", true}}}});
      peer.reply(first, json::object());
      peer.reply(peer.expect("cont"), json::object());
      json status = peer.expect("query-status");
      peer.reply(status, {{"status", "running"}, {"running", true}});
      ids = peer.ids;
      peer.wait_for_close();
    });
    auto client = qemu.connect();
    client.stop();
    client.cont();
    EXPECT_EQ(client.query_status().status, "running");
  }
  ASSERT_EQ(ids.size(), 4u);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(ids[i].is_number_unsigned()) << ids[i];
    if (i > 0) {
      EXPECT_GT(ids[i].get<std::uint64_t>(), ids[i - 1].get<std::uint64_t>());
    }
  }
}

TEST(QmpClient, ExecuteReturnsTheReplyAndSendsArguments) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    json request = peer.expect("query-block");
    EXPECT_EQ(request["arguments"], json({{"flat", true}}));
    peer.reply(request, json::array({1, 2}));
    json bare = peer.expect("query-name");
    EXPECT_FALSE(bare.contains("arguments")) << "no arguments member without arguments";
    peer.reply(bare, {{"name", "vm1"}});
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  EXPECT_EQ(client.execute("query-block", {{"flat", true}}), json::array({1, 2}));
  EXPECT_EQ(client.execute("query-name"), json({{"name", "vm1"}}));
}

// The fake reads both requests before it answers either: a client that
// waited for the first reply before sending the second would time out.
TEST(QmpClient, ExecuteAllSendsEveryCommandBeforeReadingAReply) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    json status = peer.expect("query-status");
    json vnc = peer.expect("query-vnc");
    EXPECT_GT(vnc["id"].get<std::uint64_t>(), status["id"].get<std::uint64_t>());
    peer.reply(status, {{"status", "running"}, {"running", true}});
    peer.send({{"event", "RESUME"}, {"timestamp", {{"seconds", 1}, {"microseconds", 2}}}});
    peer.reply(vnc, {{"enabled", true}, {"host", "127.0.0.1"}, {"service", "5901"}});
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  auto replies = client.execute_all({{"query-status"}, {"query-vnc"}});
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(QmpClient::status_from_reply(replies[0]).status, "running");
  EXPECT_EQ(QmpClient::vnc_from_reply(replies[1])["service"], "5901");
  auto events = client.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].name, "RESUME");
}

TEST(QmpClient, ExecuteAllRaisesTheFirstFailure) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    json first = peer.expect("cont");
    peer.expect("query-status");
    peer.send({{"error", {{"class", "GenericError"}, {"desc", "no"}}}, {"id", first["id"]}});
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  expect_error(error_from([&] { client.execute_all({{"cont"}, {"query-status"}}); }), errc::qmp_command_failed);
}

TEST(QmpClient, QueryStatusParses) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.reply(peer.expect("query-status"), {{"status", "paused"}, {"singlestep", false}, {"running", false}});
    peer.reply(peer.expect("query-status"), {{"status", "running"}, {"running", true}});
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  auto paused = client.query_status();
  EXPECT_EQ(paused.status, "paused");
  EXPECT_FALSE(paused.running);
  auto running = client.query_status();
  EXPECT_EQ(running.status, "running");
  EXPECT_TRUE(running.running);
}

TEST(QmpClient, HumanMonitorCommandReturnsTheString) {
  const std::string usernet = "Hub -1 (net0):\r\n  Protocol[State]    FD  Source Address  Port\r\n";
  FakeQemu qemu([&](Peer& peer) {
    peer.greet();
    json request = peer.expect("human-monitor-command");
    EXPECT_EQ(request["arguments"], json({{"command-line", "info usernet"}}));
    peer.reply(request, usernet);
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  EXPECT_EQ(client.human_monitor_command("info usernet"), usernet);
}

TEST(QmpClient, QueryVncAndSimpleCommands) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.reply(peer.expect("query-vnc"), {{"enabled", true}, {"host", "127.0.0.1"}, {"service", "5901"}});
    peer.reply(peer.expect("system_powerdown"), json::object());
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  EXPECT_EQ(client.query_vnc()["service"], "5901");
  client.system_powerdown();
}

TEST(QmpClient, ErrorReplyIsCommandFailed) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    json request = peer.expect("cont");
    peer.send({{"error", {{"class", "GenericError"}, {"desc", "Resetting the Virtual Machine is required\nnow"}}},
               {"id", request["id"]}});
    // QEMU could not parse a request: an error without id is about ours.
    peer.expect("stop");
    peer.send({{"error", {{"class", "GenericError"}, {"desc", "JSON parse error"}}}});
    peer.reply(peer.expect("query-status"), {{"status", "paused"}, {"running", false}});
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  auto e = error_from([&] { client.cont(); });
  expect_error(e, errc::qmp_command_failed);
  EXPECT_EQ(e.message(), "QEMU refused cont: Resetting the Virtual Machine is required now (GenericError)");
  expect_error(error_from([&] { client.stop(); }), errc::qmp_command_failed);
  EXPECT_EQ(client.query_status().status, "paused") << "the client stays usable after an error reply";
}

// ---- events ------------------------------------------------------------------------------

TEST(QmpClient, EventBetweenCommandAndReplyIsKept) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    json request = peer.expect("stop");
    peer.event("STOP");
    peer.reply(request, json::object());
    request = peer.expect("system_powerdown");
    peer.event("POWERDOWN");
    peer.event("RESET", {{"guest", true}});
    peer.reply(request, json::object());
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  client.stop();
  client.system_powerdown();
  auto events = client.take_events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].name, "STOP");
  EXPECT_EQ(events[0].timestamp["seconds"], 1700000000);
  EXPECT_EQ(events[1].name, "POWERDOWN");
  EXPECT_EQ(events[2].name, "RESET");
  EXPECT_EQ(events[2].data, json({{"guest", true}}));
  EXPECT_TRUE(client.take_events().empty()) << "take_events empties the queue";
}

TEST(QmpClient, WaitForEventTakesAKeptEventAndLeavesOthers) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    json request = peer.expect("cont");
    peer.event("A");
    peer.event("SHUTDOWN", {{"guest", true}});
    peer.event("C");
    peer.reply(request, json::object());
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  client.cont();
  auto shutdown = client.wait_for_event("SHUTDOWN", 0ms);
  ASSERT_TRUE(shutdown);
  EXPECT_EQ(shutdown->data, json({{"guest", true}}));
  auto rest = client.take_events();
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].name, "A");
  EXPECT_EQ(rest[1].name, "C");
}

TEST(QmpClient, WaitForEventReadsUntilItArrives) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    std::this_thread::sleep_for(50ms);
    peer.event("RESET");
    peer.send({{"return", json::object()}, {"id", 77}});  // a late reply is skipped
    peer.event("SHUTDOWN", {{"reason", "guest-shutdown"}});
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  auto shutdown = client.wait_for_event("SHUTDOWN", kPatience);
  ASSERT_TRUE(shutdown);
  EXPECT_EQ(shutdown->data["reason"], "guest-shutdown");
  auto rest = client.take_events();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].name, "RESET");
}

TEST(QmpClient, WaitForEventTimesOutWithNullopt) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.event("STOP");
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  std::optional<QmpEvent> event;
  auto took = time_of([&] { event = client.wait_for_event("SHUTDOWN", 150ms); });
  EXPECT_FALSE(event);
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, kPatience) << "the wait ended at its deadline, not when the fake gave up";
  EXPECT_EQ(client.take_events().size(), 1u) << "the STOP read meanwhile is kept";
}

TEST(QmpClient, WaitForEventReturnsNulloptWhenQemuExits) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.event("POWERDOWN");
    peer.close();
  });
  auto client = qemu.connect();
  std::optional<QmpEvent> event;
  auto took = time_of([&] { event = client.wait_for_event("SHUTDOWN", 2 * kPatience); });
  EXPECT_FALSE(event);
  EXPECT_LT(took, kPatience) << "EOF ends the wait, long before its deadline";
}

// ---- failures --------------------------------------------------------------------------

TEST(QmpClient, SilentServerTimesOutWithinTheDeadline) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.expect("query-status");  // and never answers
    peer.wait_for_close();
  });
  auto client = qemu.connect(250ms);
  auto [e, took] = timed_error([&] { client.query_status(); });
  expect_error(e, errc::qmp_timeout);
  EXPECT_THAT(e.message(), HasSubstr("query-status"));
  EXPECT_GE(took, 250ms);
}

TEST(QmpClient, ExecuteTakesItsOwnTimeout) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.expect("stop");
    peer.wait_for_close();
  });
  auto client = qemu.connect(10s);
  auto [e, took] = timed_error([&] { client.execute("stop", nullptr, 100ms); });
  expect_error(e, errc::qmp_timeout);
  EXPECT_GE(took, 100ms);
}

// The fake floods from the request on until the client hangs up (or
// kPatience passes, a hang): a call that took less than kPatience gave up
// while the flood still ran.
TEST(QmpClient, EventFloodDoesNotExtendTheDeadline) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.expect("query-status");
    auto until = Clock::now() + kPatience;
    while (Clock::now() < until && peer.send_raw(R"({"event": "NOISE", "data": {}})" "\n")) {
    }
  });
  auto client = qemu.connect(200ms);
  auto [e, took] = timed_error([&] { client.query_status(); });
  expect_error(e, errc::qmp_timeout);
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, kPatience) << "the flood kept the call waiting";
  EXPECT_LE(client.take_events().size(), 1000u) << "the event queue is bounded";
}

TEST(QmpClient, ServerClosingMidReplyIsClosed) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.expect("query-status");
    peer.send_raw(R"({"return": {"status": "runn)");
    peer.close();
  });
  auto client = qemu.connect();
  auto e = error_from([&] { client.query_status(); });
  expect_error(e, errc::qmp_closed);
  EXPECT_THAT(e.message(), HasSubstr("query-status"));
}

TEST(QmpClient, ServerClosingBeforeGreetingIsClosed) {
  FakeQemu qemu([](Peer& peer) { peer.close(); });
  expect_error(error_from([&] { qemu.connect(); }), errc::qmp_closed);
}

struct Garbage {
  std::string name;
  std::string reply;  // sent instead of the reply to query-status
};

void PrintTo(const Garbage& garbage, std::ostream* out) { *out << garbage.name; }

class QmpGarbage : public ::testing::TestWithParam<Garbage> {};

TEST_P(QmpGarbage, IsProtocolError) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.expect("query-status");
    peer.send_raw(GetParam().reply + "\n");
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  auto e = error_from([&] { client.query_status(); });
  expect_error(e, errc::qmp_protocol);
  EXPECT_THAT(e.message(), HasSubstr("QEMU sent an invalid QMP message"));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, QmpGarbage,
    ::testing::Values(Garbage{"NotJson", "this is not json\r"}, Garbage{"Array", "[1, 2, 3]"},
                      Garbage{"String", "\"QMP\""}, Garbage{"Truncated", R"({"return": )"},
                      Garbage{"NeitherReplyNorEvent", R"({"hello": "world"})"},
                      Garbage{"EventNameNotString", R"({"event": 42})"},
                      Garbage{"ErrorNotObject", R"({"error": "bad", "id": 2})"},
                      Garbage{"ErrorWithoutDesc", R"({"error": {"class": "GenericError"}, "id": 2})"},
                      Garbage{"StatusWrongShape", R"({"return": {"status": 1, "running": "yes"}, "id": 2})"},
                      Garbage{"StatusNotObject", R"({"return": [], "id": 2})"},
                      Garbage{"BinaryBytes", std::string("\x01\xff\xfe\x00{", 5)}),
    [](const auto& row) { return row.param.name; });

TEST(QmpClient, WrongReturnTypesAreProtocolErrors) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.reply(peer.expect("human-monitor-command"), {{"not", "a string"}});
    peer.reply(peer.expect("query-vnc"), "not an object");
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  expect_error(error_from([&] { client.human_monitor_command("info usernet"); }), errc::qmp_protocol);
  expect_error(error_from([&] { client.query_vnc(); }), errc::qmp_protocol);
}

TEST(QmpClient, OversizedLineIsProtocolErrorWithoutReadingItAll) {
  std::size_t sent = 0;
  {
    FakeQemu qemu([&](Peer& peer) {
      // An endless greeting line: stops when the client hangs up.
      std::string chunk(64 * 1024, 'x');
      chunk[0] = '{';
      while (sent < (64u << 20) && peer.send_raw(chunk)) sent += chunk.size();
    });
    auto e = error_from([&] { qemu.connect(5s); });
    expect_error(e, errc::qmp_protocol);
    EXPECT_THAT(e.message(), HasSubstr("longer than"));
  }
  // 1 MiB plus what the socket buffers hold: the client stopped reading early.
  EXPECT_LT(sent, 4u << 20);
}

TEST(QmpClient, OversizedReplyAfterHandshakeIsProtocolError) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    json request = peer.expect("human-monitor-command");
    peer.reply(request, std::string(2 << 20, 'y'));
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  expect_error(error_from([&] { client.human_monitor_command("info mtree"); }), errc::qmp_protocol);
}

TEST(QmpClient, LinesSplitAcrossReadsAreReassembled) {
  FakeQemu qemu([](Peer& peer) {
    std::string greeting = kGreeting.dump() + "\r\n";
    for (char c : greeting) {
      peer.send_raw(std::string(1, c));
      if (c == ':') std::this_thread::sleep_for(1ms);
    }
    json request = peer.expect("qmp_capabilities");
    peer.reply(request, json::object());
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  EXPECT_EQ(client.version()["major"], 7);
}

// ---- quit -----------------------------------------------------------------------------

TEST(QmpClient, QuitSucceedsWhenQemuClosesWithoutReplying) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.expect("quit");
    peer.close();
  });
  auto client = qemu.connect();
  EXPECT_NO_THROW(client.quit());
}

TEST(QmpClient, QuitSucceedsWithReplyThenClose) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    json request = peer.expect("quit");
    peer.reply(request, json::object());
    peer.event("SHUTDOWN", {{"guest", false}, {"reason", "host-qmp-quit"}});
    peer.close();
  });
  auto client = qemu.connect();
  EXPECT_NO_THROW(client.quit());
  auto shutdown = client.wait_for_event("SHUTDOWN", kPatience);
  ASSERT_TRUE(shutdown);
  EXPECT_EQ(shutdown->data["reason"], "host-qmp-quit");
}

TEST(QmpClient, QuitUnansweredIsStillATimeout) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.expect("quit");
    peer.wait_for_close();
  });
  auto client = qemu.connect(150ms);
  expect_error(error_from([&] { client.quit(); }), errc::qmp_timeout);
}

TEST(QmpClient, MovedClientKeepsTheConnection) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    peer.reply(peer.expect("query-status"), {{"status", "running"}, {"running", true}});
    peer.wait_for_close();
  });
  auto first = qemu.connect();
  QmpClient second = std::move(first);
  EXPECT_TRUE(second.query_status().running);
}

// ---- connect() over a unix socket --------------------------------------------------

TEST(QmpClientConnect, ConnectsOverAUnixSocket) {
  vmctl::test::TempDir dir;
  Listener listener(dir / "qmp.sock");
  listener.serve_one([](Peer& peer) {
    peer.greet();
    peer.reply(peer.expect("query-status"), {{"status", "prelaunch"}, {"running", false}});
    peer.wait_for_close();
  });
  {
    auto client = QmpClient::connect(dir / "qmp.sock", 2s);
    EXPECT_EQ(client.query_status().status, "prelaunch");
  }
}

TEST(QmpClientConnect, MissingSocketIsConnectFailed) {
  vmctl::test::TempDir dir;
  auto e = error_from([&] { QmpClient::connect(dir / "nothing.sock", 1s); });
  expect_error(e, errc::qmp_connect_failed);
  EXPECT_THAT(e.message(), HasSubstr("nothing.sock"));
  // The remedy in plain words; vmctl's "vmctl status" hint is checked in tests/vmctl/hints_test.cpp.
  EXPECT_THAT(e.help(), HasSubstr("is the VM running?"));
}

TEST(QmpClientConnect, SocketWithoutListenerIsConnectFailed) {
  vmctl::test::TempDir dir;
  { Listener gone(dir / "stale.sock"); }  // the file stays, nobody listens: ECONNREFUSED
  expect_error(error_from([&] { QmpClient::connect(dir / "stale.sock", 1s); }), errc::qmp_connect_failed);
}

TEST(QmpClientConnect, TooLongPathIsConnectFailed) {
  expect_error(error_from([&] { QmpClient::connect("/tmp/" + std::string(200, 'a') + ".sock", 1s); }),
               errc::qmp_connect_failed);
}

// QMP serves one client at a time: a second connection is accepted (or left
// in the backlog) but gets no greeting. connect() must give up in time.
TEST(QmpClientConnect, SecondClientWithoutGreetingTimesOut) {
  vmctl::test::TempDir dir;
  Listener listener(dir / "qmp.sock");
  listener.serve_one([](Peer& peer) { peer.wait_for_close(); });  // accepts, never greets
  auto [e, took] = timed_error([&] { QmpClient::connect(dir / "qmp.sock", 300ms); });
  expect_error(e, errc::qmp_timeout);
  EXPECT_THAT(e.help(), HasSubstr("another client"));
  EXPECT_GE(took, 300ms);
}

TEST(QmpClientConnect, FullBacklogTimesOut) {
  vmctl::test::TempDir dir;
  Listener listener(dir / "qmp.sock", 0);  // never accepts
  // Fill the backlog with plain connections; the next one cannot even connect.
  std::vector<int> holders;
  for (int i = 0; i < 4; ++i) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", (dir / "qmp.sock").c_str());
    ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    holders.push_back(fd);
  }
  auto [e, took] = timed_error([&] { QmpClient::connect(dir / "qmp.sock", 300ms); });
  expect_error(e, errc::qmp_timeout);
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, kPatience) << "only a hang takes this long";
  for (int fd : holders) ::close(fd);
}

// ---- a real QEMU ----------------------------------------------------------------------

std::optional<std::string> find_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

// A daemonized QEMU (not our child): killed by pid, whatever happens.
struct DaemonGuard {
  pid_t pid = -1;
  std::uint64_t start_time = 0;

  bool gone() const {
    auto stat = os::read_proc_stat(pid);
    // A zombie counts as gone: PID 1 reaps it, seconds late.
    return !stat || stat->start_time != start_time || stat->state == 'Z' || stat->state == 'X';
  }
  bool wait_gone(std::chrono::milliseconds timeout) const {
    for (auto until = Clock::now() + timeout; Clock::now() < until; std::this_thread::sleep_for(20ms)) {
      if (gone()) return true;
    }
    return gone();
  }
  ~DaemonGuard() {
    if (pid > 0 && !gone()) ::kill(pid, SIGKILL);
  }
};

TEST(QmpClientRealQemu, DrivesAPausedVm) {
  auto qemu = find_in_path("qemu-system-x86_64");
  ASSERT_TRUE(qemu) << "qemu-system-x86_64 is not installed; this test needs it";
  vmctl::test::TempDir dir;
  auto socket = dir / "qmp.sock";
  auto pidfile = dir / "pid";
  DaemonGuard guard;
  auto started = vmctl::test::run_process(
      {*qemu, "-machine", "q35,accel=tcg", "-nodefaults", "-display", "none", "-qmp",
       "unix:" + socket.string() + ",server=on,wait=off", "-daemonize", "-pidfile", pidfile.string(), "-S"},
      {.env = {}, .timeout = 60s});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  std::ifstream(pidfile) >> guard.pid;
  ASSERT_GT(guard.pid, 0);
  auto stat = os::read_proc_stat(guard.pid);
  ASSERT_TRUE(stat);
  guard.start_time = stat->start_time;

  auto client = QmpClient::connect(socket, 10s);
  ASSERT_TRUE(client.version().contains("major")) << client.version();

  // QEMU really does leave a second client without a greeting.
  auto [e, took] = timed_error([&] { QmpClient::connect(socket, 300ms); });
  expect_error(e, errc::qmp_timeout);
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, kPatience) << "only a hang takes this long";

  auto status = client.query_status();
  EXPECT_EQ(status.status, "prelaunch");
  EXPECT_FALSE(status.running);

  client.cont();
  status = client.query_status();
  EXPECT_EQ(status.status, "running");
  EXPECT_TRUE(status.running);

  std::string version = client.human_monitor_command("info version");
  EXPECT_THAT(version, HasSubstr(std::to_string(client.version().value("major", -1)) + "." +
                                 std::to_string(client.version().value("minor", -1))));

  client.stop();
  status = client.query_status();
  EXPECT_EQ(status.status, "paused");
  EXPECT_FALSE(status.running);
  EXPECT_TRUE(client.wait_for_event("STOP", 5s)) << "stop emits STOP";
  bool resumed = false;
  for (const auto& event : client.take_events()) resumed |= event.name == "RESUME";
  EXPECT_TRUE(resumed) << "cont emitted RESUME, kept in the queue";

  auto refused = error_from([&] { client.execute("no-such-command"); });
  expect_error(refused, errc::qmp_command_failed);
  EXPECT_THAT(refused.message(), HasSubstr("CommandNotFound"));

  client.quit();
  EXPECT_TRUE(guard.wait_gone(10s)) << "QEMU still runs after quit";
}

// ---- jobs (snapshot-save and friends) -------------------------------------------------------

// A job's run as QEMU reports it: status changes (of other jobs too), then
// query-jobs with its error, if any, and job-dismiss.
void serve_job(Peer& peer, const std::string& command, const json& error) {
  peer.greet();
  json request = peer.expect(command);
  EXPECT_EQ(request["arguments"]["job-id"], "job-1");
  EXPECT_EQ(request["arguments"]["tag"], "snap");
  peer.reply(request, json::object());
  peer.event("JOB_STATUS_CHANGE", {{"id", "job-1"}, {"status", "created"}});
  peer.event("JOB_STATUS_CHANGE", {{"id", "job-1"}, {"status", "running"}});
  peer.event("JOB_STATUS_CHANGE", {{"id", "other"}, {"status", "concluded"}});
  peer.event("JOB_STATUS_CHANGE", {{"id", "job-1"}, {"status", "concluded"}});
  request = peer.expect("query-jobs");
  json job = {{"id", "job-1"}, {"type", "snapshot-save"}, {"status", "concluded"}};
  if (!error.is_null()) job["error"] = error;
  peer.reply(request, json::array({{{"id", "other"}, {"status", "concluded"}}, job}));
  request = peer.expect("job-dismiss");
  EXPECT_EQ(request["arguments"]["id"], "job-1");
  peer.reply(request, json::object());
  peer.wait_for_close();
}

TEST(QmpJob, WaitsForItsOwnJobToConcludeAndDismissesIt) {
  FakeQemu qemu([](Peer& peer) { serve_job(peer, "snapshot-save", nullptr); });
  auto client = qemu.connect();
  run_qmp_job(client, "snapshot-save", {{"tag", "snap"}}, "job-1", 60s);
}

TEST(QmpJob, AFailedJobIsSnapshotFailedWithQemusError) {
  FakeQemu qemu([](Peer& peer) { serve_job(peer, "snapshot-load", "Device 'data-x' has no snapshot 'snap'"); });
  auto client = qemu.connect();
  Error e = error_from([&] { run_qmp_job(client, "snapshot-load", {{"tag", "snap"}}, "job-1", 60s); });
  expect_error(e, errc::snapshot_failed);
  EXPECT_THAT(e.message(), HasSubstr("has no snapshot 'snap'"));
}

TEST(QmpJob, ARefusedJobIsSnapshotFailed) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    json request = peer.expect("snapshot-save");
    peer.send({{"error", {{"class", "GenericError"}, {"desc", "Migration is disabled when VirtFS export path"}}},
               {"id", request["id"]}});
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  Error e = error_from([&] { run_qmp_job(client, "snapshot-save", {{"tag", "snap"}}, "job-1", 60s); });
  expect_error(e, errc::snapshot_failed);
  EXPECT_THAT(e.message(), HasSubstr("Migration is disabled"));
}

TEST(QmpJob, AJobThatNeverConcludesFailsAtTheDeadline) {
  FakeQemu qemu([](Peer& peer) {
    peer.greet();
    json request = peer.expect("snapshot-delete");
    peer.reply(request, json::object());
    peer.event("JOB_STATUS_CHANGE", {{"id", "job-1"}, {"status", "running"}});
    peer.wait_for_close();
  });
  auto client = qemu.connect();
  Error e = error_from([&] { run_qmp_job(client, "snapshot-delete", {{"tag", "snap"}}, "job-1", 300ms); });
  expect_error(e, errc::snapshot_failed);
  EXPECT_THAT(e.message(), HasSubstr("did not finish in time"));
}

}  // namespace
}  // namespace vm_manager::qemu

// PropolisClient and make_ensure_request against the fake propolis-server
// (tests/propolis/fake_propolis_server.py), which validates every body
// against the API document and answers like the real server.
#include "backends/propolis/propolis_client.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include <gtest/gtest.h>

#include "backends/propolis/instance_spec.hpp"
#include "support/fake_propolis.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "util/base64.hpp"
#include "vm_manager/error.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using vm_manager::Error;
using vm_manager::propolis::InstanceParams;
using vm_manager::propolis::PropolisClient;
namespace errc = vm_manager::errc;
namespace fs = std::filesystem;

const std::string kFake = VMCTL_SOURCE_DIR "/tests/propolis/fake_propolis_server.py";
const std::string kOpenApi = VMCTL_SOURCE_DIR "/tests/propolis/propolis-server-openapi.json";

// A port nothing listens on: bound once by us, then released.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class PropolisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.emplace(dir_ / "fake");
    address_ = fake_->address();
    client_ = std::make_unique<PropolisClient>(address_, 5s);
  }

  void TearDown() override {
    auto result = fake_->stop();
    EXPECT_EQ(result.exit_code, 0) << result.err;
  }

  // The fake's own control endpoints (/__fake/…), which need no api-version.
  void fake_post(const std::string& path, const json& body) { fake_->control(path, body); }
  std::vector<json> requests() const { return fake_->requests(); }

  InstanceParams params() {
    InstanceParams p;
    p.id = "5a1e5c0d-6b1f-4c47-9e0f-1d2c3b4a5f60";
    p.name = "web";
    p.description = "a vmctl test VM";
    p.vcpus = 2;
    p.memory_mb = 1024;
    p.disk_path = (dir_ / "zvol").string();  // the fake checks that it exists
    std::ofstream(p.disk_path) << "disk";
    p.vnics = {"vmctl_web0", "vmctl_web1"};
    p.seed_iso = std::string("CD001\0\xff seed", 12);
    return p;
  }

  void ensure_and_run() {
    client_->ensure(make_ensure_request(params()));
    client_->request_state("Run");
    client_->wait_for_state({"Running"}, std::chrono::steady_clock::now() + 10s);
  }

  vmctl::test::TempDir dir_;
  std::optional<vmctl::test::FakePropolisServer> fake_;
  std::string address_;
  std::unique_ptr<PropolisClient> client_;
};

// Runs fn, expecting an Error with `code`; returns it for more checks.
template <typename Fn>
Error expect_error(std::string_view code, Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
    EXPECT_FALSE(e.help().empty());
    return e;
  }
  ADD_FAILURE() << "no error, expected " << code;
  return Error(code, "");
}

TEST_F(PropolisClientTest, FullEnsureRequestIsAccepted) {
  json request = make_ensure_request(params());
  client_->ensure(request);
  json got = client_->get_instance();
  EXPECT_EQ(got["instance"]["properties"]["name"], "web");
  auto reqs = requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs[0]["method"], "PUT");
  EXPECT_EQ(reqs[0]["path"], "/instance");
  EXPECT_EQ(reqs[0]["body"], request);
}

// The generated JSON against the document with the fake's own validator and
// its checks of the spec (backends used once, PCI paths unique, boot order).
TEST_F(PropolisClientTest, EnsureRequestValidatesAgainstTheOpenApiDocument) {
  const fs::path file = dir_ / "request.json";
  std::ofstream(file) << make_ensure_request(params()).dump();
  const char* script =
      "import importlib.util, json, sys\n"
      "s = importlib.util.spec_from_file_location('fake', sys.argv[1])\n"
      "m = importlib.util.module_from_spec(s); s.loader.exec_module(m)\n"
      "req = json.load(open(sys.argv[3]))\n"
      "m.Validator(json.load(open(sys.argv[2]))).validate('InstanceEnsureRequest', req)\n"
      "m.check_pci_paths(req)\n"
      "spec = req['init']['value']['spec']\n"
      "problem = m.check_spec(spec) or m.init_problems(spec, True)\n"
      "sys.exit(problem)\n";
  auto r = vmctl::test::run_process({"python3", "-c", script, kFake, kOpenApi, file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(PropolisClientTest, EnsureRequestShape) {
  json r = make_ensure_request(params());
  EXPECT_EQ(r["init"]["method"], "Spec");
  const json& spec = r["init"]["value"]["spec"];
  EXPECT_EQ(spec["board"]["cpus"], 2);
  EXPECT_EQ(spec["board"]["memory_mb"], 1024);
  const json& c = spec["components"];
  EXPECT_EQ(c["com1"]["component"]["num"], "com1");
  EXPECT_EQ(c["boot-disk-backend"]["component"]["path"], params().disk_path);
  EXPECT_EQ(c["net1-backend"]["component"]["vnic_name"], "vmctl_web1");
  EXPECT_EQ(c["cloud-init-backend"]["component"]["readonly"], true);
  EXPECT_EQ(vm_manager::util::base64_decode(c["cloud-init-backend"]["component"]["base64"].get<std::string>()),
            params().seed_iso);
  EXPECT_EQ(c["boot-settings"]["component"]["order"][0]["id"], "boot-disk");
  InstanceParams bad = params();
  bad.vcpus = 256;
  expect_error(errc::spec_invalid, [&] { make_ensure_request(bad); });
  bad = params();
  bad.id = "web";
  expect_error(errc::spec_invalid, [&] { make_ensure_request(bad); });
}

TEST_F(PropolisClientTest, EveryRequestNamesTheApiVersion) {
  ensure_and_run();
  client_->serial_history(std::nullopt);
  client_->request_state("Stop");
  auto reqs = requests();
  ASSERT_GE(reqs.size(), 5u);
  for (const auto& r : reqs) {
    EXPECT_EQ(r["headers"].value("api-version", ""), "5.0.0") << r.dump();
    if (r["body_size"].get<int>() > 0) {
      EXPECT_EQ(r["headers"].value("content-type", ""), "application/json");
    }
  }
}

TEST_F(PropolisClientTest, RunThenStop) {
  ensure_and_run();
  EXPECT_EQ(client_->get_instance()["instance"]["state"], "Running");
  client_->request_state("Stop");
  auto r = client_->wait_for_state({"Stopped", "Destroyed"}, std::chrono::steady_clock::now() + 10s);
  EXPECT_TRUE(r.state == "Stopped" || r.state == "Destroyed") << r.state;
}

TEST_F(PropolisClientTest, MonitorGenerations) {
  client_->ensure(make_ensure_request(params()));
  auto first = client_->monitor(0, 5s);
  EXPECT_EQ(first.state, "Creating");
  client_->request_state("Run");
  // propolis master publishes Starting on an explicit Run, then Running; a
  // slow poll may see Running first.
  auto next = client_->monitor(first.gen + 1, 5s);
  EXPECT_GT(next.gen, first.gen);
  EXPECT_TRUE(next.state == "Starting" || next.state == "Running") << next.state;
  auto running = next.state == "Running" ? next : client_->monitor(next.gen + 1, 5s);
  EXPECT_GE(running.gen, next.gen);
  EXPECT_EQ(running.state, "Running");
  expect_error(errc::propolis_timeout, [&] { client_->monitor(running.gen + 1, 200ms); });
}

TEST_F(PropolisClientTest, MonitorAfterTheEndIsNoInstance) {
  ensure_and_run();
  client_->request_state("Stop");
  auto r = client_->wait_for_state({"Destroyed"}, std::chrono::steady_clock::now() + 10s);
  Error e = expect_error(errc::propolis_no_instance, [&] { client_->monitor(r.gen + 1, 5s); });
  EXPECT_NE(e.message().find("410"), std::string::npos) << e.message();
}

TEST_F(PropolisClientTest, SecondEnsureConflicts) {
  client_->ensure(make_ensure_request(params()));
  Error e = expect_error(errc::propolis_conflict, [&] { client_->ensure(make_ensure_request(params())); });
  EXPECT_NE(e.message().find("409"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("AlreadyInitialized"), std::string::npos) << e.message();
}

TEST_F(PropolisClientTest, NoInstance) {
  Error e = expect_error(errc::propolis_no_instance, [&] { client_->request_state("Run"); });
  EXPECT_NE(e.message().find("424"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("NoInstance"), std::string::npos) << e.message();
  expect_error(errc::propolis_no_instance, [&] { client_->get_instance(); });
  expect_error(errc::propolis_no_instance, [&] { client_->serial_history(10); });
}

TEST_F(PropolisClientTest, ServerErrorCarriesItsMessage) {
  client_->ensure(make_ensure_request(params()));
  fake_post("/__fake/fail", {{"method", "PUT"},
                             {"path", "/instance/state"},
                             {"status", 500},
                             {"error_code", "Boom"},
                             {"message", "the disk is on fire"}});
  Error e = expect_error(errc::propolis_request_failed, [&] { client_->request_state("Run"); });
  EXPECT_NE(e.message().find("500"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("Boom: the disk is on fire"), std::string::npos) << e.message();
  client_->request_state("Run");  // the fault was for one request only
}

// The api-version header of each request the fake recorded, in order.
std::vector<std::string> versions_sent(const vmctl::test::FakePropolisServer& server) {
  std::vector<std::string> out;
  for (const json& r : server.requests()) out.push_back(r.at("headers").value("api-version", "(none)"));
  return out;
}

// A propolis-server older than API 5.0.0 refuses every request with 400
// "server does not support this API version: 5.0.0" (dropshot's version
// check), which does not say the server's own version; vmctl asks again
// with each older version, newest first, and names the first one taken.
TEST(PropolisClientVersion, AnOlderServerIsAVersionMismatchNamingWhatItTakes) {
  vmctl::test::TempDir dir;
  vmctl::test::FakePropolisServer old(dir / "fake", {"--api-version", "4.0.0"});
  PropolisClient client(old.address(), 5s);
  Error e = expect_error(errc::propolis_version_mismatch, [&] { client.get_instance(); });
  const std::string expected = "propolis-server at " + old.address() +
                               " does not take API version 5.0.0, which vmctl speaks (the newest it takes is "
                               "4.0.0): it answered GET /instance with 400 Bad Request: server does not support "
                               "this API version: 5.0.0 (request id ";
  EXPECT_EQ(e.message().substr(0, expected.size()), expected) << e.message();
  EXPECT_NE(e.help().find("run a propolis-server that speaks API version 5.0.0"), std::string::npos) << e.help();
  EXPECT_EQ(versions_sent(old), (std::vector<std::string>{"5.0.0", "4.0.0"}));
  // Every call, the ensure and the state change included.
  InstanceParams p;
  p.id = "5a1e5c0d-6b1f-4c47-9e0f-1d2c3b4a5f60";
  p.memory_mb = 1024;
  p.disk_path = (dir / "zvol").string();
  expect_error(errc::propolis_version_mismatch, [&] { client.ensure(make_ensure_request(p)); });
  expect_error(errc::propolis_version_mismatch, [&] { client.request_state("Run"); });
  EXPECT_EQ(old.stop().exit_code, 0);
}

TEST(PropolisClientVersion, TheSearchStopsAtTheServersVersion) {
  vmctl::test::TempDir dir;
  vmctl::test::FakePropolisServer older(dir / "fake", {"--api-version", "2.0.0"});
  PropolisClient client(older.address(), 5s);
  Error e = expect_error(errc::propolis_version_mismatch, [&] { client.serial_history(10); });
  EXPECT_NE(e.message().find("(the newest it takes is 2.0.0): it answered GET /instance/serial/history"),
            std::string::npos)
      << e.message();
  EXPECT_EQ(versions_sent(older), (std::vector<std::string>{"5.0.0", "4.0.0", "3.0.0", "2.0.0"}));
  EXPECT_EQ(older.stop().exit_code, 0);
}

TEST(PropolisClientVersion, AServerOlderThanEveryVersionIsSaidSoAfterFourQuestions) {
  vmctl::test::TempDir dir;
  vmctl::test::FakePropolisServer ancient(dir / "fake", {"--api-version", "0.9.0"});
  PropolisClient client(ancient.address(), 5s);
  Error e = expect_error(errc::propolis_version_mismatch, [&] { client.get_instance(); });
  EXPECT_NE(e.message().find("(it takes none of 1.0.0 to 5.0.0 either)"), std::string::npos) << e.message();
  EXPECT_EQ(versions_sent(ancient), (std::vector<std::string>{"5.0.0", "4.0.0", "3.0.0", "2.0.0", "1.0.0"}));
  EXPECT_EQ(ancient.stop().exit_code, 0);
}

TEST(PropolisClientVersion, AQuestionThatFailsEndsTheSearchWithNothingClaimed) {
  vmctl::test::TempDir dir;
  vmctl::test::FakePropolisServer old(dir / "fake", {"--api-version", "4.0.0"});
  old.control("/__fake/drop", {{"method", "GET"}, {"path", "/instance"}});  // the first question goes unanswered
  PropolisClient client(old.address(), 5s);
  Error e = expect_error(errc::propolis_version_mismatch, [&] { client.serial_history(10); });
  EXPECT_NE(e.message().find("(asking with older versions did not tell which it takes)"), std::string::npos)
      << e.message();
  EXPECT_EQ(versions_sent(old), (std::vector<std::string>{"5.0.0", "4.0.0"}));
  EXPECT_EQ(old.stop().exit_code, 0);
}

TEST_F(PropolisClientTest, AServerThatSeesNoVersionHeaderIsAVersionMismatch) {
  fake_post("/__fake/fail", {{"path", "/instance"}, {"status", 400}, {"message", "missing expected header \"api-version\""}});
  Error e = expect_error(errc::propolis_version_mismatch, [&] { client_->get_instance(); });
  EXPECT_NE(e.message().find("(it did not say which version it takes): it answered GET /instance with 400 Bad "
                             "Request: missing expected header \"api-version\""),
            std::string::npos)
      << e.message();
  EXPECT_EQ(requests().size(), 1u) << "no other versions tried: the server saw none";
  // Other 400s are not about the version.
  fake_post("/__fake/fail", {{"path", "/instance"}, {"status", 400}, {"message", "missing expected header \"x\""}});
  expect_error(errc::propolis_request_failed, [&] { client_->get_instance(); });
  fake_post("/__fake/fail",
            {{"path", "/instance"}, {"status", 500}, {"message", "server does not support this API version: 5.0.0"}});
  expect_error(errc::propolis_request_failed, [&] { client_->get_instance(); });
}

TEST_F(PropolisClientTest, TooLargeIsRefusedBeforeSending) {
  InstanceParams p = params();
  p.seed_iso = std::string(800 * 1024, 'x');  // base64 makes it over 1 MiB
  Error e = expect_error(errc::propolis_too_large, [&] { client_->ensure(make_ensure_request(p)); });
  EXPECT_NE(e.message().find("1048576"), std::string::npos) << e.message();
  EXPECT_NE(e.help().find("user-data"), std::string::npos) << e.help();
  EXPECT_TRUE(requests().empty());
}

TEST_F(PropolisClientTest, UnreachableFailsQuickly) {
  PropolisClient client("127.0.0.1:" + std::to_string(closed_port()), 120s);
  auto start = std::chrono::steady_clock::now();
  Error e = expect_error(errc::propolis_unreachable, [&] { client.get_instance(); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 60s) << "a refusal ends the call, not the timeout";
  EXPECT_NE(e.message().find("127.0.0.1"), std::string::npos) << e.message();
}

TEST_F(PropolisClientTest, WaitForStateTimesOut) {
  client_->ensure(make_ensure_request(params()));  // never asked to run
  auto start = std::chrono::steady_clock::now();
  Error e = expect_error(errc::propolis_timeout, [&] {
    client_->wait_for_state({"Running"}, std::chrono::steady_clock::now() + 300ms);
  });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 60s) << "only a hang takes this long";
  EXPECT_NE(e.message().find("Creating"), std::string::npos) << e.message();
}

TEST_F(PropolisClientTest, WaitForStateReportsFailure) {
  client_->ensure(make_ensure_request(params()));
  fake_post("/__fake/fail-start", json::object());
  client_->request_state("Run");
  Error e = expect_error(errc::vm_invalid_state, [&] {
    client_->wait_for_state({"Running"}, std::chrono::steady_clock::now() + 10s);
  });
  EXPECT_NE(e.message().find("Failed"), std::string::npos) << e.message();
}

TEST_F(PropolisClientTest, SerialHistoryBytes) {
  ensure_and_run();
  const std::string bytes("\x00\x01 not utf-8 \xff\xfe\r\n", 17);
  fake_post("/__fake/serial/output", {{"base64", vm_manager::util::base64_encode(bytes)}});
  PropolisClient::SerialHistory all = client_->serial_history(std::nullopt);
  ASSERT_GE(all.data.size(), bytes.size());
  EXPECT_EQ(all.data.substr(all.data.size() - bytes.size()), bytes);
  EXPECT_EQ(all.last_byte_offset, all.data.size()) << "all of it: the fake keeps 1 MiB";
  EXPECT_EQ(client_->serial_history(bytes.size()).data, bytes);
  PropolisClient::SerialHistory tail = client_->serial_history(4);
  EXPECT_EQ(tail.data, bytes.substr(bytes.size() - 4));
  EXPECT_EQ(tail.last_byte_offset, all.last_byte_offset) << "the offset is where the output ends, not the slice";
}

TEST_F(PropolisClientTest, SerialUrl) {
  EXPECT_EQ(client_->serial_url(std::nullopt), "ws://" + address_ + "/instance/serial");
  EXPECT_EQ(client_->serial_url(4096), "ws://" + address_ + "/instance/serial?most_recent=4096");
  EXPECT_EQ(PropolisClient("[::1]:12400", 1s).serial_url(0), "ws://[::1]:12400/instance/serial?most_recent=0");
  EXPECT_EQ(client_->serial_url_from(77), "ws://" + address_ + "/instance/serial?from_start=77");
}

}  // namespace

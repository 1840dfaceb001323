#include "support/http_server.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "support/bytes.hpp"
#include "support/ports.hpp"

#ifndef VMCTL_SOURCE_DIR
#error "VMCTL_SOURCE_DIR must name the source tree"
#endif

namespace vmctl::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

TestHttpServer::TestHttpServer(const fs::path& root, int cut_after)
    : state_dir_(fs::path(root).concat(".http")) {
  fs::create_directories(state_dir_);
  fs::path port_file = state_dir_ / "port";
  process_.emplace(std::vector<std::string>{"python3", VMCTL_SOURCE_DIR "/tests/image/http_server.py", "--root",
                                            root.string(), "--log", (state_dir_ / "requests.log").string(),
                                            "--port-file", port_file.string(), "--cut-after",
                                            std::to_string(cut_after), "--detail-log",
                                            (state_dir_ / "requests.jsonl").string()},
                   ProcessOptions{{}, 3600s});
  const auto port = wait_for_port_file(port_file);
  if (!port) {
    ADD_FAILURE() << "the test HTTP server did not start";
    return;
  }
  port_ = *port;
}

// RunningProcess's own destructor kills the server by its PID and reaps it.
TestHttpServer::~TestHttpServer() = default;

std::string TestHttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + path;
}

std::string TestHttpServer::log() const { return read_bytes(state_dir_ / "requests.log"); }

}  // namespace vmctl::test

namespace vmctl::test {
namespace {

std::optional<std::string> optional_string(const nlohmann::json& j, const char* name) {
  if (!j.contains(name) || j.at(name).is_null()) return std::nullopt;
  return j.at(name).get<std::string>();
}

}  // namespace

std::vector<SeenRequest> TestHttpServer::requests() const {
  std::vector<SeenRequest> seen;
  std::istringstream in(read_bytes(state_dir_ / "requests.jsonl"));
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    seen.push_back(SeenRequest{j.at("method"), j.at("path"), optional_string(j, "range"), optional_string(j, "if_range"),
                               optional_string(j, "authorization"), j.at("time")});
  }
  return seen;
}

}  // namespace vmctl::test

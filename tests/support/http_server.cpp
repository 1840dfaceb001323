#include "support/http_server.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#ifndef VMCTL_SOURCE_DIR
#error "VMCTL_SOURCE_DIR must name the source tree"
#endif

namespace vmctl::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

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
  for (int i = 0; i < 400 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(25ms);
  if (!fs::exists(port_file)) {
    ADD_FAILURE() << "the test HTTP server did not start";
    return;
  }
  port_ = std::stoi(slurp(port_file));
}

TestHttpServer::~TestHttpServer() {
  if (!process_) return;
  ::kill(process_->pid(), SIGKILL);
  process_->finish();
}

std::string TestHttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + path;
}

std::string TestHttpServer::log() const { return slurp(state_dir_ / "requests.log"); }

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
  std::istringstream in(slurp(state_dir_ / "requests.jsonl"));
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    seen.push_back(SeenRequest{j.at("method"), j.at("path"), optional_string(j, "range"), optional_string(j, "if_range"),
                               optional_string(j, "authorization"), j.at("time")});
  }
  return seen;
}

}  // namespace vmctl::test

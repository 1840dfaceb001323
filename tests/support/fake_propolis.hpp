// The fake propolis-server (tests/propolis/fake_propolis_server.py) on a
// free port of 127.0.0.1, for as long as the object lives; stopped by PID.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

namespace vmctl::test {

class FakePropolisServer {
 public:
  // Keeps its records (requests.jsonl, responses.jsonl) in `state_dir`.
  // `extra_args` are the fake's own flags (--fail, --start-delay, …).
  // Throws when the server does not come up.
  explicit FakePropolisServer(const std::filesystem::path& state_dir, const std::vector<std::string>& extra_args = {});
  ~FakePropolisServer();
  FakePropolisServer(const FakePropolisServer&) = delete;
  FakePropolisServer& operator=(const FakePropolisServer&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Every request the server received, in order (one JSON object each).
  std::vector<nlohmann::json> requests() const;
  // POSTs to one of the fake's own control endpoints (/__fake/…), which
  // need no api-version; throws unless it answers 2xx.
  nlohmann::json control(const std::string& path, const nlohmann::json& body = nlohmann::json::object()) const;
  // SIGTERM and wait: the fake must exit cleanly (status 0).
  ProcessResult stop();

 private:
  std::filesystem::path state_dir_;
  std::optional<RunningProcess> process_;
  int port_ = 0;
};

// Lays out `dir` as a propolis dir for the zone simulator, as
// tests/propolis/install-fake-propolis.sh does: bin/propolis-server runs the
// fake with propolis-server's own argv (its knobs come from
// FAKE_PROPOLIS_OPTIONS or the zone's tools-state/propolis-options), and
// firmware/OVMF_CODE.fd is a page-aligned dummy bootrom. Throws on failure.
void install_fake_propolis(const std::filesystem::path& dir);

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// One plain HTTP/1.1 request to 127.0.0.1:port (Connection: close), with a
// JSON body; `headers` are extra "Name: value" lines.
HttpAnswer http_request(int port, const std::string& method, const std::string& target, const std::string& body = "",
                        const std::vector<std::string>& headers = {});

}  // namespace vmctl::test

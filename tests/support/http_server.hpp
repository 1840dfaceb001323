// tests/image/http_server.py on 127.0.0.1, serving a folder for as long as
// the object lives; killed by PID on destruction.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace vmctl::test {

// One request as the server saw it (its detail log).
struct SeenRequest {
  std::string method;
  std::string path;
  std::optional<std::string> range;
  std::optional<std::string> if_range;
  std::optional<std::string> authorization;
  double time = 0;  // the server's monotonic clock, seconds
};

class TestHttpServer {
 public:
  // Serves `root`; requests are logged to `root`/../<log name>. Fails the
  // test (ADD_FAILURE) when the server does not come up.
  explicit TestHttpServer(const std::filesystem::path& root, int cut_after = 1000);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port>/<path>"
  std::string url(const std::string& path) const;
  // The request log: one "METHOD PATH RANGE" line per request.
  std::string log() const;
  // The same requests in detail, in order.
  std::vector<SeenRequest> requests() const;

 private:
  std::filesystem::path state_dir_;
  std::optional<RunningProcess> process_;
  int port_ = 0;
};

}  // namespace vmctl::test

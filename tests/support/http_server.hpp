// tests/image/http_server.py on 127.0.0.1, serving a folder for as long as
// the object lives; killed by PID on destruction.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "support/process.hpp"

namespace vmctl::test {

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

 private:
  std::filesystem::path state_dir_;
  std::optional<RunningProcess> process_;
  int port_ = 0;
};

}  // namespace vmctl::test

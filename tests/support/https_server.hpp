// tests/image/https_server.py on a 127.0.0.x address, serving a folder over
// TLS with a certificate of a TestCa for as long as the object lives; killed
// by PID on destruction.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "support/process.hpp"
#include "support/test_ca.hpp"

namespace vmctl::test {

class TestHttpsServer {
 public:
  // Fails the test (ADD_FAILURE) when the server does not come up.
  TestHttpsServer(const std::filesystem::path& root, const ServerCertificate& certificate,
                  const std::string& address = "127.0.0.1");
  ~TestHttpsServer();
  TestHttpsServer(const TestHttpsServer&) = delete;
  TestHttpsServer& operator=(const TestHttpsServer&) = delete;

  int port() const { return port_; }
  // "https://<address>:<port>/<path>"
  std::string url(const std::string& path) const;
  // The request log: one "METHOD PATH" line per request that got through TLS.
  std::string log() const;

 private:
  std::filesystem::path state_dir_;
  std::string address_;
  std::optional<RunningProcess> process_;
  int port_ = 0;
};

}  // namespace vmctl::test

#include "support/https_server.hpp"

#include <gtest/gtest.h>

#include "support/bytes.hpp"
#include "support/ports.hpp"

#ifndef VMCTL_SOURCE_DIR
#error "VMCTL_SOURCE_DIR must name the source tree"
#endif

namespace vmctl::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

TestHttpsServer::TestHttpsServer(const fs::path& root, const ServerCertificate& certificate,
                                 const std::string& address)
    : state_dir_(fs::path(root).concat(".https-" + address)), address_(address) {
  fs::create_directories(state_dir_);
  const fs::path port_file = state_dir_ / "port";
  fs::remove(port_file);
  process_.emplace(std::vector<std::string>{"python3", VMCTL_SOURCE_DIR "/tests/image/https_server.py", "--root",
                                            root.string(), "--cert", certificate.cert.string(), "--key",
                                            certificate.key.string(), "--bind", address, "--port-file",
                                            port_file.string(), "--log", (state_dir_ / "requests.log").string()},
                   ProcessOptions{{}, 3600s});
  const auto port = wait_for_port_file(port_file);
  if (!port) {
    ADD_FAILURE() << "the test HTTPS server did not start";
    return;
  }
  port_ = *port;
}

// RunningProcess's own destructor kills the server by its PID and reaps it.
TestHttpsServer::~TestHttpsServer() = default;

std::string TestHttpsServer::url(const std::string& path) const {
  return "https://" + address_ + ":" + std::to_string(port_) + "/" + path;
}

std::string TestHttpsServer::log() const { return read_bytes(state_dir_ / "requests.log"); }

}  // namespace vmctl::test

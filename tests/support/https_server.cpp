#include "support/https_server.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

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
  // Bounded only to catch a server that died: it normally writes it at once.
  for (int i = 0; i < 1200 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(25ms);
  if (!fs::exists(port_file)) {
    ADD_FAILURE() << "the test HTTPS server did not start";
    return;
  }
  port_ = std::stoi(slurp(port_file));
}

TestHttpsServer::~TestHttpsServer() {
  if (!process_) return;
  ::kill(process_->pid(), SIGKILL);
  process_->finish();
}

std::string TestHttpsServer::url(const std::string& path) const {
  return "https://" + address_ + ":" + std::to_string(port_) + "/" + path;
}

std::string TestHttpsServer::log() const { return slurp(state_dir_ / "requests.log"); }

}  // namespace vmctl::test

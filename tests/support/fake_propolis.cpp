#include "support/fake_propolis.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef VMCTL_SOURCE_DIR
#error "VMCTL_SOURCE_DIR must name the source tree"
#endif

namespace vmctl::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// The port file is complete once its line ends.
std::optional<int> read_port(const fs::path& port_file) {
  std::ifstream in(port_file);
  std::string line;
  if (!std::getline(in, line) || in.eof() || line.empty()) return std::nullopt;
  return std::stoi(line);
}

}  // namespace

FakePropolisServer::FakePropolisServer(const fs::path& state_dir, const std::vector<std::string>& extra_args)
    : state_dir_(state_dir) {
  fs::create_directories(state_dir_);
  fs::path port_file = state_dir_ / "port";
  fs::remove(port_file);
  std::vector<std::string> argv = {"python3",     VMCTL_SOURCE_DIR "/tests/propolis/fake_propolis_server.py",
                                   "--port",      "0",
                                   "--port-file", port_file.string(),
                                   "--state-dir", state_dir_.string()};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_.emplace(argv, ProcessOptions{{}, 3600s});
  for (int i = 0; i < 800; ++i) {
    if (std::optional<int> port = read_port(port_file)) {
      port_ = *port;
      return;
    }
    std::this_thread::sleep_for(25ms);
  }
  stop();
  throw std::runtime_error("the fake propolis-server did not start");
}

FakePropolisServer::~FakePropolisServer() { stop(); }

ProcessResult FakePropolisServer::stop() {
  if (!process_) return {};
  ::kill(process_->pid(), SIGTERM);
  ProcessResult result = process_->finish();
  process_.reset();
  return result;
}

std::vector<nlohmann::json> FakePropolisServer::requests() const {
  std::vector<nlohmann::json> out;
  std::ifstream in(state_dir_ / "requests.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

nlohmann::json FakePropolisServer::control(const std::string& path, const nlohmann::json& body) const {
  HttpAnswer answer = http_request(port_, "POST", path, body.dump());
  if (answer.status / 100 != 2) {
    throw std::runtime_error("POST " + path + ": HTTP " + std::to_string(answer.status) + ": " + answer.body);
  }
  return answer.body.empty() ? nlohmann::json() : nlohmann::json::parse(answer.body);
}

void install_fake_propolis(const fs::path& dir) {
  ProcessResult r = run_process({VMCTL_SOURCE_DIR "/tests/propolis/install-fake-propolis.sh", dir.string()});
  if (r.exit_code != 0) throw std::runtime_error("install-fake-propolis.sh failed: " + r.err);
}

HttpAnswer http_request(int port, const std::string& method, const std::string& target, const std::string& body,
                        const std::vector<std::string>& headers) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(std::uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const std::string& header : headers) request += header + "\r\n";
  request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (std::size_t done = 0; done < request.size();) {
    ssize_t n = ::send(fd, request.data() + done, request.size() - done, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("cannot send to 127.0.0.1:" + std::to_string(port));
    done += std::size_t(n);
  }
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) answer.append(buffer, std::size_t(n));
  HttpAnswer result;
  if (answer.size() > 12) result.status = std::stoi(answer.substr(9, 3));
  if (std::size_t split = answer.find("\r\n\r\n"); split != std::string::npos) result.body = answer.substr(split + 4);
  return result;
}

}  // namespace vmctl::test

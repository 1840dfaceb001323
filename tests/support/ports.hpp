// Ports of the test servers: a free one to tell a server, or the one a
// server chose and wrote to its port file.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "support/bytes.hpp"

namespace vmctl::test {

// A TCP port nobody listens on right now on a loopback address, for servers
// that must be told their port; one may take it before the server binds it,
// so callers retry a server that fails to start.
inline int free_port(const std::string& address = "127.0.0.1") {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// The port a server wrote to `port_file` (written whole, by a rename), once
// it is there; nullopt if it never comes: the deadline only catches a server
// that died.
inline std::optional<int> wait_for_port_file(const std::filesystem::path& port_file,
                                             std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!std::filesystem::exists(port_file)) {
    if (std::chrono::steady_clock::now() > until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return std::stoi(read_bytes(port_file));
}

}  // namespace vmctl::test

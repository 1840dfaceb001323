// port_holder: who holds a host port, from /proc. The kernel lists every
// socket in /proc/net/{tcp,tcp6,udp,udp6} with its inode and owner's uid;
// the process is the one with an fd on "socket:[inode]" in /proc/<pid>/fd,
// which only root sees for other users' processes.
#include <sys/types.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <sstream>

#include <fmt/format.h>

#include "backends/qemu/port_forwards.hpp"
#include "os/files.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
namespace {

struct Socket {
  std::string inode;
  std::string uid;
};

constexpr std::string_view kTcpListen = "0A";  // include/net/tcp_states.h

// "0100007F:1F90" -> 8080.
std::optional<std::uint16_t> port_of(const std::string& local_address) {
  auto colon = local_address.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  unsigned value = 0;
  const char* first = local_address.data() + colon + 1;
  const char* last = local_address.data() + local_address.size();
  auto [end, ec] = std::from_chars(first, last, value, 16);
  if (ec != std::errc() || end != last || value > 0xffff) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// The first socket of `table` bound to `port` (listening, for TCP).
std::optional<Socket> socket_on(const fs::path& table, std::uint16_t port, bool tcp) {
  std::istringstream lines(os::read_file(table).value_or(""));
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode)) {
      continue;
    }
    if (port_of(local) != port || (tcp && state != kTcpListen)) continue;
    return Socket{inode, uid};
  }
  return std::nullopt;
}

std::optional<pid_t> pid_with_socket(const std::string& inode) {
  const std::string link = "socket:[" + inode + "]";
  std::error_code ec;
  for (const auto& process : fs::directory_iterator("/proc", ec)) {
    const std::string pid = process.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code fd_ec;
    for (const auto& fd : fs::directory_iterator(process.path() / "fd", fd_ec)) {
      std::error_code read_ec;
      if (fs::read_symlink(fd.path(), read_ec) == link && !read_ec) return static_cast<pid_t>(std::stol(pid));
    }
  }
  return std::nullopt;
}

std::string command_of(pid_t pid) {
  std::string comm;
  try {
    comm = os::read_file(fmt::format("/proc/{}/comm", pid)).value_or("");
  } catch (const Error&) {
    // Gone meanwhile, or not ours to read: the pid still says who.
  }
  while (!comm.empty() && (comm.back() == '\n' || comm.back() == ' ')) comm.pop_back();
  return comm.empty() ? "a process" : comm;
}

}  // namespace

std::optional<std::string> port_holder(const PortForward& forward) {
  const bool tcp = forward.protocol == PortProtocol::tcp;
  for (std::string_view table : tcp ? std::vector<std::string_view>{"tcp", "tcp6"}
                                    : std::vector<std::string_view>{"udp", "udp6"}) {
    std::optional<Socket> socket = socket_on(fs::path("/proc/net") / table, forward.host_port, tcp);
    if (!socket) continue;
    if (std::optional<pid_t> pid = pid_with_socket(socket->inode)) {
      return fmt::format("{} (pid {})", command_of(*pid), *pid);
    }
    return fmt::format("a process of uid {}", socket->uid);
  }
  return std::nullopt;
}

}  // namespace vm_manager::qemu

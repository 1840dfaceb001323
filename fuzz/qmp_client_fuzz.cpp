// libFuzzer target for the QMP client: the input plays QEMU's side of the
// socket.
//
// Input format: byte 0 chooses how the rest arrives. Even: all at once.
// Odd: in two pieces, split at (byte0 >> 1) / 128 of the way, the second
// sent only once the client has read the first, so lines split across reads
// are exercised. Either way the "server" then shuts its side down (EOF).
//
// Only vm_manager::Error with a qmp code and a one-line message may come out
// of the client; another exception, a crash or a hang is a finding.
//
// Also compiled into qmp_client_test (g++), which replays the corpus.
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <thread>

#include "backends/qemu/qmp_client.hpp"
#include "vm_manager/error.hpp"

namespace {

using vm_manager::qemu::QmpClient;

constexpr auto kTimeout = std::chrono::milliseconds(50);
// Small enough to fit in a socketpair's buffer, so the writes never block.
constexpr std::size_t kMaxServerBytes = 64 * 1024;

void check(const vm_manager::Error& e) {
  bool one_line = !e.message().empty() && e.message().find('\n') == std::string::npos;
  bool qmp_code = e.code().rfind("vm_manager::qmp::", 0) == 0;
  if (!one_line || !qmp_code || e.help().empty()) std::abort();
}

template <class F>
void attempt(F&& step) {
  try {
    step();
  } catch (const vm_manager::Error& e) {
    check(e);
  }
}

// Non-blocking: what does not fit is dropped rather than risk a hang.
void send_some(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Sends the second piece once the client has read everything sent so far
// (its receive queue is empty), then shuts the server side down.
class LateWriter {
 public:
  LateWriter(int server, int client, std::string_view rest)
      : server_(server), client_(::dup(client)), thread_([this, rest] { run(rest); }) {}
  ~LateWriter() {
    stop_ = true;
    thread_.join();
    ::close(client_);
  }
  LateWriter(const LateWriter&) = delete;
  LateWriter& operator=(const LateWriter&) = delete;

 private:
  void run(std::string_view rest) {
    int pending = 0;
    while (!stop_ && ::ioctl(client_, FIONREAD, &pending) == 0 && pending > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    if (!stop_) send_some(server_, rest);
    ::shutdown(server_, SHUT_WR);
  }

  int server_;
  int client_;  // a dup: the client may close its fd while we watch it
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void exercise_client(int fd) {
  std::optional<QmpClient> client;
  attempt([&] { client.emplace(QmpClient::over_fd(fd, kTimeout)); });
  if (!client) return;
  (void)client->version().is_object();
  // Each step on its own: an error in one must leave the client usable.
  attempt([&] { (void)client->query_status(); });
  attempt([&] { (void)client->human_monitor_command("info usernet"); });
  attempt([&] { (void)client->query_vnc(); });
  attempt([&] { (void)client->wait_for_event("SHUTDOWN", kTimeout); });
  (void)client->take_events();
  attempt([&] { client->quit(); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  const int client_fd = fds[0];
  const int server_fd = fds[1];
  std::uint8_t mode = size > 0 ? data[0] : 0;
  std::string_view bytes;
  if (size > 0) bytes = std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1);
  bytes = bytes.substr(0, kMaxServerBytes);
  {
    std::optional<LateWriter> late;
    if (mode & 1) {
      std::size_t split = bytes.size() * (mode >> 1) / 128;
      send_some(server_fd, bytes.substr(0, split));
      late.emplace(server_fd, client_fd, bytes.substr(split));
    } else {
      send_some(server_fd, bytes);
      ::shutdown(server_fd, SHUT_WR);
    }
    exercise_client(client_fd);  // closes client_fd
  }
  ::close(server_fd);
  return 0;
}

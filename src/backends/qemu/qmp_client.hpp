// A client for QEMU's QMP (JSON over a unix socket).
//
// QMP serves one client at a time and a second connection gets no greeting,
// so a client is opened per operation and closed right after; never held
// across commands. Every read has a deadline: a QEMU that stops answering,
// closes the socket or sends garbage yields a vm_manager::Error, never a
// hang or a crash.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace vm_manager::qemu {

// An asynchronous event (SHUTDOWN, POWERDOWN, STOP, RESUME, RESET,
// GUEST_PANICKED, …), kept in arrival order until the caller takes it.
struct QmpEvent {
  std::string name;
  nlohmann::json data;       // the "data" member, or null
  nlohmann::json timestamp;  // {"seconds": …, "microseconds": …}, or null
};

struct QmpStatus {
  std::string status;  // "running", "paused", "shutdown", "guest-panicked", …
  bool running = false;
};

class QmpClient {
 public:
  using Duration = std::chrono::milliseconds;

  // Connects, reads the greeting and negotiates qmp_capabilities; the whole
  // handshake must finish within `timeout`. Raises qmp::connect_failed,
  // qmp::timeout, qmp::protocol.
  static QmpClient connect(const std::filesystem::path& socket, Duration timeout);

  // Speaks QMP over an already-connected stream socket (takes ownership) and
  // performs the handshake. For tests and the fuzzer.
  static QmpClient over_fd(int fd, Duration timeout);

  QmpClient(QmpClient&& other) noexcept;
  QmpClient& operator=(QmpClient&& other) noexcept;
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;
  ~QmpClient();

  // Sends {"execute": command, "arguments": …, "id": N} and returns the
  // matching reply's "return" value. Events that arrive meanwhile are kept.
  // Raises qmp::command_failed (with QEMU's class and desc) for an error
  // reply, qmp::timeout, qmp::closed, qmp::protocol.
  nlohmann::json execute(std::string_view command, const nlohmann::json& arguments = nullptr);
  nlohmann::json execute(std::string_view command, const nlohmann::json& arguments, Duration timeout);

  // Sends every command at once and then reads their replies, in order:
  // one round trip instead of one per command, for queries that do not
  // depend on each other (QEMU queues a client's requests and runs them in
  // order). Raises as execute() does for the first command that fails.
  struct Command {
    std::string_view name;
    nlohmann::json arguments = nullptr;
  };
  std::vector<nlohmann::json> execute_all(const std::vector<Command>& commands);

  void system_powerdown();
  void quit();
  void stop();
  void cont();
  QmpStatus query_status();
  // The status in a reply to query-status; raises qmp::protocol for any other shape.
  static QmpStatus status_from_reply(nlohmann::json& reply);
  nlohmann::json query_vnc();
  // The reply to query-vnc, checked to be an object (else qmp::protocol).
  static nlohmann::json& vnc_from_reply(nlohmann::json& reply);
  std::string human_monitor_command(std::string_view command_line);
  // The text in a reply to human-monitor-command (else qmp::protocol).
  static std::string text_from_hmp_reply(const nlohmann::json& reply);

  // Events received so far, oldest first; the queue is emptied.
  std::deque<QmpEvent> take_events();
  // Returns the first kept or newly arriving event named `name` (earlier
  // events of other names stay queued), or nullopt at the timeout or when
  // QEMU closes the socket.
  std::optional<QmpEvent> wait_for_event(std::string_view name, Duration timeout);

  // The greeting's QEMU version, e.g. {"major": 7, "minor": 2, "micro": 22}.
  const nlohmann::json& version() const { return version_; }

 private:
  QmpClient(int fd, Duration timeout);
  void handshake();

  int fd_ = -1;
  Duration timeout_;
  std::string buffer_;  // bytes received but not yet parsed into lines
  std::deque<QmpEvent> events_;
  std::uint64_t next_id_ = 1;
  nlohmann::json version_;
};

}  // namespace vm_manager::qemu

#include "backends/qemu/qmp_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// QMP messages are small (the largest, query-qmp-schema, is ~200 KiB); a
// longer line is garbage and must not make the buffer grow without bound.
constexpr std::size_t kMaxLine = 1 << 20;
constexpr std::size_t kChunk = 16384;
// Events the caller has not taken yet; past this the oldest are dropped so a
// chatty QEMU cannot grow the queue without bound.
constexpr std::size_t kMaxQueuedEvents = 256;

constexpr const char* kStatusHint = "is the VM running? check its state";
constexpr const char* kProtocolHint =
    "the socket does not speak QMP as expected; check that it belongs to a QEMU of this VM, "
    "or restart the VM";

// ---- error messages: one line each, safe to print and to put in JSON ------

// An excerpt of untrusted bytes: printable ASCII only, at most `max` chars.
std::string excerpt(std::string_view bytes, std::size_t max = 60) {
  std::string out;
  for (char c : bytes.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (bytes.size() > max) out += "...";
  return out;
}

// QEMU's own text (valid UTF-8, from the JSON parser) made one line and
// bounded, cut at a character boundary.
std::string one_line(std::string_view text, std::size_t max = 300) {
  std::string out;
  for (unsigned char c : text) out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
  if (out.size() > max) {
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
}

[[noreturn]] void protocol_error(const std::string& what) {
  throw Error(errc::qmp_protocol, "QEMU sent an invalid QMP message: " + what, kProtocolHint);
}

constexpr const char* kHungHint =
    "QEMU may be hung or very busy; retry, check the VM's state, or stop it by force";
constexpr const char* kBusyHint =
    "another client may hold the QMP socket (QEMU serves one at a time); "
    "retry, or check the VM's state";

// `what` completes "QEMU did not …".
[[noreturn]] void timeout_error(std::string_view what, QmpClient::Duration timeout, const char* hint = kHungHint) {
  throw Error(errc::qmp_timeout, fmt::format("QEMU did not {} within {} ms", what, timeout.count()), hint);
}

// `when` completes "QEMU closed the QMP connection …".
[[noreturn]] void closed_error(std::string_view when) {
  throw Error(errc::qmp_closed, fmt::format("QEMU closed the QMP connection {}", when),
              std::string("QEMU has probably exited; ") + kStatusHint);
}

// ---- deadlines and raw socket I/O --------------------------------------------

// Milliseconds left, rounded up so a wait never ends before the deadline.
int remaining_ms(Clock::time_point deadline) {
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<decltype(ms)>(ms, INT_MAX));
}

// Waits until `fd` has `events` ready; false at the deadline. Errors and
// hang-ups count as ready: the following recv/send reports them.
bool wait_ready(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    int ms = remaining_ms(deadline);
    if (ms == 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, ms);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;  // let the I/O call report the error
  }
}

bool is_disconnect(int err) { return err == EPIPE || err == ECONNRESET || err == ENOTCONN; }

// Sends the whole line; the socket may be non-blocking or not.
void send_line(int fd, std::string_view data, std::string_view command, QmpClient::Duration timeout,
               Clock::time_point deadline) {
  while (!data.empty()) {
    // MSG_NOSIGNAL: a QEMU that went away must give EPIPE, not kill us.
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_ready(fd, POLLOUT, deadline)) timeout_error(fmt::format("read the request {}", command), timeout);
      continue;
    }
    if (is_disconnect(errno)) closed_error(fmt::format("before {} could be sent", command));
    throw Error(errc::qmp_closed, fmt::format("cannot send {} to QEMU: {}", command, std::strerror(errno)),
                kStatusHint);
  }
}

enum class ReadResult { line, timeout, eof };

// Takes the first complete line out of `buffer` (without "\r\n"); blank lines
// are skipped. Raises qmp::protocol for an over-long line.
std::optional<std::string> take_line(std::string& buffer) {
  for (;;) {
    auto newline = buffer.find('\n');
    if (newline == std::string::npos) return std::nullopt;
    std::string line = buffer.substr(0, newline);
    buffer.erase(0, newline + 1);
    if (line.size() > kMaxLine) protocol_error(fmt::format("a line longer than {} bytes", kMaxLine));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
  }
}

// The next line from the socket, reading more into `buffer` as needed.
// Past the deadline only lines already buffered are returned, so a QEMU that
// floods events cannot keep a caller busy forever.
ReadResult read_line(int fd, std::string& buffer, Clock::time_point deadline, std::string& line) {
  for (;;) {
    if (auto next = take_line(buffer)) {
      line = std::move(*next);
      return ReadResult::line;
    }
    if (!wait_ready(fd, POLLIN, deadline)) return ReadResult::timeout;
    char chunk[kChunk];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      if (is_disconnect(errno)) return ReadResult::eof;
      throw Error(errc::qmp_closed, fmt::format("cannot read from QEMU's QMP socket: {}", std::strerror(errno)),
                  kStatusHint);
    }
    if (n == 0) return ReadResult::eof;
    buffer.append(chunk, static_cast<std::size_t>(n));
    // Only the unfinished line can be in the buffer here: bound it now
    // rather than waiting for a newline that may never come.
    if (std::memchr(chunk, '\n', static_cast<std::size_t>(n)) == nullptr && buffer.size() > kMaxLine) {
      buffer.clear();
      protocol_error(fmt::format("a line longer than {} bytes", kMaxLine));
    }
  }
}

// ---- message shapes -----------------------------------------------------------

json* member(json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

json parse_object(const std::string& line) {
  json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) protocol_error(fmt::format("not JSON: '{}'", excerpt(line)));
  if (!message.is_object()) protocol_error(fmt::format("not a JSON object: '{}'", excerpt(line)));
  return message;
}

// Null when `message` is not an event; its fields are moved out (never
// copied: a deeply nested value would make a recursive copy overflow).
std::optional<QmpEvent> as_event(json& message) {
  json* name = member(message, "event");
  if (name == nullptr) return std::nullopt;
  if (!name->is_string()) protocol_error("an event whose \"event\" is not a string");
  QmpEvent event{name->get<std::string>(), nullptr, nullptr};
  if (json* data = member(message, "data")) event.data = std::move(*data);
  if (json* timestamp = member(message, "timestamp")) event.timestamp = std::move(*timestamp);
  return event;
}

void keep_event(std::deque<QmpEvent>& events, QmpEvent event) {
  if (events.size() >= kMaxQueuedEvents) events.pop_front();
  events.push_back(std::move(event));
}

[[noreturn]] void command_failed(std::string_view command, json& error) {
  json* desc = member(error, "desc");
  if (desc == nullptr || !desc->is_string()) {
    protocol_error(fmt::format("the error reply to {} has no \"desc\" string", command));
  }
  json* error_class = member(error, "class");
  std::string class_name =
      error_class != nullptr && error_class->is_string() ? error_class->get<std::string>() : "unknown class";
  throw Error(errc::qmp_command_failed,
              fmt::format("QEMU refused {}: {} ({})", command, one_line(desc->get<std::string>()), one_line(class_name)),
              "the VM may not be in a state that allows this; check its state");
}

// The "return" value of a reply to `command`, or qmp::command_failed.
json reply_value(std::string_view command, json& reply) {
  if (json* error = member(reply, "error")) {
    if (!error->is_object()) protocol_error(fmt::format("the error reply to {} is not an object", command));
    command_failed(command, *error);
  }
  return std::move(*member(reply, "return"));
}

bool is_reply(json& message) { return member(message, "return") != nullptr || member(message, "error") != nullptr; }

// Whether a reply answers the request with `id`. QEMU answers requests in
// order and echoes their id; a reply for another id is stale (its request
// timed out earlier) and is skipped. QEMU omits the id only when it could not
// parse the request at all, and then it reports an error: as we always send
// an id, such an error can only be about the request we are waiting for.
bool answers(json& reply, std::uint64_t id) {
  json* reply_id = member(reply, "id");
  if (reply_id == nullptr) return member(reply, "error") != nullptr;
  return reply_id->is_number() && *reply_id == id;
}

// ---- connecting ---------------------------------------------------------------

[[noreturn]] void connect_failed(const std::filesystem::path& socket, const std::string& why) {
  throw Error(errc::qmp_connect_failed, fmt::format("cannot connect to QEMU's QMP socket {}: {}", socket.string(), why),
              kStatusHint);
}

// A connected, non-blocking unix socket. A listener whose backlog is full
// makes a non-blocking connect fail with EAGAIN (a blocking one would wait
// forever): retried until the deadline.
int connect_unix(const std::filesystem::path& socket, QmpClient::Duration timeout, Clock::time_point deadline) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string& path = socket.native();
  if (path.empty() || path.size() >= sizeof address.sun_path) connect_failed(socket, "path empty or too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  for (;;) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) connect_failed(socket, std::strerror(errno));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return fd;
    int err = errno;
    ::close(fd);
    if (err != EAGAIN && err != EINTR) connect_failed(socket, std::strerror(err));
    if (remaining_ms(deadline) == 0) timeout_error("accept the connection", timeout, kBusyHint);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(10, remaining_ms(deadline))));
  }
}


// ---- the conversation -----------------------------------------------------------

// The client's connection state, lent to the helpers below.
struct Stream {
  int fd;
  std::string& buffer;
  std::deque<QmpEvent>& events;
  std::uint64_t& next_id;
};

std::string request_line(std::string_view command, const json& arguments, std::uint64_t id) {
  json request = {{"execute", std::string(command)}, {"id", id}};
  if (!arguments.is_null()) request["arguments"] = arguments;
  // `replace`: a caller's invalid UTF-8 must not escape as a json exception.
  return request.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::uint64_t send_request(Stream s, std::string_view command, const json& arguments, QmpClient::Duration timeout,
                           Clock::time_point deadline) {
  std::uint64_t id = s.next_id++;
  send_line(s.fd, request_line(command, arguments, id), command, timeout, deadline);
  return id;
}

// Reads until the reply to request `id`, keeping the events met on the way.
json await_reply(Stream s, std::string_view command, std::uint64_t id, QmpClient::Duration timeout,
                 Clock::time_point deadline) {
  for (;;) {
    std::string line;
    switch (read_line(s.fd, s.buffer, deadline, line)) {
      case ReadResult::timeout:
        timeout_error(fmt::format("answer {}", command), timeout);
      case ReadResult::eof:
        closed_error(fmt::format("while waiting for the reply to {}", command));
      case ReadResult::line:
        break;
    }
    json message = parse_object(line);
    if (auto event = as_event(message)) {
      keep_event(s.events, std::move(*event));
    } else if (!is_reply(message)) {
      protocol_error(fmt::format("neither a reply nor an event: '{}'", excerpt(line)));
    } else if (answers(message, id)) {
      return reply_value(command, message);
    }
  }
}

// Reads the greeting and leaves capabilities negotiation mode (QEMU refuses
// every other command before that). Returns the greeting's QEMU version.
json greet(Stream s, QmpClient::Duration timeout, Clock::time_point deadline) {
  std::string line;
  switch (read_line(s.fd, s.buffer, deadline, line)) {
    case ReadResult::timeout:
      timeout_error("send its QMP greeting", timeout, kBusyHint);
    case ReadResult::eof:
      closed_error("before its QMP greeting");
    case ReadResult::line:
      break;
  }
  json greeting = parse_object(line);
  json* qmp = member(greeting, "QMP");
  if (qmp == nullptr || !qmp->is_object()) {
    protocol_error(fmt::format("the greeting lacks a \"QMP\" object: '{}'", excerpt(line)));
  }
  std::uint64_t id = send_request(s, "qmp_capabilities", nullptr, timeout, deadline);
  await_reply(s, "qmp_capabilities", id, timeout, deadline);
  // The version is only informative: a greeting without one is still usable.
  json* version = member(*qmp, "version");
  json* qemu = version != nullptr ? member(*version, "qemu") : nullptr;
  return qemu != nullptr && qemu->is_object() ? std::move(*qemu) : json(nullptr);
}

}  // namespace

// ---- QmpClient ----------------------------------------------------------------------

QmpClient::QmpClient(int fd, Duration timeout) : fd_(fd), timeout_(std::max(timeout, Duration::zero())) {}

QmpClient::QmpClient(QmpClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      timeout_(other.timeout_),
      buffer_(std::move(other.buffer_)),
      events_(std::move(other.events_)),
      next_id_(other.next_id_),
      version_(std::move(other.version_)) {}

QmpClient& QmpClient::operator=(QmpClient&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    timeout_ = other.timeout_;
    buffer_ = std::move(other.buffer_);
    events_ = std::move(other.events_);
    next_id_ = other.next_id_;
    version_ = std::move(other.version_);
  }
  return *this;
}

QmpClient::~QmpClient() {
  if (fd_ >= 0) ::close(fd_);
}

QmpClient QmpClient::connect(const std::filesystem::path& socket, Duration timeout) {
  // Connecting and the handshake share one deadline.
  auto deadline = Clock::now() + timeout;
  QmpClient client(connect_unix(socket, timeout, deadline), timeout);
  client.version_ = greet({client.fd_, client.buffer_, client.events_, client.next_id_}, timeout, deadline);
  return client;
}

QmpClient QmpClient::over_fd(int fd, Duration timeout) {
  QmpClient client(fd, timeout);  // owns fd from here on, even if the handshake fails
  client.handshake();
  return client;
}

void QmpClient::handshake() {
  version_ = greet({fd_, buffer_, events_, next_id_}, timeout_, Clock::now() + timeout_);
}

json QmpClient::execute(std::string_view command, const json& arguments) {
  return execute(command, arguments, timeout_);
}

json QmpClient::execute(std::string_view command, const json& arguments, Duration timeout) {
  auto deadline = Clock::now() + timeout;
  Stream s{fd_, buffer_, events_, next_id_};
  std::uint64_t id = send_request(s, command, arguments, timeout, deadline);
  return await_reply(s, command, id, timeout, deadline);
}

std::vector<json> QmpClient::execute_all(const std::vector<Command>& commands) {
  if (commands.empty()) return {};
  auto deadline = Clock::now() + timeout_;
  Stream s{fd_, buffer_, events_, next_id_};
  const std::uint64_t first = next_id_;
  std::string lines;
  for (const auto& command : commands) lines += request_line(command.name, command.arguments, next_id_++);
  send_line(fd_, lines, commands.front().name, timeout_, deadline);
  std::vector<json> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    replies.push_back(await_reply(s, commands[i].name, first + i, timeout_, deadline));
  }
  return replies;
}

void QmpClient::system_powerdown() { execute("system_powerdown"); }
void QmpClient::stop() { execute("stop"); }
void QmpClient::cont() { execute("cont"); }

void QmpClient::quit() {
  auto deadline = Clock::now() + timeout_;
  Stream s{fd_, buffer_, events_, next_id_};
  std::uint64_t id = send_request(s, "quit", nullptr, timeout_, deadline);
  try {
    await_reply(s, "quit", id, timeout_, deadline);
  } catch (const Error& e) {
    // QEMU exits on quit and may close the socket before or right after
    // replying: once the command is sent, that is success.
    if (e.code() != errc::qmp_closed) throw;
  }
}

QmpStatus QmpClient::query_status() {
  json reply = execute("query-status");
  return status_from_reply(reply);
}

QmpStatus QmpClient::status_from_reply(json& reply) {
  json* status = member(reply, "status");
  json* running = member(reply, "running");
  if (status == nullptr || !status->is_string() || running == nullptr || !running->is_boolean()) {
    protocol_error("the reply to query-status lacks a \"status\" string or a \"running\" boolean");
  }
  return {status->get<std::string>(), running->get<bool>()};
}

json QmpClient::query_vnc() {
  json reply = execute("query-vnc");
  return std::move(vnc_from_reply(reply));
}

json& QmpClient::vnc_from_reply(json& reply) {
  if (!reply.is_object()) protocol_error("the reply to query-vnc is not an object");
  return reply;
}

std::string QmpClient::human_monitor_command(std::string_view command_line) {
  return text_from_hmp_reply(execute("human-monitor-command", {{"command-line", std::string(command_line)}}));
}

std::string QmpClient::text_from_hmp_reply(const json& reply) {
  if (!reply.is_string()) protocol_error("the reply to human-monitor-command is not a string");
  return reply.get<std::string>();
}

std::deque<QmpEvent> QmpClient::take_events() { return std::exchange(events_, {}); }

std::optional<QmpEvent> QmpClient::wait_for_event(std::string_view name, Duration timeout) {
  auto kept = std::find_if(events_.begin(), events_.end(), [&](const QmpEvent& e) { return e.name == name; });
  if (kept != events_.end()) {
    QmpEvent event = std::move(*kept);
    events_.erase(kept);
    return event;
  }
  auto deadline = Clock::now() + timeout;
  for (;;) {
    std::string line;
    // EOF is no error here: QEMU closes the socket as it exits after SHUTDOWN.
    if (read_line(fd_, buffer_, deadline, line) != ReadResult::line) return std::nullopt;
    json message = parse_object(line);
    auto event = as_event(message);
    if (!event) {
      // A late reply to a command that timed out is dropped.
      if (!is_reply(message)) protocol_error(fmt::format("neither a reply nor an event: '{}'", excerpt(line)));
      continue;
    }
    if (event->name == name) return event;
    keep_event(events_, std::move(*event));
  }
}

}  // namespace vm_manager::qemu

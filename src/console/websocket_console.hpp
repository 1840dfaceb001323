// A small websocket client for serial consoles served over a websocket
// (Propolis: GET /instance/serial, binary frames both ways).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vm_manager::console {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Why the server ended the connection. code 1006 (never sent on the wire)
// stands for a connection lost without a close frame.
struct WebSocketClose {
  int code = 1000;
  std::string reason;
};

// One websocket connection to a console, driven from a single thread.
// Received frames (binary or text) are delivered as bytes; pings are
// answered automatically while reading. Every failure is a vm_manager::Error
// with code console_websocket_failed.
class WebSocketClient {
 public:
  // Connects to ws://host:port/path?query, sending `headers` with the
  // upgrade request. Gives up after `timeout` (resolve, connect, handshake).
  static WebSocketClient connect(const std::string& url, const HttpHeaders& headers,
                                  std::chrono::milliseconds timeout);

  WebSocketClient(WebSocketClient&&) noexcept;
  WebSocketClient& operator=(WebSocketClient&&) noexcept;
  ~WebSocketClient();

  // The bytes of the next frame(s) received, waiting at most `timeout`
  // (0: only what has arrived already). nullopt on timeout, or once the
  // connection is closed: then close_reason() says why.
  std::optional<std::string> read(std::chrono::milliseconds timeout);
  // Output (or the close) already received and waiting in memory: read(0ms)
  // returns it even though native_handle() may not poll readable, as when
  // the first frames came in one packet with the handshake's answer.
  // Completes what needs no waiting first.
  bool has_buffered();

  // Sends the bytes as one binary frame, waiting at most `timeout` for the
  // server to take them. Returns false when the connection is closed.
  bool write(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Sends a close frame (1000) and waits briefly for the server's. Idempotent.
  void close();

  bool closed() const;
  // Set once the connection is closed by the server (or lost).
  std::optional<WebSocketClose> close_reason() const;

  // The socket: polls readable when read() may have something new.
  int native_handle() const;

 private:
  struct Impl;
  explicit WebSocketClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vm_manager::console

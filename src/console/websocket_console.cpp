#include "console/websocket_console.hpp"

#include <algorithm>
#include <concepts>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "vm_manager/error.hpp"

namespace vm_manager::console {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kCloseTimeout{1000};
constexpr std::size_t kReadLimit = 64 * 1024;

struct ParsedUrl {
  std::string host;  // without brackets
  std::string port;
  std::string target;  // path?query
  std::string host_header;
};

Error ws_error(std::string message, std::string help = {}) {
  if (help.empty()) help = "check that the VM runs, then try again";
  return Error(errc::console_websocket_failed, std::move(message), std::move(help));
}

ParsedUrl parse_ws_url(const std::string& url) {
  constexpr std::string_view scheme = "ws://";
  if (url.compare(0, scheme.size(), scheme) != 0) {
    throw ws_error(fmt::format("unsupported console URL '{}': only ws:// is supported", url),
                   "the VM's backend reported a console this vmctl cannot reach");
  }
  std::string rest = url.substr(scheme.size());
  std::size_t end = rest.find_first_of("/?");
  std::string authority = rest.substr(0, end);
  ParsedUrl parsed;
  parsed.target = end == std::string::npos ? "/" : rest.substr(end);
  if (!parsed.target.empty() && parsed.target[0] == '?') parsed.target.insert(0, "/");
  parsed.host_header = authority;
  std::size_t colon = authority.rfind(':');
  if (!authority.empty() && authority[0] == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string::npos) throw ws_error(fmt::format("invalid console URL '{}'", url));
    parsed.host = authority.substr(1, close - 1);
    parsed.port = close + 1 < authority.size() && authority[close + 1] == ':' ? authority.substr(close + 2) : "80";
  } else if (colon != std::string::npos) {
    parsed.host = authority.substr(0, colon);
    parsed.port = authority.substr(colon + 1);
  } else {
    parsed.host = authority;
    parsed.port = "80";
  }
  if (parsed.host.empty() || parsed.port.empty()) throw ws_error(fmt::format("invalid console URL '{}'", url));
  return parsed;
}

// The message of a dropshot error body, else the body itself, on one line.
std::string error_text(const std::string& body) {
  std::string text = body;
  try {
    auto json = nlohmann::json::parse(body);
    if (json.is_object() && json.contains("message") && json["message"].is_string()) {
      text = json["message"].get<std::string>();
    }
  } catch (const nlohmann::json::exception&) {
  }
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  if (text.size() > 200) text = text.substr(0, 200) + "...";
  return text;
}

}  // namespace

// ---- the connection --------------------------------------------------------

struct WebSocketClient::Impl {
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  std::string url;
  int fd = -1;

  beast::flat_buffer read_buffer;
  bool reading = false;
  std::string received;  // delivered by a completed read, not yet returned by read()
  bool is_closed = false;
  bool closing = false;  // we sent the close frame
  std::optional<WebSocketClose> reason;
  std::string write_buffer;
  // Operations started and not yet completed: their handlers point into
  // this object (or the caller's frame), so they must finish before either goes.
  int pending = 0;

  Impl() : ioc(1) {}

  ~Impl() {
    shut_down();
  }

  // Runs the event loop until done() or the timeout; returns done().
  template <typename Done>
  bool run_until(Done done, milliseconds timeout) {
    Clock::time_point deadline = Clock::now() + timeout;
    while (!done()) {
      ioc.restart();
      if (timeout.count() <= 0) {
        ioc.poll();
        return done();
      }
      if (ioc.run_one_until(deadline) == 0) return done();
    }
    return true;
  }

  // Closes the socket and lets every pending operation finish (aborted).
  // Beast's own timers may stay queued; nothing of ours waits on them.
  void shut_down() {
    beast::error_code ec;
    auto& socket = beast::get_lowest_layer(ws).socket();
    if (socket.is_open()) {
      socket.shutdown(tcp::socket::shutdown_both, ec);
      socket.close(ec);
    }
    run_until([this] { return pending == 0; }, kCloseTimeout);
    fd = -1;
  }

  // A completion handler counted in `pending`.
  template <typename Handler>
  auto counted(Handler handler) {
    ++pending;
    // Constrained, so that asio's completion-signature checks see which
    // arguments the handler really takes.
    return [this, handler = std::move(handler)](auto&&... args) mutable
      requires std::invocable<Handler&, decltype(args)...>
    {
      --pending;
      handler(std::forward<decltype(args)>(args)...);
    };
  }

  void mark_closed(WebSocketClose why) {
    if (is_closed) return;
    is_closed = true;
    reason = std::move(why);
  }

  void start_read() {
    if (reading || is_closed) return;
    reading = true;
    ws.async_read_some(read_buffer, kReadLimit, counted([this](beast::error_code ec, std::size_t) {
      reading = false;
      if (!ec) {
        received += beast::buffers_to_string(read_buffer.data());
        read_buffer.consume(read_buffer.size());
        start_read();
        return;
      }
      if (ec == websocket::error::closed) {
        const websocket::close_reason& why = ws.reason();
        mark_closed({int(why.code), std::string(why.reason.data(), why.reason.size())});
      } else if (closing || ec == net::error::operation_aborted) {
        mark_closed({1000, ""});
      } else {
        mark_closed({1006, fmt::format("connection lost: {}", ec.message())});
      }
    }));
  }
};

WebSocketClient::WebSocketClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WebSocketClient::WebSocketClient(WebSocketClient&&) noexcept = default;
WebSocketClient& WebSocketClient::operator=(WebSocketClient&&) noexcept = default;
WebSocketClient::~WebSocketClient() = default;

WebSocketClient WebSocketClient::connect(const std::string& url, const HttpHeaders& headers,
                                           milliseconds timeout) {
  ParsedUrl parsed = parse_ws_url(url);
  auto impl = std::make_unique<Impl>();
  impl->url = url;
  Impl& c = *impl;
  Clock::time_point deadline = Clock::now() + timeout;
  auto left = [&] {
    return std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  };
  auto timed_out = [&](std::string_view step) {
    c.shut_down();
    return ws_error(fmt::format("cannot connect to the console at {}: {} timed out after {} ms", url, step,
                                timeout.count()));
  };

  tcp::resolver resolver(c.ioc);
  bool resolved = false;
  beast::error_code ec;
  tcp::resolver::results_type endpoints;
  resolver.async_resolve(parsed.host, parsed.port,
                         c.counted([&](beast::error_code e, tcp::resolver::results_type results) {
                           resolved = true;
                           ec = e;
                           endpoints = std::move(results);
                         }));
  if (!c.run_until([&] { return resolved; }, left())) {
    resolver.cancel();
    c.run_until([&] { return resolved; }, kCloseTimeout);
    throw timed_out("resolving the host");
  }
  if (ec) {
    throw ws_error(fmt::format("cannot connect to the console at {}: cannot resolve '{}': {}", url, parsed.host,
                               ec.message()));
  }

  bool connected = false;
  beast::get_lowest_layer(c.ws).async_connect(endpoints,
                                              c.counted([&](beast::error_code e, const tcp::endpoint&) {
                                                connected = true;
                                                ec = e;
                                              }));
  if (!c.run_until([&] { return connected; }, left())) throw timed_out("connecting");
  if (ec) {
    c.shut_down();
    throw ws_error(fmt::format("cannot connect to the console at {}: {}", url, ec.message()));
  }

  c.ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  c.ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& request) {
    request.set(beast::http::field::user_agent, "vmctl");
    for (const auto& [name, value] : headers) request.set(name, value);
  }));
  c.ws.auto_fragment(false);
  c.ws.binary(true);
  c.ws.read_message_max(0);

  websocket::response_type response;
  bool handshaken = false;
  c.ws.async_handshake(response, parsed.host_header, parsed.target, c.counted([&](beast::error_code e) {
    handshaken = true;
    ec = e;
  }));
  if (!c.run_until([&] { return handshaken; }, left())) throw timed_out("the websocket handshake");
  if (ec) {
    std::string detail = ec.message();
    if (response.result_int() != 0 && response.result() != beast::http::status::switching_protocols) {
      detail = fmt::format("HTTP {}", response.result_int());
      if (std::string body = error_text(response.body()); !body.empty()) detail += ": " + body;
    }
    c.shut_down();
    throw ws_error(fmt::format("the console at {} refused the websocket: {}", url, detail));
  }
  c.fd = beast::get_lowest_layer(c.ws).socket().native_handle();
  c.start_read();
  return WebSocketClient(std::move(impl));
}

std::optional<std::string> WebSocketClient::read(milliseconds timeout) {
  Impl& c = *impl_;
  if (c.received.empty() && !c.is_closed) {
    c.start_read();
    c.run_until([&] { return !c.received.empty() || c.is_closed; }, timeout);
  }
  if (c.received.empty()) return std::nullopt;
  return std::exchange(c.received, {});
}

bool WebSocketClient::has_buffered() {
  Impl& c = *impl_;
  if (c.received.empty() && !c.is_closed) c.run_until([] { return false; }, milliseconds(0));
  return !c.received.empty() || c.is_closed;
}

bool WebSocketClient::write(std::string_view bytes, milliseconds timeout) {
  Impl& c = *impl_;
  if (c.is_closed || c.closing) return false;
  if (bytes.empty()) return true;
  c.start_read();  // answers pings and notices a close while we wait
  c.write_buffer.assign(bytes);
  bool done = false;
  beast::error_code ec;
  c.ws.async_write(net::buffer(c.write_buffer), c.counted([&](beast::error_code e, std::size_t) {
    done = true;
    ec = e;
  }));
  if (!c.run_until([&] { return done; }, timeout)) {
    c.mark_closed({1006, "sending timed out"});
    c.shut_down();
    throw ws_error(fmt::format("sending to the console at {} timed out after {} ms", c.url, timeout.count()));
  }
  if (!ec) return true;
  if (ec == websocket::error::closed || ec == net::error::broken_pipe || ec == net::error::connection_reset ||
      ec == net::error::operation_aborted || ec == net::error::eof) {
    // The read side has (or will have) the reason; give it a moment.
    c.run_until([&] { return c.is_closed; }, milliseconds(200));
    c.mark_closed({1006, fmt::format("connection lost: {}", ec.message())});
    return false;
  }
  throw ws_error(fmt::format("sending to the console at {} failed: {}", c.url, ec.message()));
}

void WebSocketClient::close() {
  Impl& c = *impl_;
  if (!c.is_closed && !c.closing && beast::get_lowest_layer(c.ws).socket().is_open()) {
    c.closing = true;
    bool done = false;
    c.ws.async_close(websocket::close_code::normal, c.counted([&](beast::error_code) { done = true; }));
    c.run_until([&] { return done && !c.reading; }, kCloseTimeout);
  }
  c.mark_closed({1000, ""});
  c.shut_down();
}

bool WebSocketClient::closed() const { return impl_->is_closed; }
std::optional<WebSocketClose> WebSocketClient::close_reason() const { return impl_->reason; }
int WebSocketClient::native_handle() const { return impl_->fd; }

}  // namespace vm_manager::console

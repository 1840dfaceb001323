#include "backends/libvirt/connection.hpp"

#include <atomic>
#include <future>
#include <thread>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::libvirt {
namespace {

// Keepalive: a host that answers none of 3 probes 5 s apart is taken as gone,
// so a call on a dead connection fails in ~20 s instead of hanging.
constexpr int kKeepAliveInterval = 5;
constexpr unsigned kKeepAliveCount = 3;

struct Opened {
  virConnectPtr connection = nullptr;
  std::string error;
  int code = 0;
};

// At open: the host, its daemon or its socket could not be reached.
bool open_unreachable(int code) {
  return code == VIR_ERR_NO_CONNECT || code == VIR_ERR_RPC || code == VIR_ERR_AUTH_FAILED ||
         code == VIR_ERR_SYSTEM_ERROR;
}

// Later: the connection itself broke (a daemon that died, a keepalive that
// went unanswered).
bool connection_lost() {
  virErrorPtr error = api().virGetLastError();
  return error != nullptr && (error->code == VIR_ERR_NO_CONNECT || error->domain == VIR_FROM_RPC);
}

}  // namespace

std::string last_error_message() {
  virErrorPtr error = api().virGetLastError();
  if (error == nullptr || error->message == nullptr) return "unknown error";
  return error->message;
}

int last_error_code() {
  virErrorPtr error = api().virGetLastError();
  return error == nullptr ? 0 : error->code;
}

std::shared_ptr<Connection> Connection::open(const LibvirtUri& uri, std::chrono::milliseconds deadline) {
  const LibVirt& lv = api();
  // virConnectOpen has no deadline of its own (an ssh that hangs, a daemon
  // that accepts and says nothing): it runs in a thread of its own, which is
  // left to finish, and close what it opened, when it comes back too late.
  auto result = std::make_shared<std::promise<Opened>>();
  std::future<Opened> future = result->get_future();
  auto abandoned = std::make_shared<std::atomic<bool>>(false);
  std::thread([&lv, text = uri.text, result, abandoned] {
    Opened opened;
    opened.connection = lv.virConnectOpen(text.c_str());
    if (opened.connection == nullptr) {
      opened.error = last_error_message();
      opened.code = last_error_code();
    } else if (abandoned->load()) {
      lv.virConnectClose(opened.connection);
      opened.connection = nullptr;
    }
    result->set_value(std::move(opened));
  }).detach();
  if (future.wait_for(deadline) != std::future_status::ready) {
    abandoned->store(true);
    throw Error(errc::backend_unreachable,
                fmt::format("libvirt at {} did not answer within {} s", uri.text,
                            std::chrono::duration_cast<std::chrono::seconds>(deadline).count()),
                "check that the host is up and libvirtd runs there (virsh -c URI list)");
  }
  Opened opened = future.get();
  if (opened.connection == nullptr) {
    bool unreachable = open_unreachable(opened.code);
    throw Error(unreachable ? errc::backend_unreachable : errc::libvirt_failed,
                fmt::format("cannot connect to libvirt at {}: {}", uri.text, opened.error),
                unreachable ? "check that the host is up, libvirtd runs there and you may use it "
                              "(virsh -c URI list)"
                            : "check the URI (qemu:///system, qemu+ssh://user@host/system)");
  }
  std::shared_ptr<Connection> connection(new Connection(uri, opened.connection));
  // Local (unix socket) and test connections may not do keepalive: not an error.
  lv.virConnectSetKeepAlive(opened.connection, kKeepAliveInterval, kKeepAliveCount);
  lv.virResetLastError();
  return connection;
}

Connection::~Connection() {
  if (connection_ != nullptr) api().virConnectClose(connection_);
}

void Connection::fail(std::string_view what, std::string_view hint) const {
  std::string message = last_error_message();
  if (connection_lost()) {
    throw Error(errc::backend_unreachable, fmt::format("libvirt at {} was lost: {}", uri_.text, message),
                "check that the host is up and libvirtd runs there, then try again");
  }
  throw Error(errc::libvirt_failed, fmt::format("cannot {} on {}: {}", what, uri_.text, message),
              hint.empty() ? std::string("see libvirtd's log on that host for more") : std::string(hint));
}

Domain Connection::find_domain(const std::string& name) const {
  virDomainPtr domain = api().virDomainLookupByName(connection_, name.c_str());
  if (domain == nullptr) {
    if (last_error_code() == VIR_ERR_NO_DOMAIN) {
      api().virResetLastError();
      return nullptr;
    }
    fail(fmt::format("look up domain '{}'", name));
  }
  return Domain(domain);
}

}  // namespace vm_manager::libvirt

// Waiting for a domain to reach a state, woken by libvirt's lifecycle events
// (virConnectDomainEventRegisterAny), never by polling.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "backends/libvirt/connection.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager::libvirt {

// The domain's state now. Raises as Connection::fail.
VmState domain_state(const Connection& connection, virDomainPtr domain);

// Listens to one domain's lifecycle events from construction to destruction:
// make it before the call that changes the state, so no event is missed.
class LifecycleWait {
 public:
  LifecycleWait(std::shared_ptr<Connection> connection, virDomainPtr domain);
  LifecycleWait(const LifecycleWait&) = delete;
  LifecycleWait& operator=(const LifecycleWait&) = delete;
  ~LifecycleWait();

  // True once `done(state)` holds for the domain's state, asked now and
  // after each event; false when `timeout` passes first.
  bool until(const std::function<bool(VmState)>& done, std::chrono::milliseconds timeout);

 private:
  // What the event loop thread touches; libvirt frees its reference (the
  // callback's opaque) only once no callback can run any more.
  struct Events {
    std::mutex mutex;
    std::condition_variable changed;
    unsigned count = 0;
  };
  static int on_event(virConnectPtr, virDomainPtr, int event, int detail, void* opaque);

  std::shared_ptr<Connection> connection_;
  virDomainPtr domain_;
  std::shared_ptr<Events> events_ = std::make_shared<Events>();
  int callback_id_ = -1;
};

}  // namespace vm_manager::libvirt

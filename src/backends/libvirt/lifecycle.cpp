#include "backends/libvirt/lifecycle.hpp"

#include <fmt/format.h>

#include "backends/libvirt/domain_state.hpp"

namespace vm_manager::libvirt {

VmState domain_state(const Connection& connection, virDomainPtr domain) {
  int state = 0;
  int reason = 0;
  if (api().virDomainGetState(domain, &state, &reason, 0) < 0) {
    // Not virDomainGetName here: every libvirt call clears the last error first.
    connection.fail("read a domain's state");
  }
  return vm_state_from(state, reason);
}

LifecycleWait::LifecycleWait(std::shared_ptr<Connection> connection, virDomainPtr domain)
    : connection_(std::move(connection)), domain_(domain) {
  auto* reference = new std::shared_ptr<Events>(events_);
  callback_id_ = api().virConnectDomainEventRegisterAny(
      connection_->get(), domain_, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_event), reference,
      [](void* opaque) { delete static_cast<std::shared_ptr<Events>*>(opaque); });
  if (callback_id_ < 0) {
    delete reference;
    connection_->fail("listen to lifecycle events");
  }
}

LifecycleWait::~LifecycleWait() {
  api().virConnectDomainEventDeregisterAny(connection_->get(), callback_id_);
}

int LifecycleWait::on_event(virConnectPtr, virDomainPtr, int, int, void* opaque) {
  Events& events = **static_cast<std::shared_ptr<Events>*>(opaque);
  {
    std::lock_guard lock(events.mutex);
    ++events.count;
  }
  events.changed.notify_all();
  return 0;
}

bool LifecycleWait::until(const std::function<bool(VmState)>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    unsigned seen = 0;
    {
      std::lock_guard lock(events_->mutex);
      seen = events_->count;
    }
    if (done(domain_state(*connection_, domain_))) return true;
    std::unique_lock lock(events_->mutex);
    if (!events_->changed.wait_until(lock, deadline, [&] { return events_->count != seen; })) return false;
  }
}

}  // namespace vm_manager::libvirt

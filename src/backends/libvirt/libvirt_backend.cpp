#include "backends/libvirt/libvirt_backend.hpp"

#include <fmt/format.h>

#include "backends/libvirt/domain_xml.hpp"
#include "backends/libvirt/lifecycle.hpp"
#include "backends/libvirt/storage.hpp"
#include "backends/libvirt/vm_record.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::libvirt {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void invalid_state(const VmHandle& handle, std::string_view verb, VmState state) {
  throw Error(errc::vm_invalid_state, fmt::format("cannot {} VM '{}': it is {}", verb, handle.name, to_string(state)),
              "check the VM's state first");
}

bool is_live(VmState state) { return state == VmState::running || state == VmState::suspended; }

// virDomainDestroy, where a domain that went down by itself meanwhile (a
// guest that powered off, a daemon that restarted) is what was wanted.
void force_off(const Connection& connection, virDomainPtr domain, const std::string& name) {
  if (api().virDomainDestroy(domain) >= 0) return;
  try {
    connection.fail(fmt::format("stop domain '{}'", name));
  } catch (const Error&) {
    // Asked after reading libvirt's error: every call clears it.
    if (is_live(domain_state(connection, domain))) throw;
  }
}

}  // namespace

LibvirtBackend::LibvirtBackend(DataDir data_dir, LibvirtConfig config)
    : data_dir_(std::move(data_dir)), config_(std::move(config)) {}

std::shared_ptr<Connection> LibvirtBackend::connect(const std::string& uri) const {
  const LibvirtUri parsed = parse_uri(uri);
  {
    std::lock_guard lock(connections_mutex_);
    auto cached = connections_.find(uri);
    // A connection whose host went away (keepalive, a closed socket) is not alive.
    if (cached != connections_.end() && api().virConnectIsAlive(cached->second->get()) == 1) return cached->second;
    api().virResetLastError();
  }
  // Opened unlocked: hosts asked at once (describe_hosts) do not wait for
  // one that does not answer.
  auto opened = Connection::open(parsed, config_.connect_timeout);
  std::lock_guard lock(connections_mutex_);
  connections_[uri] = opened;
  return opened;
}

std::shared_ptr<Connection> LibvirtBackend::connect(const VmHandle& handle) const {
  return connect(read_record(handle).uri);
}

Domain LibvirtBackend::own_domain(const Connection& connection, const VmHandle& handle) const {
  Domain domain = connection.find_domain(handle.name);
  if (!domain) return nullptr;
  const std::string ns(kMetadataNamespace);
  char* metadata = api().virDomainGetMetadata(domain.get(), VIR_DOMAIN_METADATA_ELEMENT, ns.c_str(), 0);
  bool ours = metadata_names(metadata, handle.id);
  free(metadata);  // NOLINT: libvirt hands out malloc'd strings
  api().virResetLastError();  // no metadata is an answer here, not a failure
  if (!ours) {
    config_.log.warn("domain '{}' on {} is not vmctl's VM {} (its metadata differs): left alone", handle.name,
                     connection.uri().text, handle.id);
    return nullptr;
  }
  return domain;
}

Domain LibvirtBackend::require_domain(const Connection& connection, const VmHandle& handle,
                                      std::string_view verb) const {
  Domain domain = own_domain(connection, handle);
  if (!domain) invalid_state(handle, verb, VmState::destroyed);
  return domain;
}

VmHandle LibvirtBackend::start(const VmHandle& handle) {
  auto connection = connect(handle);
  Domain domain = require_domain(*connection, handle, "start");
  VmState now = domain_state(*connection, domain.get());
  if (is_live(now)) invalid_state(handle, "start", now);
  if (api().virDomainCreate(domain.get()) < 0) {
    connection->fail(fmt::format("start domain '{}'", handle.name),
                     "see the domain's log on that host (/var/log/libvirt/qemu/NAME.log)");
  }
  return handle;
}

VmHandle LibvirtBackend::stop(const VmHandle& handle, std::chrono::milliseconds timeout) {
  auto connection = connect(handle);
  Domain domain = own_domain(*connection, handle);
  if (!domain) invalid_state(handle, "stop", VmState::destroyed);
  VmState now = domain_state(*connection, domain.get());
  if (!is_live(now)) return handle;
  LifecycleWait wait(connection, domain.get());
  // A paused guest cannot answer ACPI: it goes down at once.
  if (now == VmState::running && timeout.count() > 0) {
    if (api().virDomainShutdown(domain.get()) < 0) {
      config_.log.warn("VM '{}': ACPI shutdown refused ({}); stopping it at once", handle.name, last_error_message());
    } else if (wait.until([](VmState s) { return !is_live(s); }, timeout)) {
      return handle;
    }
  }
  force_off(*connection, domain.get(), handle.name);
  return handle;
}

VmHandle LibvirtBackend::suspend(const VmHandle& handle) {
  auto connection = connect(handle);
  Domain domain = require_domain(*connection, handle, "suspend");
  VmState now = domain_state(*connection, domain.get());
  if (now != VmState::running) invalid_state(handle, "suspend", now);
  if (api().virDomainSuspend(domain.get()) < 0) connection->fail(fmt::format("suspend domain '{}'", handle.name));
  return handle;
}

VmHandle LibvirtBackend::resume(const VmHandle& handle) {
  auto connection = connect(handle);
  Domain domain = require_domain(*connection, handle, "resume");
  VmState now = domain_state(*connection, domain.get());
  if (now != VmState::suspended) invalid_state(handle, "resume", now);
  if (api().virDomainResume(domain.get()) < 0) connection->fail(fmt::format("resume domain '{}'", handle.name));
  return handle;
}

void LibvirtBackend::remove_from_host(const VmHandle& handle) const {
  const VmRecord record = read_record(handle);
  auto connection = connect(record.uri);
  if (Domain domain = own_domain(*connection, handle)) {
    if (is_live(domain_state(*connection, domain.get()))) force_off(*connection, domain.get(), handle.name);
    // Only the flags that apply: a driver may refuse one it has no use for.
    unsigned flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
    if (record.uefi) flags |= VIR_DOMAIN_UNDEFINE_NVRAM;
    if (api().virDomainUndefineFlags(domain.get(), flags) < 0) {
      connection->fail(fmt::format("undefine domain '{}'", handle.name));
    }
  }
  Storage storage(connection, record.pool);
  for (const std::string& volume : {overlay_volume(handle.id), seed_volume(handle.id), kernel_volume(handle.id),
                                    initrd_volume(handle.id), console_log_volume(handle.id)}) {
    storage.remove(volume);
  }
}

void LibvirtBackend::destroy(VmHandle handle) {
  if (handle.work_dir.empty() || !fs::exists(fs::symlink_status(handle.work_dir))) return;
  remove_from_host(handle);
  data_dir_.remove_inside(handle.work_dir);
}

void LibvirtBackend::destroy_remains(const VmHandle& remains) {
  // Every backend is asked for every lost record: another backend's VM, or a
  // record that names no libvirt host, is not this backend's to clear.
  if (!remains.backend.empty() && remains.backend != kBackendId) return;
  if (remains.backend_state.version != 1 || remains.id.empty()) return;
  if (!remains.backend_state.data.contains("uri")) return;
  remove_from_host(remains);
}

void LibvirtBackend::check_stored_paths(const VmHandle& handle) {
  if (handle.console_log.empty()) return;
  const fs::path log(handle.console_log);
  const std::string pool_path = handle.backend_state.data.value("pool_path", "");
  if (log.filename() != console_log_volume(handle.id) || log.parent_path() != fs::path(pool_path)) {
    throw Error(errc::store_corrupt,
                fmt::format("VM '{}' has its console log at {}, not where this backend keeps it", handle.name,
                            util::printable(handle.console_log)),
                "restore the record from a backup, or destroy the VM");
  }
}

VmState LibvirtBackend::state(const VmHandle& handle) {
  if (handle.work_dir.empty() || !fs::is_directory(handle.work_dir)) return VmState::destroyed;
  auto connection = connect(handle);
  Domain domain = own_domain(*connection, handle);
  if (!domain) return VmState::destroyed;
  return domain_state(*connection, domain.get());
}

ConsoleEndpoint LibvirtBackend::console_endpoint(const VmHandle&) { return BackendConsole{}; }

nlohmann::json LibvirtBackend::describe(const VmHandle& handle) {
  return {{"uri", handle.backend_state.data.value("uri", "")}, {"domain", handle.name}};
}

}  // namespace vm_manager::libvirt

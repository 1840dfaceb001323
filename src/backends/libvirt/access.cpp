// Reaching a libvirt VM and its host: the guest's address, the serial
// console (a libvirt stream bridged to a socket) and what a host reports.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "backends/libvirt/domain_xml.hpp"
#include "backends/libvirt/lifecycle.hpp"
#include "backends/libvirt/libvirt_backend.hpp"
#include "backends/libvirt/storage.hpp"
#include "backends/libvirt/vm_record.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::libvirt {
namespace {

// The first IPv4 address (else IPv6) libvirt knows from `source`; empty when none.
std::string address_from(virDomainPtr domain, unsigned source) {
  virDomainInterfacePtr* interfaces = nullptr;
  int count = api().virDomainInterfaceAddresses(domain, &interfaces, source, 0);
  if (count < 0) {
    api().virResetLastError();  // a source this host lacks is no failure: try the next
    return "";
  }
  std::string v4;
  std::string v6;
  for (int i = 0; i < count; ++i) {
    for (unsigned a = 0; a < interfaces[i]->naddrs; ++a) {
      const virDomainIPAddress& address = interfaces[i]->addrs[a];
      if (address.addr == nullptr) continue;
      if (address.type == VIR_IP_ADDR_TYPE_IPV4 && v4.empty()) v4 = address.addr;
      if (address.type == VIR_IP_ADDR_TYPE_IPV6 && v6.empty()) v6 = address.addr;
    }
    api().virDomainInterfaceFree(interfaces[i]);
  }
  free(interfaces);  // NOLINT: libvirt's allocation
  return v4.empty() ? v6 : v4;
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Copies the console stream to `fd` and `fd` to the stream until either
// ends; then closes both. Owns the connection, so it outlives the call.
void bridge(std::shared_ptr<Connection> connection, Stream stream, int fd) {
  virStreamPtr s = stream.get();
  std::thread to_stream([s, fd] {
    char buffer[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || api().virStreamSend(s, buffer, static_cast<std::size_t>(n)) < 0) break;
    }
    // Wake the reader below: the stream ends for both directions.
    api().virStreamAbort(s);
  });
  char buffer[4096];
  for (;;) {
    int n = api().virStreamRecv(s, buffer, sizeof buffer);
    if (n <= 0 || !write_all(fd, buffer, static_cast<std::size_t>(n))) break;
  }
  ::shutdown(fd, SHUT_RDWR);  // ends the writer's recv
  to_stream.join();
  ::close(fd);
  stream.reset();
  connection.reset();
}

}  // namespace

std::string LibvirtBackend::guest_ip(const VmHandle& handle) {
  if (!handle.ssh_host.empty()) return handle.ssh_host;  // a static address
  auto connection = connect(handle);
  Domain domain = require_domain(*connection, handle, "find the address of");
  VmState now = domain_state(*connection, domain.get());
  if (now != VmState::running) {
    throw Error(errc::vm_invalid_state, fmt::format("VM '{}' is {}, not running", handle.name, to_string(now)),
                "start the VM first");
  }
  // libvirt raises no event when a lease is granted, so this one wait looks
  // again, a few times a second, until the guest has asked DHCP (it
  // may still be booting) or stops running.
  const auto deadline = std::chrono::steady_clock::now() + config_.guest_ip_timeout;
  for (;;) {
    for (unsigned source : {VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP}) {
      std::string address = address_from(domain.get(), source);
      if (!address.empty()) return address;
    }
    if (std::chrono::steady_clock::now() >= deadline || domain_state(*connection, domain.get()) != VmState::running) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  throw Error(errc::vm_invalid_state,
              fmt::format("VM '{}' has no address after {} s", handle.name,
                          std::chrono::duration_cast<std::chrono::seconds>(config_.guest_ip_timeout).count()),
              "check that the guest asks its network's DHCP server for one (its console log shows its boot)");
}

ConsoleHistory LibvirtBackend::console_history(const VmHandle& handle) {
  const VmRecord record = read_record(handle);
  auto connection = connect(record.uri);
  Storage storage(connection, record.pool);
  return {storage.download(console_log_volume(handle.id)), BackendConsole{}};
}

int LibvirtBackend::open_console(const VmHandle& handle) {
  auto connection = connect(handle);
  Domain domain = own_domain(*connection, handle);
  if (!domain || domain_state(*connection, domain.get()) != VmState::running) {
    throw Error(errc::console_unavailable, fmt::format("VM '{}' does not run: it has no console", handle.name),
                "start the VM first");
  }
  Stream stream(api().virStreamNew(connection->get(), 0));
  if (!stream) connection->fail("open a stream");
  if (api().virDomainOpenConsole(domain.get(), nullptr, stream.get(), 0) < 0) {
    connection->fail(fmt::format("open the console of domain '{}'", handle.name),
                     "another client may hold the console (virsh console): close it first");
  }
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw Error(errc::console_unavailable, fmt::format("cannot make a socket pair: {}", std::strerror(errno)),
                "check the process's open file limit");
  }
  std::thread(bridge, std::move(connection), std::move(stream), fds[1]).detach();
  return fds[0];
}

HostInfo LibvirtBackend::describe_host(const HostSpec& host) {
  const Placement place = placement_from(host.options, config_);
  HostInfo info;
  info.name = host.name;
  info.backend = std::string(kBackendId);
  info.address = place.uri;
  std::shared_ptr<Connection> connection;
  try {
    connection = connect(place.uri);
  } catch (const Error& e) {
    if (e.code() != errc::backend_unreachable && e.code() != errc::libvirt_failed) throw;
    info.error = e.message();
    return info;
  }
  virNodeInfo node{};
  if (api().virNodeGetInfo(connection->get(), &node) < 0) connection->fail("read the host's CPUs and memory");
  info.reachable = true;
  info.cpus = node.cpus;
  info.memory_mb = node.memory / 1024;
  unsigned long long free_bytes = api().virNodeGetFreeMemory(connection->get());
  if (free_bytes == 0 && last_error_code() != 0) connection->fail("read the host's free memory");
  info.free_memory_mb = free_bytes / (1024 * 1024);
  virDomainPtr* domains = nullptr;
  int count = api().virConnectListAllDomains(connection->get(), &domains, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (count < 0) connection->fail("list the host's domains");
  const std::string ns(kMetadataNamespace);
  for (int i = 0; i < count; ++i) {
    Domain domain(domains[i]);
    char* metadata = api().virDomainGetMetadata(domain.get(), VIR_DOMAIN_METADATA_ELEMENT, ns.c_str(), 0);
    if (metadata != nullptr && metadata_vm_id(metadata)) info.running_vms.emplace_back(api().virDomainGetName(domain.get()));
    free(metadata);  // NOLINT: libvirt hands out malloc'd strings
  }
  free(domains);  // NOLINT: libvirt's allocation
  api().virResetLastError();
  return info;
}

}  // namespace vm_manager::libvirt

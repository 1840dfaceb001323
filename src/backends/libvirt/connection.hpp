// A connection to one libvirt host, and owning pointers to what it hands
// out (domains, pools, volumes, streams). Every libvirt failure leaves here
// as a vm_manager::Error carrying libvirt's own words.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "backends/libvirt/libvirt_api.hpp"
#include "backends/libvirt/uri.hpp"

namespace vm_manager::libvirt {

struct DomainFree {
  void operator()(virDomainPtr d) const { api().virDomainFree(d); }
};
struct PoolFree {
  void operator()(virStoragePoolPtr p) const { api().virStoragePoolFree(p); }
};
struct VolFree {
  void operator()(virStorageVolPtr v) const { api().virStorageVolFree(v); }
};
struct StreamFree {
  void operator()(virStreamPtr s) const { api().virStreamFree(s); }
};
using Domain = std::unique_ptr<virDomain, DomainFree>;
using Pool = std::unique_ptr<virStoragePool, PoolFree>;
using Vol = std::unique_ptr<virStorageVol, VolFree>;
using Stream = std::unique_ptr<virStream, StreamFree>;

// libvirt's message for the last failure of this thread ("unknown error"
// when it recorded none), and its error code (VIR_ERR_*, 0 when none).
std::string last_error_message();
int last_error_code();

class Connection {
 public:
  // Opens `uri` within `deadline`, with keepalive. Raises
  // backend::unreachable naming the URI when the host does not answer in
  // time or refuses, libvirt::failed for other refusals (a bad driver name).
  static std::shared_ptr<Connection> open(const LibvirtUri& uri, std::chrono::milliseconds deadline);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  virConnectPtr get() const { return connection_; }
  const LibvirtUri& uri() const { return uri_; }

  // Raises the Error for the failure libvirt just reported doing `what`
  // ("define domain 'web'"): backend::unreachable when the connection
  // broke, libvirt::failed otherwise, with `hint` (a default one if empty).
  [[noreturn]] void fail(std::string_view what, std::string_view hint = {}) const;

  // The domain named `name`, or null when there is none.
  Domain find_domain(const std::string& name) const;

 private:
  Connection(LibvirtUri uri, virConnectPtr connection) : uri_(std::move(uri)), connection_(connection) {}

  LibvirtUri uri_;
  virConnectPtr connection_;
};

}  // namespace vm_manager::libvirt

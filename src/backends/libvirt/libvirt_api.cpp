#include "backends/libvirt/libvirt_api.hpp"

#include <string>
#include <thread>

#include <fmt/format.h>

#include "os/shared_library.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::libvirt {
namespace {

[[noreturn]] void unavailable(const std::string& why) {
  throw Error(errc::backend_not_available, fmt::format("cannot use libvirt: cannot load libvirt ({})", why),
              "install libvirt0 (apt-get install libvirt0): the libvirt backend loads it when first used");
}

LibVirt resolve_all(const os::SharedLibrary& library) {
  LibVirt api;
  library.resolve("virConnectClose", api.virConnectClose);
  library.resolve("virConnectDomainEventDeregisterAny", api.virConnectDomainEventDeregisterAny);
  library.resolve("virConnectDomainEventRegisterAny", api.virConnectDomainEventRegisterAny);
  library.resolve("virConnectGetCapabilities", api.virConnectGetCapabilities);
  library.resolve("virConnectIsAlive", api.virConnectIsAlive);
  library.resolve("virConnectListAllDomains", api.virConnectListAllDomains);
  library.resolve("virConnectOpen", api.virConnectOpen);
  library.resolve("virConnectSetKeepAlive", api.virConnectSetKeepAlive);
  library.resolve("virDomainCreate", api.virDomainCreate);
  library.resolve("virDomainDefineXML", api.virDomainDefineXML);
  library.resolve("virDomainDestroy", api.virDomainDestroy);
  library.resolve("virDomainFree", api.virDomainFree);
  library.resolve("virDomainGetMetadata", api.virDomainGetMetadata);
  library.resolve("virDomainGetName", api.virDomainGetName);
  library.resolve("virDomainGetState", api.virDomainGetState);
  library.resolve("virDomainInterfaceAddresses", api.virDomainInterfaceAddresses);
  library.resolve("virDomainInterfaceFree", api.virDomainInterfaceFree);
  library.resolve("virDomainLookupByName", api.virDomainLookupByName);
  library.resolve("virDomainOpenConsole", api.virDomainOpenConsole);
  library.resolve("virDomainResume", api.virDomainResume);
  library.resolve("virDomainShutdown", api.virDomainShutdown);
  library.resolve("virDomainSuspend", api.virDomainSuspend);
  library.resolve("virDomainUndefineFlags", api.virDomainUndefineFlags);
  library.resolve("virEventAddTimeout", api.virEventAddTimeout);
  library.resolve("virEventRegisterDefaultImpl", api.virEventRegisterDefaultImpl);
  library.resolve("virEventRunDefaultImpl", api.virEventRunDefaultImpl);
  library.resolve("virGetLastError", api.virGetLastError);
  library.resolve("virNodeGetFreeMemory", api.virNodeGetFreeMemory);
  library.resolve("virNodeGetInfo", api.virNodeGetInfo);
  library.resolve("virResetLastError", api.virResetLastError);
  library.resolve("virSetErrorFunc", api.virSetErrorFunc);
  library.resolve("virStoragePoolFree", api.virStoragePoolFree);
  library.resolve("virStoragePoolListAllVolumes", api.virStoragePoolListAllVolumes);
  library.resolve("virStoragePoolGetXMLDesc", api.virStoragePoolGetXMLDesc);
  library.resolve("virStoragePoolIsActive", api.virStoragePoolIsActive);
  library.resolve("virStoragePoolLookupByName", api.virStoragePoolLookupByName);
  library.resolve("virStorageVolCreateXML", api.virStorageVolCreateXML);
  library.resolve("virStorageVolDelete", api.virStorageVolDelete);
  library.resolve("virStorageVolDownload", api.virStorageVolDownload);
  library.resolve("virStorageVolFree", api.virStorageVolFree);
  library.resolve("virStorageVolGetName", api.virStorageVolGetName);
  library.resolve("virStorageVolGetPath", api.virStorageVolGetPath);
  library.resolve("virStorageVolLookupByName", api.virStorageVolLookupByName);
  library.resolve("virStorageVolUpload", api.virStorageVolUpload);
  library.resolve("virStreamAbort", api.virStreamAbort);
  library.resolve("virStreamFinish", api.virStreamFinish);
  library.resolve("virStreamFree", api.virStreamFree);
  library.resolve("virStreamNew", api.virStreamNew);
  library.resolve("virStreamRecv", api.virStreamRecv);
  library.resolve("virStreamSend", api.virStreamSend);
  return api;
}

void no_op_timeout(int, void*) {}
void keep_quiet(void*, virErrorPtr) {}

LibVirt load_and_start_event_loop() {
  const os::SharedLibrary library(kLibVirtSoname, unavailable);
  LibVirt api = resolve_all(library);
  // libvirt prints every error to stderr unless told otherwise; vmctl
  // reports the ones that matter itself (virGetLastError).
  api.virSetErrorFunc(nullptr, keep_quiet);
  // The default event loop must exist before the first connection opens, or
  // that connection has no keepalive and delivers no events.
  if (api.virEventRegisterDefaultImpl() < 0) unavailable("virEventRegisterDefaultImpl failed");
  // A timer that never fires lets virEventRunDefaultImpl block in poll()
  // rather than spin when no connection is open yet.
  api.virEventAddTimeout(-1, no_op_timeout, nullptr, nullptr);
  // The loop serves every connection of the process until it exits; it
  // owns no state that needs tearing down (libvirt keeps the loop global).
  std::thread([run = api.virEventRunDefaultImpl] {
    for (;;) run();
  }).detach();
  return api;
}

}  // namespace

const LibVirt& api() {
  static os::LazyLibrary<LibVirt> library(load_and_start_event_loop);
  return library.get();
}

}  // namespace vm_manager::libvirt

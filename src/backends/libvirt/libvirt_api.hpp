// libvirt's functions, resolved from libvirt.so.0 when first needed (see
// os/shared_library.hpp for why it is not linked). Internal to this backend.
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

namespace vm_manager::libvirt {

// The functions the backend uses, each under its own name, with the
// prototype of libvirt's headers. Types and constants come from the headers.
struct LibVirt {
  decltype(&::virConnectClose) virConnectClose = nullptr;
  decltype(&::virConnectDomainEventDeregisterAny) virConnectDomainEventDeregisterAny = nullptr;
  decltype(&::virConnectDomainEventRegisterAny) virConnectDomainEventRegisterAny = nullptr;
  decltype(&::virConnectGetCapabilities) virConnectGetCapabilities = nullptr;
  decltype(&::virConnectIsAlive) virConnectIsAlive = nullptr;
  decltype(&::virConnectListAllDomains) virConnectListAllDomains = nullptr;
  decltype(&::virConnectOpen) virConnectOpen = nullptr;
  decltype(&::virConnectSetKeepAlive) virConnectSetKeepAlive = nullptr;
  decltype(&::virDomainCreate) virDomainCreate = nullptr;
  decltype(&::virDomainDefineXML) virDomainDefineXML = nullptr;
  decltype(&::virDomainDestroy) virDomainDestroy = nullptr;
  decltype(&::virDomainFree) virDomainFree = nullptr;
  decltype(&::virDomainGetMetadata) virDomainGetMetadata = nullptr;
  decltype(&::virDomainGetName) virDomainGetName = nullptr;
  decltype(&::virDomainGetState) virDomainGetState = nullptr;
  decltype(&::virDomainInterfaceAddresses) virDomainInterfaceAddresses = nullptr;
  decltype(&::virDomainInterfaceFree) virDomainInterfaceFree = nullptr;
  decltype(&::virDomainLookupByName) virDomainLookupByName = nullptr;
  decltype(&::virDomainOpenConsole) virDomainOpenConsole = nullptr;
  decltype(&::virDomainResume) virDomainResume = nullptr;
  decltype(&::virDomainShutdown) virDomainShutdown = nullptr;
  decltype(&::virDomainSuspend) virDomainSuspend = nullptr;
  decltype(&::virDomainUndefineFlags) virDomainUndefineFlags = nullptr;
  decltype(&::virEventAddTimeout) virEventAddTimeout = nullptr;
  decltype(&::virEventRegisterDefaultImpl) virEventRegisterDefaultImpl = nullptr;
  decltype(&::virEventRunDefaultImpl) virEventRunDefaultImpl = nullptr;
  decltype(&::virGetLastError) virGetLastError = nullptr;
  decltype(&::virNodeGetFreeMemory) virNodeGetFreeMemory = nullptr;
  decltype(&::virNodeGetInfo) virNodeGetInfo = nullptr;
  decltype(&::virResetLastError) virResetLastError = nullptr;
  decltype(&::virSetErrorFunc) virSetErrorFunc = nullptr;
  decltype(&::virStoragePoolFree) virStoragePoolFree = nullptr;
  decltype(&::virStoragePoolListAllVolumes) virStoragePoolListAllVolumes = nullptr;
  decltype(&::virStoragePoolGetXMLDesc) virStoragePoolGetXMLDesc = nullptr;
  decltype(&::virStoragePoolIsActive) virStoragePoolIsActive = nullptr;
  decltype(&::virStoragePoolLookupByName) virStoragePoolLookupByName = nullptr;
  decltype(&::virStorageVolCreateXML) virStorageVolCreateXML = nullptr;
  decltype(&::virStorageVolDelete) virStorageVolDelete = nullptr;
  decltype(&::virStorageVolDownload) virStorageVolDownload = nullptr;
  decltype(&::virStorageVolFree) virStorageVolFree = nullptr;
  decltype(&::virStorageVolGetName) virStorageVolGetName = nullptr;
  decltype(&::virStorageVolGetPath) virStorageVolGetPath = nullptr;
  decltype(&::virStorageVolLookupByName) virStorageVolLookupByName = nullptr;
  decltype(&::virStorageVolUpload) virStorageVolUpload = nullptr;
  decltype(&::virStreamAbort) virStreamAbort = nullptr;
  decltype(&::virStreamFinish) virStreamFinish = nullptr;
  decltype(&::virStreamFree) virStreamFree = nullptr;
  decltype(&::virStreamNew) virStreamNew = nullptr;
  decltype(&::virStreamRecv) virStreamRecv = nullptr;
  decltype(&::virStreamSend) virStreamSend = nullptr;
};

inline constexpr const char* kLibVirtSoname = "libvirt.so.0";

// libvirt.so.0, loaded on the first call, once, whichever thread comes first;
// libvirt's default event loop is registered then too, and runs in a thread
// of its own from then on (keepalive and lifecycle events need it). Raises
// Error(backend::not_available), on this and every later call, when libvirt
// cannot be loaded.
const LibVirt& api();

}  // namespace vm_manager::libvirt

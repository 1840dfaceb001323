// Shared folders over virtiofs: one virtiofsd (QEMU 7.2's C daemon) per
// folder, serving it on a vhost-user socket beside the VM's QMP socket, to
// which QEMU connects a vhost-user-fs-pci device with the folder's tag.
//
// A virtiofsd exits by itself once QEMU closes its connection (the VM
// stopped or crashed); stop() and a failed start() also kill it by pid and
// start time, and only when it still serves that VM's socket, so none
// outlives its VM.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "backends/qemu/config.hpp"
#include "backends/qemu/host.hpp"
#include "backends/qemu/qemu_vm.hpp"

namespace vm_manager::qemu {

// The tag the guest mounts folder `index` by: cloudinit::shared_folder_tag,
// which the seed's `mounts:` name.
std::string virtiofs_tag(std::size_t index);

// Folder `index`'s vhost-user socket, in the folder of the VM's sockets.
std::filesystem::path virtiofs_socket(const QemuVm& vm, std::size_t index);

// Starts a virtiofsd for each of the VM's shared folders and returns once
// each listens; a read-only folder is served from a read-only bind mount in
// the daemon's own mount namespace, so the host's kernel refuses writes.
// For an ordinary user, we listen on each socket and virtiofsd runs in a
// user namespace of its own mapping uid/gid 0 to ours (QEMU 7.2's virtiofsd
// sandboxes itself with namespaces and locks a socket it makes itself in
// /var/run/virtiofsd). Raises mount::needs_root for an ordinary user where
// user namespaces are disabled, mount::virtiofsd_unavailable without the
// binary, and
// mount::virtiofsd_failed, quoting its log, when one exits or never
// listens; those already started are stopped first.
std::vector<VirtiofsDaemon> start_virtiofsd(const QemuVm& vm, const QemuConfig& config, Host& host);

// SIGTERM, then SIGKILL, to each recorded virtiofsd that still serves this
// VM's socket; removes the sockets.
void stop_virtiofsd(const QemuVm& vm, const QemuConfig& config, Host& host);

}  // namespace vm_manager::qemu

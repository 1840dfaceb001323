// Which process is a VM's QEMU. A record's pid and start time say which
// process to look at and rule out a reused pid, but a record is data that
// whoever can write it may forge: it could name any process a root vmctl
// would then kill. So a process counts as a VM's running QEMU, and receives
// a signal, only when it also runs a QEMU binary with the VM's name and its
// pidfile in its command line ("-name guest=NAME,debug-threads=on" and
// "-pidfile WORK_DIR/qemu.pid", as launched): the pidfile tells it from a
// same-named VM's QEMU in another data dir.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "os/proc.hpp"

namespace vm_manager::qemu {

// True when `identity` is QEMU running the VM `name` with `pidfile` (the
// same path, or another spelling of the same file). Its executable must be
// a qemu-system-* binary, or the configured `qemu_binary` itself (a path, or
// a name as PATH finds it: a build under another name such as qemu-kvm).
bool runs_qemu_of(const os::ProcessIdentity& identity, std::string_view name, const std::filesystem::path& pidfile,
                  std::string_view qemu_binary);

// runs_qemu_of as the check a signal to that VM's QEMU must pass.
os::IdentityCheck qemu_of(std::string name, std::filesystem::path pidfile, std::string qemu_binary);

}  // namespace vm_manager::qemu

// Where a VM's sockets live. A unix socket path holds at most 107 bytes, and
// a data dir under a long home folder plus a 63-character VM name can exceed
// that; then the sockets move to a private runtime folder.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace vm_manager::qemu {

// work_dir when its socket paths fit, else <runtime_dir>/vmctl/<id> or
// /tmp/vmctl-<uid>/<id> (created 0700, refused when not ours).
std::filesystem::path socket_dir_for(const std::filesystem::path& work_dir, const std::string& vm_id,
                                     const std::optional<std::filesystem::path>& runtime_dir);

// The folders socket_dir_for() may have chosen for the VM, whatever the
// runtime dir was then: the work dir, <runtime_dir>/vmctl/<id> and
// /tmp/vmctl-<uid>/<id>. Creates nothing. A socket path read back from a
// record must lie in one of them.
std::vector<std::filesystem::path> possible_socket_dirs(const std::filesystem::path& work_dir,
                                                        const std::string& vm_id,
                                                        const std::optional<std::filesystem::path>& runtime_dir);

// Unlinks what a killed QEMU leaves behind (QEMU removes its sockets only on
// a clean exit): the sockets given, the VNC socket beside the QMP one, and the
// pidfile, each only when lstat shows a socket or a regular file as expected,
// so a record or a swap can never turn this into deleting something else.
void remove_runtime_leftovers(const std::filesystem::path& qmp_socket, const std::filesystem::path& console_socket,
                              const std::filesystem::path& pidfile);

// Makes what QEMU created by its umask (its sockets and pidfile) 0600 like
// every other file of the VM; each only when lstat shows the expected kind.
void make_runtime_files_private(const std::filesystem::path& qmp_socket, const std::filesystem::path& console_socket,
                                const std::filesystem::path& pidfile);

// Whether `dir` is a folder (not a symlink) of this user that nobody else may
// enter: the only kind of socket folder destroy removes.
bool is_private_dir(const std::filesystem::path& dir);

}  // namespace vm_manager::qemu

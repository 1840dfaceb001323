// libssh's functions, resolved from libssh.so.4 when first needed (see
// os/shared_library.hpp for why it is not linked). Internal to src/ssh/.
#pragma once

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>  // ssh_send_keepalive, which clients may use too
#include <libssh/sftp.h>

namespace vm_manager::ssh {

// The functions src/ssh/ uses, each under its own name, with the prototype
// of libssh's headers (decltype names them without making the linker look
// for them). Types, constants and macros come from the headers as usual.
struct LibSsh {
  decltype(&::ssh_blocking_flush) ssh_blocking_flush = nullptr;
  decltype(&::ssh_channel_close) ssh_channel_close = nullptr;
  decltype(&::ssh_channel_free) ssh_channel_free = nullptr;
  decltype(&::ssh_channel_get_exit_status) ssh_channel_get_exit_status = nullptr;
  decltype(&::ssh_channel_is_closed) ssh_channel_is_closed = nullptr;
  decltype(&::ssh_channel_is_eof) ssh_channel_is_eof = nullptr;
  decltype(&::ssh_channel_new) ssh_channel_new = nullptr;
  decltype(&::ssh_channel_open_forward) ssh_channel_open_forward = nullptr;
  decltype(&::ssh_channel_open_session) ssh_channel_open_session = nullptr;
  decltype(&::ssh_channel_read_nonblocking) ssh_channel_read_nonblocking = nullptr;
  decltype(&::ssh_channel_read_timeout) ssh_channel_read_timeout = nullptr;
  decltype(&::ssh_channel_request_exec) ssh_channel_request_exec = nullptr;
  decltype(&::ssh_channel_send_eof) ssh_channel_send_eof = nullptr;
  decltype(&::ssh_channel_window_size) ssh_channel_window_size = nullptr;
  decltype(&::ssh_channel_write) ssh_channel_write = nullptr;
  decltype(&::ssh_clean_pubkey_hash) ssh_clean_pubkey_hash = nullptr;
  decltype(&::ssh_connect) ssh_connect = nullptr;
  decltype(&::ssh_disconnect) ssh_disconnect = nullptr;
  decltype(&::ssh_free) ssh_free = nullptr;
  decltype(&::ssh_get_error) ssh_get_error = nullptr;
  decltype(&::ssh_get_fd) ssh_get_fd = nullptr;
  decltype(&::ssh_get_openssh_version) ssh_get_openssh_version = nullptr;
  decltype(&::ssh_get_poll_flags) ssh_get_poll_flags = nullptr;
  decltype(&::ssh_get_publickey_hash) ssh_get_publickey_hash = nullptr;
  decltype(&::ssh_get_server_publickey) ssh_get_server_publickey = nullptr;
  decltype(&::ssh_init) ssh_init = nullptr;
  decltype(&::ssh_is_connected) ssh_is_connected = nullptr;
  decltype(&::ssh_key_cmp) ssh_key_cmp = nullptr;
  decltype(&::ssh_key_free) ssh_key_free = nullptr;
  decltype(&::ssh_key_type) ssh_key_type = nullptr;
  decltype(&::ssh_key_type_from_name) ssh_key_type_from_name = nullptr;
  decltype(&::ssh_key_type_to_char) ssh_key_type_to_char = nullptr;
  decltype(&::ssh_new) ssh_new = nullptr;
  decltype(&::ssh_options_set) ssh_options_set = nullptr;
  decltype(&::ssh_pki_export_privkey_base64) ssh_pki_export_privkey_base64 = nullptr;
  decltype(&::ssh_pki_export_pubkey_base64) ssh_pki_export_pubkey_base64 = nullptr;
  decltype(&::ssh_pki_generate) ssh_pki_generate = nullptr;
  decltype(&::ssh_pki_import_privkey_file) ssh_pki_import_privkey_file = nullptr;
  decltype(&::ssh_pki_import_pubkey_base64) ssh_pki_import_pubkey_base64 = nullptr;
  decltype(&::ssh_remove_channel_callbacks) ssh_remove_channel_callbacks = nullptr;
  decltype(&::ssh_send_keepalive) ssh_send_keepalive = nullptr;
  decltype(&::ssh_session_is_known_server) ssh_session_is_known_server = nullptr;
  decltype(&::ssh_set_blocking) ssh_set_blocking = nullptr;
  decltype(&::ssh_set_channel_callbacks) ssh_set_channel_callbacks = nullptr;
  decltype(&::ssh_set_counters) ssh_set_counters = nullptr;
  decltype(&::ssh_string_free_char) ssh_string_free_char = nullptr;
  decltype(&::ssh_userauth_publickey) ssh_userauth_publickey = nullptr;
  decltype(&::ssh_userauth_publickey_auto) ssh_userauth_publickey_auto = nullptr;
  decltype(&::sftp_attributes_free) sftp_attributes_free = nullptr;
  decltype(&::sftp_chmod) sftp_chmod = nullptr;
  decltype(&::sftp_close) sftp_close = nullptr;
  decltype(&::sftp_closedir) sftp_closedir = nullptr;
  decltype(&::sftp_dir_eof) sftp_dir_eof = nullptr;
  decltype(&::sftp_extension_supported) sftp_extension_supported = nullptr;
  decltype(&::sftp_free) sftp_free = nullptr;
  decltype(&::sftp_fstat) sftp_fstat = nullptr;
  decltype(&::sftp_get_error) sftp_get_error = nullptr;
  decltype(&::sftp_init) sftp_init = nullptr;
  decltype(&::sftp_lstat) sftp_lstat = nullptr;
  decltype(&::sftp_mkdir) sftp_mkdir = nullptr;
  decltype(&::sftp_new) sftp_new = nullptr;
  decltype(&::sftp_open) sftp_open = nullptr;
  decltype(&::sftp_opendir) sftp_opendir = nullptr;
  decltype(&::sftp_read) sftp_read = nullptr;
  decltype(&::sftp_readdir) sftp_readdir = nullptr;
  decltype(&::sftp_readlink) sftp_readlink = nullptr;
  decltype(&::sftp_stat) sftp_stat = nullptr;
  decltype(&::sftp_symlink) sftp_symlink = nullptr;
  decltype(&::sftp_unlink) sftp_unlink = nullptr;
  decltype(&::sftp_write) sftp_write = nullptr;
};

inline constexpr const char* kLibSshSoname = "libssh.so.4";

// libssh.so.4, loaded and initialised (ssh_init) on the first call, once,
// whichever thread comes first; later calls return the same table. Raises
// Error(ssh::unavailable), on this and every later call, when it cannot be
// loaded.
const LibSsh& libssh();

// Loads `soname` and resolves the table, without initialising or caching
// anything: libssh()'s work, apart for tests. Raises Error(ssh::unavailable).
LibSsh load_libssh(const char* soname);

}  // namespace vm_manager::ssh

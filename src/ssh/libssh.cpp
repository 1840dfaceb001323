#include "ssh/libssh.hpp"

#include <string>

#include <fmt/format.h>

#include "os/shared_library.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::ssh {
namespace {

[[noreturn]] void unavailable(const std::string& why) {
  throw Error(errc::ssh_unavailable, fmt::format("cannot use SSH: cannot load libssh ({})", why),
              "install libssh-4 (apt-get install libssh-4): SSH keys and access to guests load it when "
              "they are first used");
}

LibSsh load_and_initialise() {
  LibSsh api = load_libssh(kLibSshSoname);
  // libssh's crypto set-up is not thread-safe; LazyLibrary runs this once, first.
  if (api.ssh_init() != SSH_OK) unavailable("ssh_init failed");
  return api;
}

}  // namespace

LibSsh load_libssh(const char* soname) {
  const os::SharedLibrary library(soname, unavailable);
  LibSsh api;
  library.resolve("ssh_blocking_flush", api.ssh_blocking_flush);
  library.resolve("ssh_channel_close", api.ssh_channel_close);
  library.resolve("ssh_channel_free", api.ssh_channel_free);
  library.resolve("ssh_channel_get_exit_status", api.ssh_channel_get_exit_status);
  library.resolve("ssh_channel_is_closed", api.ssh_channel_is_closed);
  library.resolve("ssh_channel_is_eof", api.ssh_channel_is_eof);
  library.resolve("ssh_channel_new", api.ssh_channel_new);
  library.resolve("ssh_channel_open_forward", api.ssh_channel_open_forward);
  library.resolve("ssh_channel_open_session", api.ssh_channel_open_session);
  library.resolve("ssh_channel_read_nonblocking", api.ssh_channel_read_nonblocking);
  library.resolve("ssh_channel_read_timeout", api.ssh_channel_read_timeout);
  library.resolve("ssh_channel_request_exec", api.ssh_channel_request_exec);
  library.resolve("ssh_channel_send_eof", api.ssh_channel_send_eof);
  library.resolve("ssh_channel_window_size", api.ssh_channel_window_size);
  library.resolve("ssh_channel_write", api.ssh_channel_write);
  library.resolve("ssh_clean_pubkey_hash", api.ssh_clean_pubkey_hash);
  library.resolve("ssh_connect", api.ssh_connect);
  library.resolve("ssh_disconnect", api.ssh_disconnect);
  library.resolve("ssh_free", api.ssh_free);
  library.resolve("ssh_get_error", api.ssh_get_error);
  library.resolve("ssh_get_fd", api.ssh_get_fd);
  library.resolve("ssh_get_openssh_version", api.ssh_get_openssh_version);
  library.resolve("ssh_get_poll_flags", api.ssh_get_poll_flags);
  library.resolve("ssh_get_publickey_hash", api.ssh_get_publickey_hash);
  library.resolve("ssh_get_server_publickey", api.ssh_get_server_publickey);
  library.resolve("ssh_init", api.ssh_init);
  library.resolve("ssh_is_connected", api.ssh_is_connected);
  library.resolve("ssh_key_cmp", api.ssh_key_cmp);
  library.resolve("ssh_key_free", api.ssh_key_free);
  library.resolve("ssh_key_type", api.ssh_key_type);
  library.resolve("ssh_key_type_from_name", api.ssh_key_type_from_name);
  library.resolve("ssh_key_type_to_char", api.ssh_key_type_to_char);
  library.resolve("ssh_new", api.ssh_new);
  library.resolve("ssh_options_set", api.ssh_options_set);
  library.resolve("ssh_pki_export_privkey_base64", api.ssh_pki_export_privkey_base64);
  library.resolve("ssh_pki_export_pubkey_base64", api.ssh_pki_export_pubkey_base64);
  library.resolve("ssh_pki_generate", api.ssh_pki_generate);
  library.resolve("ssh_pki_import_privkey_file", api.ssh_pki_import_privkey_file);
  library.resolve("ssh_pki_import_pubkey_base64", api.ssh_pki_import_pubkey_base64);
  library.resolve("ssh_remove_channel_callbacks", api.ssh_remove_channel_callbacks);
  library.resolve("ssh_send_keepalive", api.ssh_send_keepalive);
  library.resolve("ssh_session_is_known_server", api.ssh_session_is_known_server);
  library.resolve("ssh_set_blocking", api.ssh_set_blocking);
  library.resolve("ssh_set_channel_callbacks", api.ssh_set_channel_callbacks);
  library.resolve("ssh_set_counters", api.ssh_set_counters);
  library.resolve("ssh_string_free_char", api.ssh_string_free_char);
  library.resolve("ssh_userauth_publickey", api.ssh_userauth_publickey);
  library.resolve("ssh_userauth_publickey_auto", api.ssh_userauth_publickey_auto);
  library.resolve("sftp_attributes_free", api.sftp_attributes_free);
  library.resolve("sftp_chmod", api.sftp_chmod);
  library.resolve("sftp_close", api.sftp_close);
  library.resolve("sftp_closedir", api.sftp_closedir);
  library.resolve("sftp_dir_eof", api.sftp_dir_eof);
  library.resolve("sftp_extension_supported", api.sftp_extension_supported);
  library.resolve("sftp_free", api.sftp_free);
  library.resolve("sftp_fstat", api.sftp_fstat);
  library.resolve("sftp_get_error", api.sftp_get_error);
  library.resolve("sftp_init", api.sftp_init);
  library.resolve("sftp_lstat", api.sftp_lstat);
  library.resolve("sftp_mkdir", api.sftp_mkdir);
  library.resolve("sftp_new", api.sftp_new);
  library.resolve("sftp_open", api.sftp_open);
  library.resolve("sftp_opendir", api.sftp_opendir);
  library.resolve("sftp_read", api.sftp_read);
  library.resolve("sftp_readdir", api.sftp_readdir);
  library.resolve("sftp_readlink", api.sftp_readlink);
  library.resolve("sftp_stat", api.sftp_stat);
  library.resolve("sftp_symlink", api.sftp_symlink);
  library.resolve("sftp_unlink", api.sftp_unlink);
  library.resolve("sftp_write", api.sftp_write);
  return api;
}

const LibSsh& libssh() {
  static os::LazyLibrary<LibSsh> library(load_and_initialise);
  return library.get();
}

}  // namespace vm_manager::ssh
